"""Command-line options that several commands share, written once."""

from __future__ import annotations

import argparse

SESSIONS_HELP = "sessions folder (default: $VOICESIM_SESSIONS_DIR or ~/.local/share/voicesim/sessions)"


def add_sessions_dir(parser: argparse.ArgumentParser, help: str = SESSIONS_HELP) -> None:
    parser.add_argument("--sessions-dir", metavar="DIR", help=help)


def add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="PATH", help="Vosk model folder (default: $VOSK_MODEL_PATH or the installed model)")


def add_hub_options(parser: argparse.ArgumentParser) -> None:
    """--hub/--hub-token, shared by practice and sessions push (default: [hub] in ~/.config/voicesim/config.toml)."""
    parser.add_argument("--hub", metavar="URL", help="training-room hub to upload calls to (default: [hub] url in the config file)")
    parser.add_argument("--hub-token", metavar="TOKEN", help="the room's enrolment token from the trainer (default: [hub] token)")


def add_asr_model(parser: argparse.ArgumentParser, applies_to: str) -> None:
    """--asr-model, the Whisper model of transcribe and score (``applies_to`` says when it is used)."""
    from voicesim.second_pass import MODEL_ENV  # only the commands that decode import the second pass

    parser.add_argument(
        "--asr-model", metavar="MODEL",
        help=f"Whisper model {applies_to}: tiny.en or base (installed from PyPI) or a CTranslate2 Whisper "
        f"model folder (default: ${MODEL_ENV}, else tiny.en)",
    )


def add_call_options(parser: argparse.ArgumentParser) -> None:
    """The options of a call on the headset: the Vosk model and the two devices."""
    add_model(parser)
    parser.add_argument("--input", metavar="DEVICE", help="microphone by index or name (voicesim devices)")
    parser.add_argument("--output", metavar="DEVICE", help="earpiece by index or name (voicesim devices)")
