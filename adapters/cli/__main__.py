"""`python -m adapters.cli` runs the `iwmo-hub` command."""

from __future__ import annotations

import sys

from adapters.cli import main

sys.exit(main())
