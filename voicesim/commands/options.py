"""Command-line options that several commands share, written once."""

from __future__ import annotations

import argparse

SESSIONS_HELP = "sessions folder (default: $VOICESIM_SESSIONS_DIR or ~/.local/share/voicesim/sessions)"


def add_sessions_dir(parser: argparse.ArgumentParser, help: str = SESSIONS_HELP) -> None:
    parser.add_argument("--sessions-dir", metavar="DIR", help=help)


def add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="PATH", help="Vosk model folder (default: $VOSK_MODEL_PATH or the installed model)")


def add_call_options(parser: argparse.ArgumentParser) -> None:
    """The options of a call on the headset: the Vosk model and the two devices."""
    add_model(parser)
    parser.add_argument("--input", metavar="DEVICE", help="microphone by index or name (voicesim devices)")
    parser.add_argument("--output", metavar="DEVICE", help="earpiece by index or name (voicesim devices)")
