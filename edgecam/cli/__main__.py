"""``python -m edgecam.cli`` (the same as the ``edgecam`` console script)."""

from edgecam.cli import main

raise SystemExit(main())
