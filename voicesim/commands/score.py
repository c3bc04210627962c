"""``voicesim score``: the scorecard of one reply, typed or recorded.

    $ voicesim score --text "I'm so sorry about that. When did it start?" --lang en
    Scorecard (English, typed text)
      "I'm so sorry about that. When did it start?"
      ✗ understanding      0.00
          tip: Show understanding first: put yourself in the customer's place and say so (...)
      ✓ not_personal       1.00
      ✓ targeted_question  1.00
          "When did"
      ...
      Tone: typed text: tone of voice not measured
      Overall 65/100
    $ voicesim score reply.wav --lang en --json
    {"lang": "en", "transcript": "...", "checks": {...}, "tone": {...}, "overall": 72}

With ``--json`` stdout holds exactly the docs/scorecard.md contract; anything that limits the
card (no speech, another language, an empty reply) is one ``voicesim: note: …`` line
on stderr, and in the terminal card itself without ``--json``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from voicesim.commands.options import add_asr_model
from voicesim.errors import VoicesimError
from voicesim.language import available_languages, load_language
from voicesim.learned import load_judge
from voicesim.scorecard import Scorecard
from voicesim.scoring import score_reply, scorecard_to_json
from voicesim.second_pass import ENGINES, best_engine, transcribe_with
from voicesim.transcript import Transcript

TONE_LINES = (
    ("words_per_minute", "{:.0f} words per minute"),
    ("loudness_dbfs", "{:.1f} dBFS"),
    ("pitch_median_hz", "pitch {:.0f} Hz"),
    ("pitch_range_semitones", "range {:.1f} semitones"),
    ("pause_count", "{} pauses"),
    ("filler_count", "{} fillers"),
)
"""Tone values shown in the terminal card, in order, when measured."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "score",
        help="score one reply (typed with --text, or a recording) against the checklist and for a calm tone",
        description="Score one trainee reply: the five principle checks and the calm-tone check, with evidence, "
        "tips and an overall mark 0-100. Give the reply as --text, or as an audio FILE to transcribe first.",
    )
    parser.add_argument("file", metavar="FILE", nargs="?", help="recorded reply (WAV/FLAC/OGG) to transcribe and score")
    parser.add_argument("--text", metavar="TEXT", help="the reply as typed text (instead of FILE)")
    parser.add_argument("--lang", metavar="CODE", default="en", help="language of the reply: en or de (default: en)")
    parser.add_argument("--model", metavar="PATH", help="Vosk model folder for FILE (default: the installed model)")
    parser.add_argument(
        "--asr", choices=("auto", *ENGINES), default="auto",
        help="who transcribes FILE: whisper (the second pass, fewer mistakes), vosk, or auto (default: whisper when "
        "installed and it hears --lang and no Vosk --model is given, else vosk); a note names the one used",
    )
    add_asr_model(parser, "for an audio FILE")
    parser.add_argument("--json", action="store_true", help="print the scorecard as JSON (the public contract)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if (args.file is None) == (args.text is None):
        raise VoicesimError("give the reply either as --text \"…\" or as an audio FILE (exactly one of them)")
    if args.model and args.file is None:
        raise VoicesimError("--model only applies to an audio FILE; drop it for --text")
    if args.asr_model and args.file is None:
        raise VoicesimError("--asr-model only applies to an audio FILE; drop it for --text")
    pack = load_language(args.lang)
    others = [load_language(code) for code in available_languages() if code != pack.code]
    if args.text is not None:
        card = score_reply(Transcript.from_text(args.text), pack, other_packs=others, judge=load_judge(pack.code))
    else:
        card = _score_file(Path(args.file), args, pack, others)
    if args.json:
        print(scorecard_to_json(card))
        for note in card.notes:
            print(f"voicesim: note: {note}", file=sys.stderr)
    else:
        print(render(card, pack.name, typed=args.text is not None))
    return 0


def _score_file(path: Path, args: argparse.Namespace, pack, others) -> Scorecard:
    # Imported here so `score --text` works without loading Vosk or libsndfile.
    from voicesim.audiofile import load_audio
    from voicesim.commands.transcribe import check_engine_models

    if args.asr == "auto":
        args.asr = "vosk" if args.model else best_engine(pack.code, args.asr_model)
    check_engine_models(args)
    audio = load_audio(path)
    transcript = transcribe_with(args.asr, audio, pack.code, vosk_model=args.model, whisper_model=args.asr_model)
    card = score_reply(transcript, pack, audio=audio, other_packs=others, judge=load_judge(pack.code))
    # A note, not a JSON key: the scorecard contract has exactly its five keys.
    return replace(card, notes=(*card.notes, f"words heard by {args.asr}"))


def render(card: Scorecard, language_name: str, typed: bool) -> str:
    """The scorecard for a terminal: a tick or cross per check, evidence, tips, overall."""
    lines = [f"Scorecard ({language_name}, {'typed text' if typed else 'recording'})"]
    lines.append(f'  "{_shorten(card.transcript)}"' if card.transcript else "  (nothing said)")
    lines += [f"  note: {note}" for note in card.notes]
    for cid, result in card.checks.items():
        mark = "✓" if result.passed else "✗"
        lines.append(f"  {mark} {cid:<18} {result.score:.2f}")
        for ev in result.evidence:
            when = f" ({ev.start_s:.2f}–{ev.end_s:.2f} s)" if ev.start_s is not None and ev.end_s is not None else ""
            quoted = ev.text if cid == "calm_tone" else f'"{_shorten(ev.text)}"'  # calm_tone explains, not quotes
            lines.append(f"      {quoted}{when}")
        if result.tip:
            lines.append(f"      tip: {result.tip}")
    lines.append(f"  Tone: {_tone_line(card)}")
    lines.append(f"  Overall {card.overall}/100")
    return "\n".join(lines)


def _tone_line(card: Scorecard) -> str:
    if not card.tone.get("measured"):
        return str(card.tone.get("reason") or "not measured")
    shown = [fmt.format(card.tone[key]) for key, fmt in TONE_LINES if card.tone.get(key) is not None]
    return ", ".join(shown)


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
