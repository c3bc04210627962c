"""The ``voicesim`` command: a thin dispatcher over one module per subcommand.

Each module in :mod:`voicesim.commands` has ``add_parser(subparsers)`` that
registers its sub-parser with ``func=run``; ``run(args) -> int`` does the work.
Problems the user can fix arrive as :class:`VoicesimError` and leave as one line.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from voicesim import __version__
from voicesim.errors import VoicesimError

COMMANDS = (
    "say",
    "transcribe",
    "score",
    "devices",
    "doctor",
    "models",
    "scenarios",
    "practice",
    "sessions",
    "review",
)
"""Sub-command modules under voicesim.commands, in help order."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only`, just that command's module is imported.

    Importing every command would pull numpy, scipy and vosk into even
    `voicesim models fetch`, a second of start-up for nothing.
    """
    parser = argparse.ArgumentParser(
        prog="voicesim",
        description="Offline practice line for call-center trainees.",
    )
    parser.add_argument("--version", action="version", version=f"voicesim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in (only,) if only else COMMANDS:
        importlib.import_module(f"voicesim.commands.{name}").add_parser(sub)
    return parser


def error_line(message: str) -> None:
    print(f"voicesim: error: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(chosen if chosen in COMMANDS else None)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except VoicesimError as exc:
        error_line(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        error_line("interrupted")
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
