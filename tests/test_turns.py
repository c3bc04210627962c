"""Turn detector: synthetic signals with known timing, and real (Piper) speech."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from turn_replies import REPLIES, THINKING_PAUSE, recorded, render, replay

from voicesim.audio import SAMPLE_RATE
from voicesim.transcript import Word
from voicesim.turns import (
    BARGE_IN,
    END_OF_TURN,
    PAUSE,
    SILENCE_TIMEOUT,
    SPEECH_START,
    TurnDetector,
    TurnSettings,
    completeness,
    end_probability,
    hold_for,
    last_phrase,
    least_hold,
    pitch_class,
    read_turn,
    speech_bounds,
    turn_phrases,
    weigh,
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


def test_speech_then_silence_is_a_pause_judged_then_the_end_after_the_hold():
    det = TurnDetector()
    events = feed_all(det, np.concatenate([silence(0.5), tone(1.0), silence(0.2)]), step=320)
    assert kinds(events) == [SPEECH_START, PAUSE]
    start, pause = events
    assert start.at_s == pytest.approx(0.5, abs=0.03)
    assert pause.speech_end_s == pytest.approx(1.5, abs=0.03)
    assert pause.at_s - pause.speech_end_s == pytest.approx(TurnSettings().probe_s, abs=0.021)
    # A pure tone has no words and a level pitch: the detector holds well past the probe.
    evidence = det.judge([])
    assert evidence.complete == "unknown" and evidence.pitch == "level"
    assert det.pending_end() is None
    end = feed_all(det, silence(1.5), step=320)
    assert kinds(end) == [END_OF_TURN]
    assert end[0].at_s - end[0].speech_end_s == pytest.approx(evidence.hold_s, abs=0.021)
    assert end[0].evidence == replace(evidence, silence_s=end[0].evidence.silence_s)
    assert end[0].evidence.silence_s == pytest.approx(evidence.hold_s, abs=0.021)


@pytest.mark.parametrize("words, complete", [
    ("so could you tell me your order number", "question"),
    ("when did you place the order", "question"),
    ("because the first parcel is lost", "open"),
    ("okay so", "open"),
    ("okay", "open"),
    ("i can see the order here", "statement"),
    ("has the tracking changed since then", "question"),
    ("is the address still correct", "question"),
    ("that was on tuesday right", "question"),
    ("could you tell me your order number please", "closing"),
    ("thank you", "closing"),
    ("i will send you a written confirmation by email today", "proposal"),
    ("the refund can go out today", "proposal"),
    ("it will arrive on friday", "proposal"),
    ("i can see the order here", "statement"),
    ("that will not happen again", "statement"),
    ("the parcel left our warehouse on monday", "statement"),
    ("i am so sorry your present did not arrive", "preface"),
    ("i understand", "preface"),
    ("i can see the order here and", "open"),
    ("so um", "open"),
    ("", "unknown"),
])
def test_what_the_words_read_as(words: str, complete: str):
    assert completeness([Word(w) for w in words.split()], turn_phrases("en")) == complete


def test_only_the_phrase_after_the_last_pause_counts():
    """ "I am sorry. [pause] Could you tell me the number?" ends as a question, not as an apology."""
    timed = [Word("i", 0.0, 0.1), Word("am", 0.1, 0.2), Word("sorry", 0.2, 0.6),
             Word("what", 1.2, 1.4), Word("happened", 1.4, 1.9)]
    assert last_phrase(timed) == ["what", "happened"]
    assert completeness(timed, turn_phrases("en")) == "question"
    assert completeness(timed[:3], turn_phrases("en")) == "preface"
    # Where the caller knows the last pause (the live loop flushes Vosk there), that counts too.
    untimed = [Word(w) for w in "i am sorry did the courier leave a note".split()]
    assert completeness(untimed, turn_phrases("en")) == "preface"
    assert completeness(untimed, turn_phrases("en"), phrase_from=3) == "question"
    offer = [Word("i", 0.0, 0.1), Word("will", 0.1, 0.3), Word("send", 0.3, 0.6), Word("one", 0.6, 0.9),
             Word("and", 1.4, 1.5), Word("email", 1.5, 1.9), Word("you", 1.9, 2.0), Word("today", 2.0, 2.4)]
    assert completeness(offer, turn_phrases("en")) == "proposal"  # a list that goes on the offer
    assert completeness(offer[4:], turn_phrases("en")) == "statement"
    question = [Word("could", 0.0, 0.2), Word("you", 0.2, 0.3), Word("tell", 0.3, 0.5), Word("me", 0.5, 0.6),
                Word("so", 1.2, 1.3), Word("i", 1.3, 1.4), Word("can", 1.4, 1.6), Word("see", 1.6, 1.9)]
    assert completeness(question, turn_phrases("en")) == "question"
    tag = [Word(w) for w in "and the address is still correct right".split()]
    assert completeness(tag, turn_phrases("en"), phrase_from=6) == "question"


def test_german_cues_come_from_the_data_file():
    cues = turn_phrases("de")
    assert completeness([Word(w) for w in "können sie mir die bestellnummer sagen".split()], cues) == "question"
    assert completeness([Word(w) for w in "es tut mir leid".split()], cues) == "preface"
    assert completeness([Word(w) for w in "ich schicke ihnen das und".split()], cues) == "open"


def test_the_hold_grows_as_the_evidence_says_not_finished():
    s = TurnSettings()
    question = end_probability("question", "falling", False, False)
    apology = end_probability("preface", "falling", False, False)
    hesitation = end_probability("open", "level", False, False)
    assert question > 0.9 > apology and apology > hesitation
    assert hold_for(question, s) < 0.2
    assert hold_for(apology, s) >= 0.7
    assert hold_for(hesitation, s) > 1.0
    # Level pitch (holding the floor) and a rise on a statement lengthen the hold; a fall shortens it.
    assert hold_for(end_probability("statement", "level", False, False), s) > hold_for(
        end_probability("statement", "falling", False, False), s)


def test_the_old_rule_holds_only_after_an_open_word():
    old = TurnSettings(predictive=False)
    for text, hold in (("i am so sorry your present did not arrive", old.quick_hold_s), ("i see the order and", old.end_hold_s)):
        det = TurnDetector(old)
        feed_all(det, np.concatenate([tone(1.0), silence(0.2)]), step=320)
        evidence = det.judge(text)
        assert evidence.hold_s == hold and evidence.p_end is None


def test_vosk_final_in_the_silence_brings_the_judgement_forward():
    det = TurnDetector()
    events = feed_all(det, tone(1.0))
    events += feed_all(det, silence(0.06), step=320)
    assert PAUSE not in kinds(events)
    det.note_final("could you tell me your order number")
    events += det.feed(silence(0.02), customer_playing=False)
    assert kinds(events)[-1] == PAUSE
    assert events[-1].at_s - events[-1].speech_end_s < TurnSettings().probe_s


def test_a_pause_unjudged_ends_after_the_longest_hold():
    det = TurnDetector()
    events = feed_all(det, np.concatenate([tone(1.0), silence(2.0)]), step=320)
    assert kinds(events) == [SPEECH_START, PAUSE, END_OF_TURN]
    assert events[-1].at_s - events[-1].speech_end_s == pytest.approx(TurnSettings().max_hold_s, abs=0.021)


def test_speech_after_a_pause_drops_the_judgement():
    det = TurnDetector()
    feed_all(det, np.concatenate([tone(1.0), silence(0.2)]), step=320)
    det.judge("could you tell me your order number")
    events = feed_all(det, np.concatenate([tone(0.5), silence(0.17)]), step=320)
    assert kinds(events) == [PAUSE]  # a new pause, judged afresh; the earlier quick hold no longer applies


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
    assert kinds(events) == [SPEECH_START, PAUSE]
    assert events[0].at_s == pytest.approx(4.0, abs=0.05)
    assert events[1].speech_end_s == pytest.approx(5.0, abs=0.05)


def test_int16_chunks_work_like_float():
    samples = np.concatenate([tone(1.0), silence(1.0)])
    as_int16 = (samples * 32767).astype(np.int16)
    a = feed_all(TurnDetector(), samples)
    b = feed_all(TurnDetector(), as_int16)
    assert [(e.kind, e.at_s) for e in a] == [(e.kind, e.at_s) for e in b]


def test_piper_speech_with_a_thinking_pause_is_one_turn(en_model):
    from trainee_voice import speak

    audio, pauses = render(THINKING_PAUSE, speak)
    judged, ends = replay(en_model, audio.samples)
    assert [p.evidence.complete for p in judged][-2:] == ["open", "proposal"]
    [end] = ends
    assert end.speech_end_s == pytest.approx(audio.duration_s, abs=0.06)


@pytest.mark.parametrize("reply", REPLIES, ids=[f"reply{i + 1}" for i in range(len(REPLIES))])
def test_natural_pauses_in_a_reply_do_not_end_it(en_model, reply):
    """The test set (held out from tuning): multi-sentence replies with 300-900 ms pauses; the customer
    answers once, at the end."""
    from trainee_voice import speak

    audio, pauses = render(reply, speak)
    judged, ends = replay(en_model, audio.samples)
    early = [e for e in ends if e.speech_end_s < audio.duration_s - 0.1]
    assert not early, [(e.speech_end_s, e.evidence) for e in early]
    [end] = ends
    assert end.evidence is not None and end.evidence.p_end is not None
    assert end.evidence.hold_s < TurnSettings().max_hold_s, end.evidence


RECORDED_SETS = recorded()


@pytest.mark.parametrize("set_name", sorted(RECORDED_SETS))
def test_recorded_pauses_are_held_through_and_ends_answered(set_name):
    """Every pause of every reply set (Vosk's words and the voice's cues as replay() recorded them):
    inside a reply the hold outlasts the real pause; at its end the customer answers before the
    longest hold. Milliseconds: no audio, no Vosk."""
    settings, cues = TurnSettings(), turn_phrases("en")
    for i, reply in enumerate(RECORDED_SETS[set_name]):
        *inside, (end, gap_at_end) = reply
        assert gap_at_end is None, f"reply {i + 1}: its last pause is not the end of the reply"
        for context, gap in inside:
            evidence = weigh(context, cues, settings)
            assert evidence.hold_s > gap, f"reply {i + 1}: answers in a {gap} s pause: {evidence}"
        assert weigh(end, cues, settings).hold_s < settings.max_hold_s


def timed(text: str, pauses_after: dict[int, float] | None = None) -> list[Word]:
    """Words 0.3 s long; a pause of `pauses_after[i]` seconds after word i."""
    words, at = [], 0.0
    for i, word in enumerate(text.split()):
        words.append(Word(word, round(at, 2), round(at + 0.3, 2)))
        at += 0.3 + (pauses_after or {}).get(i, 0.0)
    return words


def test_the_first_phrase_of_a_reply_is_young_and_held_longer():
    """ "Could you tell me your order number, | so I can see ..." : a reply's first phrase, complete as
    it is, is most often followed by more; after an apology the same question ends the reply."""
    cues, s = turn_phrases("en"), TurnSettings()
    alone = read_turn(timed("could you tell me your order number"), cues)
    after_apology = read_turn(timed("i am so sorry could you tell me your order number", {3: 0.5}), cues)
    after_okay = read_turn(timed("okay so could you tell me your order number", {1: 0.5}), cues)
    assert (alone.kind, alone.form, alone.young) == ("question", "yes-no", True)
    assert (after_apology.kind, after_apology.young) == ("question", False)
    assert after_okay.young  # "okay, so" is no content yet
    assert least_hold(alone, "rising", s) == s.young_hold_s > 0.5 > least_hold(after_apology, "rising", s) == s.quick_hold_s


def test_the_quick_hold_needs_the_voice_to_agree():
    """A yes/no question hands over rising, a wh-question rising or falling; else at least sure_hold_s."""
    cues, s = turn_phrases("en"), TurnSettings()
    yes_no = read_turn(timed("i see is the address still correct", {1: 0.5}), cues)
    wh = read_turn(timed("i see when did you place the order", {1: 0.5}), cues)
    assert (yes_no.form, wh.form) == ("yes-no", "wh")
    assert least_hold(yes_no, "rising", s) == least_hold(wh, "falling", s) == s.quick_hold_s
    assert least_hold(yes_no, "falling", s) == s.sure_hold_s > s.quick_hold_s  # "... still correct, | right?"
    assert least_hold(wh, "level", s) == s.sure_hold_s
    # Each floor lifts the hold, never lowers it.
    assert hold_for(0.99, s, least_hold(yes_no, "falling", s)) == least_hold(yes_no, "falling", s)
    assert hold_for(0.1, s, s.quick_hold_s) == hold_for(0.1, s)


def test_a_high_rise_asks_and_a_continuation_rise_does_not():
    assert pitch_class(5.8, 6.3) == "high-rise"  # "has the tracking changed since then?" heard as a statement
    assert pitch_class(4.1, -1.5) == "rising"  # a comma after "... your order number,"
    assert pitch_class(None, -3.0) == "falling" and pitch_class(0.5, 0.0) == "level"
    assert pitch_class(None, None) == pitch_class(None, 0.0) == "unknown"
    asked = end_probability("statement", "high-rise", False, False)
    assert asked == end_probability("question", "rising", False, False)
    assert end_probability("statement", "rising", False, False) < 0.5 < asked


def test_a_statement_after_the_replys_question_follows_it_up():
    """ "What would be the best outcome for you, | a replacement sent overnight?" ends the reply."""
    words = timed("what would be the best outcome for you a replacement sent overnight", {7: 0.4})
    assert read_turn(words, turn_phrases("en")).kind == "follow-up"
    assert read_turn(words[8:], turn_phrases("en")).kind == "statement"


def test_speech_bounds_of_silence_is_none():
    assert speech_bounds(silence(1.0)) is None
