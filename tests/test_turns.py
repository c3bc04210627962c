"""Turn detector: synthetic signals with known timing, and real (Piper) speech."""

from __future__ import annotations

import numpy as np
import pytest

from voicesim.audio import SAMPLE_RATE
from voicesim.turns import (
    BARGE_IN,
    END_OF_TURN,
    SILENCE_TIMEOUT,
    SPEECH_START,
    TurnDetector,
    TurnSettings,
    speech_bounds,
)


def tone(seconds: float, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)


def feed_all(det: TurnDetector, samples: np.ndarray, playing: bool = False, step: int = 1600):
    events = []
    for i in range(0, len(samples), step):
        events += det.feed(samples[i : i + step], customer_playing=playing)
    return events


def kinds(events):
    return [e.kind for e in events]


def test_speech_then_silence_ends_the_turn_where_speech_stopped():
    det = TurnDetector()
    events = feed_all(det, np.concatenate([silence(0.5), tone(1.0), silence(1.0)]), step=320)
    assert kinds(events) == [SPEECH_START, END_OF_TURN]
    start, end = events
    assert start.at_s == pytest.approx(0.5, abs=0.03)
    assert end.speech_end_s == pytest.approx(1.5, abs=0.03)
    # No hint that more is coming: the quick hold applies.
    assert end.at_s - end.speech_end_s == pytest.approx(TurnSettings().quick_hold_s, abs=0.021)


def test_keep_waiting_after_an_open_last_word_uses_the_long_hold():
    det = TurnDetector()
    events = feed_all(det, np.concatenate([tone(1.0), silence(0.3)]), step=320)
    assert kinds(events)[-1] == END_OF_TURN
    assert det.ends_open("we will send it and")
    det.keep_waiting()
    more = feed_all(det, silence(1.0), step=320)
    assert kinds(more) == [END_OF_TURN]
    assert more[0].at_s - more[0].speech_end_s == pytest.approx(TurnSettings().end_hold_s, abs=0.021)


def test_thinking_pause_after_a_hold_word_does_not_end_the_turn():
    """The loop's protocol: at the quick hold it flushes Vosk, finds "... and", keeps waiting."""
    det = TurnDetector(lang="en")
    events = feed_all(det, tone(1.0))
    events += feed_all(det, silence(0.2), step=320)
    assert kinds(events) == [SPEECH_START, END_OF_TURN]
    assert det.ends_open("i understand and")
    det.keep_waiting()
    events += feed_all(det, silence(0.3))
    events += feed_all(det, tone(0.8))
    events += feed_all(det, silence(0.5))
    assert kinds(events) == [SPEECH_START, END_OF_TURN, END_OF_TURN]
    assert events[-1].speech_end_s == pytest.approx(2.3, abs=0.03)


def test_vosk_final_ends_the_turn_at_once():
    det = TurnDetector()
    events = feed_all(det, tone(1.0))
    events += feed_all(det, silence(0.06), step=320)
    assert END_OF_TURN not in kinds(events)
    det.note_final("so the parcel is late")
    events += det.feed(silence(0.02), customer_playing=False)
    assert kinds(events)[-1] == END_OF_TURN
    assert events[-1].at_s - events[-1].speech_end_s < TurnSettings().quick_hold_s


def test_vosk_final_ending_open_holds_the_turn():
    det = TurnDetector()
    events = feed_all(det, tone(1.0))
    events += feed_all(det, silence(0.06), step=320)
    det.note_final("i can see the order here and")
    events += feed_all(det, silence(0.4), step=320)
    assert END_OF_TURN not in kinds(events)
    events += feed_all(det, silence(0.4), step=320)
    assert events[-1].kind == END_OF_TURN
    assert events[-1].at_s - events[-1].speech_end_s == pytest.approx(TurnSettings().end_hold_s, abs=0.021)


def test_a_short_blip_is_not_a_turn():
    det = TurnDetector()
    events = feed_all(det, np.concatenate([tone(0.1), silence(1.5)]))
    assert END_OF_TURN not in kinds(events)


