"""Run mypy on the project, naming each file by the module it is installed as.

setuptools installs ``integrations/`` as ``ra_agents.integrations`` and ``graphs/`` as
``ra_agents.graphs`` (``[tool.setuptools] package-dir`` in pyproject.toml). mypy cannot
follow that mapping: the editable install resolves it with an import hook, which mypy
does not run, and from the source tree mypy would call those files ``integrations.*`` and
``graphs.*``, so ``import ra_agents.integrations.langgraph`` would not resolve. This runs
mypy with its usual options (``[tool.mypy]`` in pyproject.toml; extra arguments are
passed on) but renames the sources under a mapped folder to their installed names, so
every file is checked once, under one name, and the imports between them resolve.

Usage: ``.venv/bin/python scripts/typecheck.py [mypy options]``, which checks the files
listed in ``[tool.mypy] files``. It runs from the project root whatever the current
directory; a file named on its own under a mapped folder cannot resolve its package.
"""

from __future__ import annotations

import os
import sys
import time
import tomllib
from pathlib import Path

from mypy import util
from mypy.fscache import FileSystemCache
from mypy.main import process_options, run_build
from mypy.modulefinder import BuildSource

ROOT = Path(__file__).resolve().parent.parent


def renamed_folders() -> dict[str, str]:
    """``{module prefix in the source tree: installed package}`` for each folder setuptools renames."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        package_dir: dict[str, str] = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    return {
        folder.strip("/").replace("/", "."): package
        for package, folder in package_dir.items()
        if package and folder.strip("/").replace("/", ".") != package
    }


def as_installed(source: BuildSource, folders: dict[str, str]) -> BuildSource:
    """The source under the module name it has once installed."""
    for prefix, package in folders.items():
        if source.module == prefix or source.module.startswith(prefix + "."):
            module = package + source.module[len(prefix) :]
            return BuildSource(source.path, module, source.text, source.base_dir, source.followed)
    return source


def main(argv: list[str]) -> int:
    os.chdir(ROOT)  # module names are computed from the project root (explicit_package_bases)
    started = time.time()
    fscache = FileSystemCache()
    sources, options = process_options(argv, stdout=sys.stdout, stderr=sys.stderr, fscache=fscache)
    folders = renamed_folders()
    sources = [as_installed(source, folders) for source in sources]
    _, messages, blockers = run_build(sources, options, fscache, started, sys.stdout, sys.stderr)
    n_errors, n_notes, n_files = util.count_stats(messages)
    formatter = util.FancyFormatter(sys.stdout, sys.stderr, options.hide_error_codes)
    if messages and n_notes < len(messages):  # as mypy's own exit status
        if n_errors:
            print(
                formatter.format_error(
                    n_errors, n_files, len(sources), blockers=blockers, use_color=options.color_output
                )
            )
        return 2 if blockers else 1
    print(formatter.format_success(len(sources), options.color_output))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
