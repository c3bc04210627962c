"""A scenario's lines as the trainee hears them: each line's anger and kind, rendered ahead or out to files.

>>> from voicesim.scenario import find_scenario
>>> from voicesim.scenario_voice import spoken_lines
>>> first = spoken_lines(find_scenario("late-delivery"))[0]
>>> first.kind, first.anger, first.slot
('opening', 'calm', 'opening.calm[1]')

Opening and stage lines are written per anger level and take that level; reactions,
endings and fact answers take the level ``[line_anger]`` in voicesim/data/voices.toml
gives them (a blame reaction is angry, a resolved ending calm). The voice settings of a
scenario carry this table, so :func:`voicesim.tts.synthesize` styles and caches each
line without the call passing anything but the text.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from voicesim.audio import SAMPLE_RATE
from voicesim.errors import VoicesimError
from voicesim.scenario import ANGER_LEVELS, Scenario

TSV_NAME = "lines.tsv"
TSV_COLUMNS = ("file", "text", "anger", "kind")
CALL_ORDER = ("opening", "reaction", "stages.opening", "stages.details", "fact", "stages.solution",
              "stages.closing", "ending")
"""When a call needs each kind of line: facts are asked for in the details stage, endings come last."""
SLOW_ENGINES = ("piper",)
"""Engines too slow to render a line while the customer is due to answer (espeak-ng takes ~0.15 s, Piper ~1 s)."""
PIPER_LINE_S = 0.8
"""Seconds Piper takes per scenario line on a 2-core PC, for the estimate before a first call (BENCHMARKS.md)."""


@dataclass(frozen=True)
class SpokenLine:
    """One line the customer of a scenario can say."""

    text: str
    anger: str
    """calm, annoyed or angry: how the line is spoken."""
    kind: str
    """opening, stage, reaction, ending or fact."""
    slot: str
    """Where the line stands in the scenario file, e.g. "stages.details.angry[2]"."""


def spoken_lines(scenario: Scenario) -> list[SpokenLine]:
    """Every line of `scenario`, in file order, each text once (the first slot that has it)."""
    from voicesim.tts import line_anger

    out: list[SpokenLine] = []
    for level, lines in scenario.opening.items():
        out += _numbered(lines, level, "opening", f"opening.{level}")
    for stage, levels in scenario.stages.items():
        for level, lines in levels.items():
            out += _numbered(lines, level, "stage", f"stages.{stage}.{level}")
    for name, lines in scenario.reactions.items():
        out += _numbered(lines, line_anger(f"reactions.{name}"), "reaction", f"reactions.{name}")
    for name, lines in scenario.endings.items():
        out += _numbered(lines, line_anger(f"endings.{name}"), "ending", f"endings.{name}")
    out += _numbered([f.answer for f in scenario.facts], line_anger("facts"), "fact", "facts")
    seen: set[str] = set()
    unique = []
    for line in out:
        if line.text not in seen:
            seen.add(line.text)
            unique.append(line)
    return unique


def likely_order(scenario: Scenario) -> list[SpokenLine]:
    """Every line of `scenario`, the ones a call needs soonest first.

    The opening at the start anger comes first, then the reactions (every answer starts
    with one), then each stage's lines in the order the call reaches the stages, the
    levels nearest the start anger first, the fact answers after the details stage, and
    the endings; openings at other anger levels only serve another difficulty, so last.
    """
    from voicesim.customer_rules import load_rules

    start = ANGER_LEVELS.index(load_rules().level(scenario.start_anger))

    def rank(line: SpokenLine) -> tuple[int, int]:
        distance = abs(ANGER_LEVELS.index(line.anger) - start)
        if line.kind == "opening" and distance:
            return len(CALL_ORDER), distance
        group = ".".join(line.slot.split(".")[:2]) if line.kind == "stage" else line.kind
        return CALL_ORDER.index(group), distance

    return sorted(spoken_lines(scenario), key=rank)


def voice_settings(scenario: Scenario):
    """The persona's ``voicesim.tts.VoiceSettings``, with the anger level of every scenario line."""
    from voicesim.tts import VoiceSettings

    v = scenario.persona.voice
    lines = tuple((line.text, line.anger) for line in spoken_lines(scenario))
    return VoiceSettings(rate=v.rate, pitch=v.pitch, volume=v.volume, variant=v.variant, lang=scenario.lang,
                         engine=v.engine, semitones=v.semitones, pace=v.pace, lines=lines)


