"""``python -m edgecam``."""

from edgecam.cli import main

raise SystemExit(main())