def test_barge_in_while_the_customer_plays_after_the_grace_period():
    det = TurnDetector()
    events = feed_all(det, silence(1.0), playing=True)
    events += feed_all(det, tone(0.5), playing=True)
    assert kinds(events) == [SPEECH_START, BARGE_IN]
    assert events[1].at_s == pytest.approx(1.0, abs=0.03)


def test_speech_right_after_the_customer_starts_is_not_an_interruption():
    det = TurnDetector()
    events = feed_all(det, np.concatenate([silence(0.2), tone(0.5)]), playing=True)
    assert BARGE_IN not in kinds(events)


def test_silence_timeout_fires_once_from_when_listening_started():
    settings = TurnSettings(silence_timeout_s=2.0)
    det = TurnDetector(settings)
    events = feed_all(det, silence(1.0), playing=True)
    det.start_listening()
    events += feed_all(det, silence(5.0))
    assert kinds(events) == [SILENCE_TIMEOUT]
    assert events[0].at_s == pytest.approx(3.0, abs=0.03)


def test_steady_line_noise_is_not_speech_but_speech_over_it_is():
    rng = np.random.default_rng(0)
    noise = (0.01 * rng.standard_normal(SAMPLE_RATE * 3)).astype(np.float32)  # about -40 dBFS
    signal = np.concatenate([noise, noise])
    signal[4 * SAMPLE_RATE : 5 * SAMPLE_RATE] += tone(1.0)
    det = TurnDetector()
    # The line hums while the customer's opening plays; the floor learns it there.
    feed_all(det, signal[: 3 * SAMPLE_RATE], playing=True)
    det.start_listening()
    events = feed_all(det, signal[3 * SAMPLE_RATE :])
    assert kinds(events) == [SPEECH_START, END_OF_TURN]
    assert events[0].at_s == pytest.approx(4.0, abs=0.05)
    assert events[1].speech_end_s == pytest.approx(5.0, abs=0.05)


def test_int16_chunks_work_like_float():
    samples = np.concatenate([tone(1.0), silence(1.0)])
    as_int16 = (samples * 32767).astype(np.int16)
    a = feed_all(TurnDetector(), samples)
    b = feed_all(TurnDetector(), as_int16)
    assert [(e.kind, e.at_s) for e in a] == [(e.kind, e.at_s) for e in b]


def test_piper_speech_with_a_thinking_pause_is_one_turn(en_model):
    """The call loop's protocol: at each end of turn flush Vosk, and keep waiting when the last word is open;
    otherwise the customer starts, and breaks off if the trainee goes on within the grace period."""
    from trainee_voice import speak

    from voicesim.asr import Final, Recognizer

    first = speak("I can see the order here, and").samples
    second = speak("I will send you a written confirmation today.").samples
    audio = np.concatenate([silence(0.3), first, silence(0.45), second, silence(1.0)])
    det, rec = TurnDetector(), Recognizer(en_model)
    pcm = (audio * 32767).astype(np.int16)
    accepted, words, grace = [], [], TurnSettings().barge_in_grace_s
    for i in range(0, len(pcm), 320):
        chunk = pcm[i : i + 320]
        events = det.feed(chunk, customer_playing=False)
        result = rec.feed(chunk)
        if isinstance(result, Final):
            det.note_final(result.transcript.text)
        for event in events:
            if event.kind == SPEECH_START and accepted and event.at_s - accepted[-1].at_s < grace:
                accepted.pop()  # the trainee went on: the customer breaks off, same turn
            if event.kind != END_OF_TURN:
                continue
            words += rec.finish().text.split()
            if det.ends_open(" ".join(words)) and event.at_s - event.speech_end_s < TurnSettings().end_hold_s:
                det.keep_waiting()
            else:
                accepted.append(event)
                det.start_listening()
    assert len(accepted) == 1
    assert " ".join(words).endswith("confirmation today")
    bounds = speech_bounds(audio)
    assert bounds is not None
    assert accepted[0].speech_end_s == pytest.approx(bounds[1], abs=0.06)


def test_speech_bounds_of_silence_is_none():
    assert speech_bounds(silence(1.0)) is None
