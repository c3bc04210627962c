"""The subcommands of ``voicesim``, one module each (voicesim/cli.py dispatches to them)."""
