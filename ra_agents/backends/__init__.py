"""Backends: where the judge's generations come from."""
