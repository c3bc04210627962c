"""The ``voicesim`` command: a thin dispatcher over one module per subcommand.

Each module in :mod:`voicesim.commands` has ``add_parser(subparsers)`` that
registers its sub-parser with ``func=run``; ``run(args) -> int`` does the work.
Problems the user can fix arrive as :class:`VoicesimError` and leave as one line.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import signal
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
    "pack",
    "rescore",
    "review",
    "hub",
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


TEXT_ARGS = ("trainee", "text", "scenario", "lang", "persona", "input", "output")
"""Options that carry words, not paths: undecodable bytes in them become U+FFFD (paths keep theirs, to be found)."""
HANGUP_SIGNALS = ("SIGTERM", "SIGHUP")
"""A closed terminal or a logout ends a call the way Ctrl-C does: the session is finalized, not left in progress."""


class Hangup(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived; handled wherever Ctrl-C is."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def error_line(message: str) -> None:
    from voicesim.safetext import printable

    print(f"voicesim: error: {printable(message)}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(chosen if chosen in COMMANDS else None)
    args = parser.parse_args(argv)
    _clean_text_args(args)
    restore = _hang_up_like_ctrl_c()
    try:
        return int(args.func(args) or 0)
    except VoicesimError as exc:
        error_line(str(exc))
        return exc.exit_code
    except Hangup as exc:
        error_line(f"stopped by {signal.Signals(exc.signum).name}; anything recorded so far is saved")
        return 128 + exc.signum
    except KeyboardInterrupt:
        error_line("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        if exc.errno != errno.EIO:
            raise
        return 128 + signal.SIGHUP  # the terminal is gone (SIGHUP): the session was saved before the last print
    finally:
        restore()


def _clean_text_args(args: argparse.Namespace) -> None:
    from voicesim.safetext import from_argv, printable

    for name in TEXT_ARGS:
        value = getattr(args, name, None)
        if isinstance(value, str):
            # A trainee name lands in tables and folder names, a reply is echoed: no control characters either.
            setattr(args, name, printable(value) if name in ("trainee", "text") else from_argv(value))


def _hang_up_like_ctrl_c():
    """Turn SIGTERM/SIGHUP into Hangup (a KeyboardInterrupt); returns a function that undoes it."""
    def raise_hangup(signum, frame):
        raise Hangup(signum)

    old = {}
    try:
        for name in HANGUP_SIGNALS:
            sig = getattr(signal, name, None)
            if sig is not None:
                old[sig] = signal.signal(sig, raise_hangup)
    except ValueError:
        pass  # not the main thread (main() called from a worker): leave signals alone

    def restore() -> None:
        for sig, handler in old.items():
            signal.signal(sig, handler)

    return restore


if __name__ == "__main__":
    raise SystemExit(main())
