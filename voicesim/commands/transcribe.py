"""``voicesim transcribe FILE``: what was said in a recording, optionally with word timings.

    $ voicesim transcribe jfk.flac
    and so my fellow americans as not what your country can do for you ask what you can do for your country
    $ voicesim transcribe jfk.flac --asr whisper      # the second pass: slower, fewer mistakes
    and so my fellow americans ask not what your country can do for you ask what you can do for your country
    $ voicesim transcribe jfk.flac --json
    {"text": "and so my ...", "duration_s": 11.0, "words": [{"word": "and", "start_s": 0.3, "end_s": 0.6, "conf": 1.0}, …
    $ voicesim transcribe room-tone.wav
    voicesim: error: no speech found in room-tone.wav (3.0 s, peak -66.0 dBFS); check that it holds speech ...
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from voicesim.audio import Audio
from voicesim.audiofile import load_audio
from voicesim.commands.options import add_asr_model
from voicesim.errors import VoicesimError
from voicesim.second_pass import ENGINES, transcribe_with

NO_SPEECH_EXIT = 1
"""Exit code when the file is readable but holds no recognizable words."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "transcribe",
        help="print the words spoken in an audio file",
        description="Transcribe a WAV, FLAC, OGG or MP3 file (any rate, sample width or channel count) "
        "with the offline Vosk model.",
    )
    parser.add_argument("file", metavar="FILE", help="audio file to transcribe")
    parser.add_argument(
        "--lang",
        metavar="CODE",
        default="en",
        help="language of the speech: en or de (models pinned in models/manifest.toml; default: en)",
    )
    parser.add_argument("--model", metavar="PATH", help="Vosk model folder (default: the installed model for --lang)")
    parser.add_argument(
        "--asr", choices=ENGINES, default="vosk",
        help="vosk (the live call's recognizer, default) or whisper (the second pass: slower, fewer mistakes; "
        "needs pip install 'voicesim[whisper]')",
    )
    add_asr_model(parser, "for --asr whisper")
    parser.add_argument(
        "--json", action="store_true", help="print text, duration and per-word start/end/confidence as JSON"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_engine_models(args)
    audio = load_audio(args.file)
    transcript = transcribe_with(args.asr, audio, args.lang, vosk_model=args.model, whisper_model=args.asr_model)
    if not transcript.words:
        raise VoicesimError(
            f"no speech found in {args.file} ({audio.duration_s:.1f} s, peak {_peak_dbfs(audio):.1f} dBFS); "
            f"check that it holds speech in --lang {args.lang} and is not too quiet",
            exit_code=NO_SPEECH_EXIT,
        )
    if args.json:
        print(json.dumps(transcript.to_json_dict(), ensure_ascii=False))
    else:
        print(transcript.text)
    return 0


def check_engine_models(args: argparse.Namespace) -> None:
    """Each engine takes only its own model folder; a mismatch is a mistake worth naming."""
    if args.asr == "whisper" and args.model:
        raise VoicesimError("--model is a Vosk model folder; for --asr whisper give --asr-model MODEL")
    if args.asr == "vosk" and args.asr_model:
        raise VoicesimError("--asr-model is a Whisper model folder; add --asr whisper, or give a Vosk folder as --model")


def _peak_dbfs(audio: Audio) -> float:
    peak = float(np.max(np.abs(audio.samples))) if len(audio.samples) else 0.0
    return 20 * np.log10(max(peak, 1e-6))
