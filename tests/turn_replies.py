"""Multi-sentence trainee replies with natural pauses, for the turn detector's tests and scripts/bench_turns.

Each reply is a list of phrases and the silence after each: 300-700 ms between sentences
of one turn, 350-900 ms for a hesitation mid-clause ("... and [um] ..."), as people
pause. Only the end of the reply is the end of the turn; a customer who answers in any
earlier pause makes a false start. Spoken by the test voice (Piper, tests/trainee_voice.py),
each phrase trimmed to its voiced part so the pauses are exactly the ones chosen.

:func:`replay` runs the live loop's protocol on a recording faster than real time (every
pause judged on Vosk's words, as the call does); its pause contexts, recorded in
``data/turn_pauses.json`` (``scripts/bench_turns --record``), let the tests replay every
decision in milliseconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from voicesim.audio import SAMPLE_RATE, Audio
from voicesim.transcript import Word
from voicesim.turns import (
    END_OF_TURN,
    FRAME_SAMPLES,
    PAUSE,
    PauseContext,
    TurnDetector,
    TurnEvent,
    TurnEvidence,
    TurnSettings,
    speech_bounds,
    voiced_frames,
)

RECORDED = Path(__file__).parent / "data" / "turn_pauses.json"
"""Pause contexts of every reply set (replay() on them), for the decision tests."""
LEAD_S, TAIL_S = 0.3, 1.5
"""Silence replay() puts before and after a reply: enough for the longest hold to pass."""

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

DEV_REPLIES: list[list[tuple[str, float]]] = [
    [("When did you first notice the problem, so I can check the right delivery?", 0.0)],
    [("I understand.", 0.45), ("Would a refund work for you, or would you prefer a new one?", 0.0)],
    [("I will call the courier right now, and ring you back within the hour.", 0.0)],
    [("I am sorry about that.", 0.5), ("The parcel is at the depot, it can go out tomorrow morning.", 0.0)],
    [("Let me just check.", 0.6), ("So the delivery address is still the same, right?", 0.0)],
    [("I am sorry, that was our mistake.", 0.5), ("What is your order number?", 0.0)],
    [("Can you read me the tracking number, please?", 0.0)],
    [("I completely understand.", 0.4), ("I will email you a written summary of what we agreed today.", 0.0)],
    [("Your replacement will arrive on Friday.", 0.0)],
    [("Thank you for your patience.", 0.5), ("I have found your order, and", 0.6), ("it will arrive on Friday.", 0.0)],
]
"""Replies to tune the detector on, apart from the test set (REPLIES, held out): whole sentences
with commas, spoken in one go as the demo replies are, so the pauses at the commas are Piper's."""
DEV_LENGTH_SCALE = 1.45
"""The demo replies' pace (scripts/make_demo_replies): Piper's comma pauses come out at 0.35-0.5 s."""

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


def reply_sets(speak) -> dict[str, list[Audio]]:
    """The replies the detector is measured on: the held-out test set, the bundled demo replies, the dev replies."""
    from voicesim.audiofile import load_audio
    from voicesim.commands.practice import DEFAULT_SCENARIO, demo_replies

    return {
        "test set": [render(reply, speak)[0] for reply in REPLIES],
        "demo replies": [load_audio(p) for p in demo_replies(DEFAULT_SCENARIO)],
        "dev replies": [render(reply, speak, DEV_LENGTH_SCALE)[0] for reply in DEV_REPLIES],
    }


@dataclass(frozen=True)
class Pause:
    """One judged pause of a replayed reply."""

    context: PauseContext
    evidence: TurnEvidence
    gap_s: float | None
    """The silence that really followed (the trainee went on after it); None at the end of the reply."""


def replay(model, audio: np.ndarray, settings: TurnSettings = TurnSettings()) -> tuple[list[Pause], list[TurnEvent]]:
    """The call loop's protocol on a recording: at each PAUSE flush Vosk and judge the turn's words so far.

    Returns every judged pause and every END_OF_TURN (after each, the customer 'answers' and
    the detector listens afresh while the words go on, as the live loop does after a false
    start); times are the reply's own."""
    from voicesim.asr import Final, Recognizer

    det, rec = TurnDetector(settings), Recognizer(model, partials=False)
    pcm = (np.concatenate([np.zeros(int(LEAD_S * SAMPLE_RATE), np.float32), audio,
                           np.zeros(int(TAIL_S * SAMPLE_RATE), np.float32)]) * 32767).astype(np.int16)
    voiced = voiced_frames(pcm)
    pauses, ends, words, offset = [], [], [], 0.0
    for i in range(0, len(pcm), FRAME_SAMPLES):
        chunk = pcm[i : i + FRAME_SAMPLES]
        events = det.feed(chunk, customer_playing=False)
        result = rec.feed(chunk)
        if isinstance(result, Final):
            det.note_final(result.transcript.text)
        for event in events:
            if event.kind == PAUSE:
                new = [replace(w, start_s=w.start_s + offset, end_s=w.end_s + offset) for w in rec.finish().words]
                words += new
                offset = (i + len(chunk)) / SAMPLE_RATE
                phrase_from = len(words) - len(new) if new else 0
                context = det.pause_context(words, phrase_from)
                evidence = det.judge(words, phrase_from)
                pauses.append(Pause(context, evidence, _gap_after(voiced, event.speech_end_s)))
                event = det.pending_end() or event
            if event.kind == END_OF_TURN:
                ends.append(replace(event, at_s=event.at_s - LEAD_S, speech_end_s=event.speech_end_s - LEAD_S))
                det.start_listening()
    return pauses, ends


def _gap_after(voiced: np.ndarray, speech_end_s: float) -> float | None:
    """Silence from `speech_end_s` to the next voiced frame; None when the reply does not go on."""
    frame = int(round(speech_end_s * SAMPLE_RATE)) // FRAME_SAMPLES
    more = np.flatnonzero(voiced[frame:])
    return None if len(more) == 0 else round(float(more[0]) * FRAME_SAMPLES / SAMPLE_RATE, 2)


def record(contexts: dict[str, list[list[Pause]]]) -> None:
    """Write the pause contexts of each reply set to RECORDED (pretty, stable: the file is reviewed in diffs)."""
    data = {
        name: [[_context_json(p) for p in reply] for reply in replies]
        for name, replies in contexts.items()
    }
    RECORDED.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def recorded() -> dict[str, list[list[tuple[PauseContext, float | None]]]]:
    """The recorded pause contexts per reply set: per reply, (context, gap that followed or None at the end)."""
    data = json.loads(RECORDED.read_text(encoding="utf-8"))
    return {name: [[_context_from_json(p) for p in reply] for reply in replies] for name, replies in data.items()}


def _context_json(pause: Pause) -> dict:
    c = pause.context
    return {"words": " ".join(f"{w.word}@{w.start_s:.2f}-{w.end_s:.2f}" for w in c.words),
            "phrase_from": c.phrase_from, "pitch_rise_st": _round(c.pitch_rise_st),
            "pitch_end_st": _round(c.pitch_end_st), "fading": c.fading, "silence_s": c.silence_s, "gap_s": pause.gap_s}


def _context_from_json(d: dict) -> tuple[PauseContext, float | None]:
    words = []
    for item in d["words"].split():
        word, _, span = item.rpartition("@")
        start, end = span.split("-")
        words.append(Word(word, float(start), float(end)))
    context = PauseContext(tuple(words), d["phrase_from"], d["pitch_rise_st"], d["pitch_end_st"], d["fading"],
                           d["silence_s"])
    return context, d["gap_s"]


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)