def unrendered(scenario: Scenario) -> list[SpokenLine]:
    """The lines of `scenario` not in the disk cache yet, soonest needed first."""
    from voicesim import line_cache
    from voicesim.tts import line_cache_key

    voice = voice_settings(scenario)
    return [line for line in likely_order(scenario) if not line_cache.is_cached(line_cache_key(line.text, voice))]


def prepare(scenario: Scenario, progress: bool = True) -> tuple[int, int]:
    """Render every line of `scenario` into the disk cache; (lines rendered now, lines already cached)."""
    from tqdm import tqdm

    from voicesim.tts import synthesize

    voice = voice_settings(scenario)
    missing = unrendered(scenario)
    for line in tqdm(missing, desc=scenario.id, unit="line", disable=not progress, leave=True):
        synthesize(line.text, lang=scenario.lang, voice=voice, phone_line=False)
    return len(missing), len(spoken_lines(scenario)) - len(missing)


def prepare_for_call(scenario: Scenario, notice: Callable[[str], None], progress: bool = True) -> int:
    """Before a live call: render the lines a slow engine has not rendered yet; returns how many.

    Why before and not during the call: a Piper line not yet rendered when the customer
    must answer costs the answer about a second (more while the trainee's speech is being
    recognised on a 2-core PC), and a voice that switches to espeak-ng mid-call is worse.
    Once per scenario and voice; later calls find every line on disk and start at once.
    """
    from voicesim.tts import resolved_engine

    if resolved_engine(voice_settings(scenario)) not in SLOW_ENGINES:
        return 0  # espeak-ng renders a line faster than the customer is due to answer
    missing = unrendered(scenario)
    if missing:
        notice(f"First call of {scenario.id} in this voice: rendering its {len(missing)} lines once "
               f"(about {len(missing) * PIPER_LINE_S:.0f} s; later calls start at once, Ctrl-C keeps what is done).")
        prepare(scenario, progress=progress)
    return len(missing)


def render_scenario(scenario: Scenario, out: Path, phone_line: bool = True, progress: bool = True) -> list[Path]:
    """Write every line as the trainee hears it to `out` (one 16-bit WAV each) and `out`/lines.tsv."""
    from tqdm import tqdm

    from voicesim.tts import synthesize

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VoicesimError(f"cannot create the folder {out}: {exc.strerror or exc}; give a writable --out folder") from None
    voice = voice_settings(scenario)
    rows, written = [], []
    lines = spoken_lines(scenario)
    for n, line in enumerate(tqdm(lines, desc=scenario.id, unit="line", disable=not progress), 1):
        audio = synthesize(line.text, lang=scenario.lang, voice=voice, phone_line=phone_line)
        name = f"{n:03d}-{line.kind}-{line.anger}.wav"
        sf.write(out / name, audio.samples, SAMPLE_RATE, subtype="PCM_16")
        rows.append((name, line.text, line.anger, line.kind))
        written.append(out / name)
    with open(out / TSV_NAME, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(TSV_COLUMNS)
        writer.writerows(rows)
    return written


def _numbered(lines, anger: str, kind: str, slot: str) -> list[SpokenLine]:
    if anger not in ANGER_LEVELS:
        raise VoicesimError(f"{slot} lines have anger {anger!r} in voicesim/data/voices.toml [line_anger]; "
                            f"use one of {', '.join(ANGER_LEVELS)}")
    return [SpokenLine(" ".join(text.split()), anger, kind, f"{slot}[{i}]") for i, text in enumerate(lines, 1)]
