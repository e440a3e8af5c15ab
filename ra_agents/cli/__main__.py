"""``python -m ra_agents.cli``: the ``ra-agents`` command."""

import sys

from .commands import main

sys.exit(main())
