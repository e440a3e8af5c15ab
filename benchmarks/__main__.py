"""``python -m benchmarks NAME [options]`` from the project root (see BENCHMARKS.md)."""

import sys

from .cli import main

sys.exit(main())
