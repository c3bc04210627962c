"""Multi-sentence trainee replies with natural pauses, for the turn detector's tests and scripts/bench_turns.

Each reply is a list of phrases and the silence after each: 300-700 ms between sentences
of one turn, 350-900 ms for a hesitation mid-clause ("... and [um] ..."), as people
pause. Only the end of the reply is the end of the turn; a customer who answers in any
earlier pause makes a false start. Spoken by the test voice (Piper, tests/trainee_voice.py),
each phrase trimmed to its voiced part so the pauses are exactly the ones chosen.
"""

from __future__ import annotations

import numpy as np

from voicesim.audio import Audio
from voicesim.turns import speech_bounds

REPLIES: list[list[tuple[str, float]]] = [
    [("I am so sorry your son's present did not arrive.", 0.5), ("That must be really frustrating.", 0.45),
     ("Could you tell me your order number?", 0.0)],
    [("I understand.", 0.4), ("When did you place the order?", 0.0)],
    [("I can see the order here and", 0.6), ("it left our warehouse on Monday.", 0.55),
     ("Has the tracking changed since then?", 0.0)],
    [("I am really sorry about this.", 0.65), ("I will send a replacement tonight by overnight express.", 0.0)],
    [("Thank you for waiting.", 0.4), ("I have checked with the courier and", 0.7),
     ("the parcel is in their depot.", 0.5), ("Would a delivery tomorrow morning work for you?", 0.0)],
    [("I hear you, and I apologize.", 0.55), ("That should not have happened.", 0.45),
     ("What would be the best outcome for you?", 0.0)],
    [("Let me check that for you.", 0.6), ("The payment went through on the third, so", 0.8),
     ("the refund can go out today.", 0.0)],
    [("I am sorry for the trouble.", 0.35), ("I will send you a written confirmation by email today.", 0.0)],
    [("Okay, so the order number is four five two.", 0.5), ("And the address is still correct, right?", 0.0)],
    [("That sounds really annoying.", 0.6), ("I would like to understand what happened.", 0.4),
     ("Did the courier leave a note?", 0.0)],
    [("I know this has taken far too long.", 0.5), ("Because the first parcel is lost,", 0.55),
     ("we will refund the express fee as well.", 0.0)],
    [("I apologize for the mix-up with your account.", 0.45), ("Is there anything else I can do for you today?", 0.0)],
]
"""Replies as (phrase, silence after it in seconds); the last phrase's silence is the end of the turn."""


THINKING_PAUSE: list[tuple[str, float]] = [
    ("I can see the order here, and", 0.45), ("I will send you a written confirmation today.", 0.0)]
"""A reply with a pause after "and": one turn, not two."""

LENGTH_SCALE = 1.3
"""Piper's pace for these replies: a little slower than its default, as people explain on the phone."""


def render(reply: list[tuple[str, float]], speak, length_scale: float = LENGTH_SCALE) -> tuple[Audio, list[float]]:
    """The reply as one recording (no leading or trailing silence) and where each pause starts, in seconds."""
    pieces, pauses, at = [], [], 0.0
    for text, pause in reply:
        audio = speak(text, length_scale=length_scale)
        bounds = speech_bounds(audio.samples)
        assert bounds is not None, text
        a, b = (int(round(x * audio.sample_rate)) for x in bounds)
        pieces += [audio.samples[a:b], np.zeros(int(round(pause * audio.sample_rate)), dtype=np.float32)]
        at += (b - a) / audio.sample_rate
        pauses.append(at)
        at += pause
    return Audio(np.concatenate(pieces).astype(np.float32)), pauses[:-1]
