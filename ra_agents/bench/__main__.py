"""``python -m ra_agents.bench``."""

import sys

from .cli import main

sys.exit(main())
