"""``voicesim say TEXT``: hear a line in the customer's voice, or save it as WAV.

    voicesim say "I want my money back!" --persona angry          # on the headset
    voicesim say "Ich warte seit drei Wochen." --lang de --out line.wav
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from voicesim.errors import VoicesimError

FALLBACK_WAV = "voicesim-say.wav"
"""Where the line goes when there is no audio device to play it on."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "say",
        help="speak a line in the customer's voice",
        description="Speak TEXT in the customer's voice (espeak-ng over a telephone line) on the headset, or write it to a WAV file.",
    )
    parser.add_argument("text", metavar="TEXT", help="what the customer says")
    parser.add_argument("--lang", default="en", help="language of TEXT: en or de (voices in voicesim/data/voices.toml; default: en)")
    parser.add_argument("--persona", default="calm", help="how the customer sounds: calm or angry (default: calm)")
    parser.add_argument("--out", metavar="FILE", help="write a 16-bit 16 kHz WAV file instead of playing")
    parser.add_argument("--no-phone", action="store_true", help="skip the telephone-line effect (full-band voice)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so other commands' start-up does not pay for numpy/scipy/espeak.
    from voicesim.audiofile import write_wav
    from voicesim.tts import synthesize

    if args.out is not None and Path(args.out).is_dir():  # before the synthesis: say it at once
        raise VoicesimError(f"--out {args.out} is a folder; give a file name such as {Path(args.out) / 'line.wav'}")
    audio = synthesize(args.text, lang=args.lang, persona=args.persona, phone_line=not args.no_phone)
    if args.out is not None:
        write_wav(args.out, audio)  # refuses '' and unwritable places in one line
        return 0
    from voicesim.devices import NoAudioDeviceError
    from voicesim.headset import Headset

    try:
        Headset(output=None, input=None).play(audio)
    except NoAudioDeviceError as exc:
        path = write_wav(_unused_name(Path(FALLBACK_WAV)), audio)
        print(f"voicesim: no audio device to play on ({exc}); wrote the line to {path.resolve()} instead", file=sys.stderr)


def _unused_name(path: Path) -> Path:
    """`path`, or path-2, path-3, ... : a line said earlier is never overwritten."""
    n = 1
    while path.exists() or path.is_symlink():
        n += 1
        path = path.with_name(f"{Path(FALLBACK_WAV).stem}-{n}{path.suffix}")
    return path
