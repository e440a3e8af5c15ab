"""Backends: where the judge's generations come from."""

__all__: list[str] = []
