"""``python -m optical_inspection`` = the ``optical_inspection`` console script."""

from optical_inspection.cli import main

raise SystemExit(main())
