"""The customer's voice: their lines rendered as heard on the phone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from voicesim.audio import SAMPLE_RATE, Audio
from voicesim.scenario import Scenario
from voicesim.turns import speech_bounds

if TYPE_CHECKING:
    from voicesim.call.setup import CallSetup

LINE_GAP_S = 0.25
"""Pause between two lines the customer says in one go (a reaction, then a question)."""


def customer_voice(setup: CallSetup, lines: Sequence[str]) -> Audio:
    """What the customer says, as heard on the phone: each line rendered (and cached) on its own."""
    from voicesim.tts import synthesize

    voice = setup.scenario.voice_settings()
    rendered = [synthesize(text, lang=setup.lang, voice=voice) for text in lines]
    if len(rendered) == 1:
        return rendered[0]
    # espeak pads every line with silence; at the joins it would add up to an unnatural pause.
    parts: list[Audio] = []
    for i, audio in enumerate(rendered):
        bounds = speech_bounds(audio.samples)
        lo, hi = (0.0, audio.duration_s) if bounds is None else bounds
        lo = 0.0 if i == 0 else lo
        hi = audio.duration_s if i == len(rendered) - 1 else hi
        if parts:
            parts.append(Audio.silence(LINE_GAP_S))
        parts.append(Audio(audio.samples[int(lo * SAMPLE_RATE) : int(hi * SAMPLE_RATE)]))
    return Audio.concat(parts)


def texts(reaction_or_line) -> tuple[str, ...]:
    """The separate lines of a CustomerReaction, or of one CustomerLine."""
    lines = getattr(reaction_or_line, "lines", None)
    return tuple(l.text for l in lines) if lines is not None else (reaction_or_line.text,)


def scenario_lines(scenario: Scenario) -> list[str]:
    """Every line the customer might say, the ones a call needs soonest first (voicesim.scenario_voice.likely_order)."""
    from voicesim.scenario_voice import likely_order

    return [line.text for line in likely_order(scenario)]
