"""``python -m voicesim``: the same as the ``voicesim`` command."""

from voicesim.cli import main

raise SystemExit(main())
