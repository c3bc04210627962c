"""The live call loop's decisions, fast: real speech, real turn detector, real Vosk, simulated time.

A :class:`lines.ClockedLine` is both the line and the microphone: time moves only as
the loop reads 20 ms chunks, so a call's turn-taking (end of turn, a thinking pause,
barge-in, the customer breaking off, the silence prompt, device loss, Ctrl-C, the answer
prepared at a pause off the loop thread) runs in a second or two and the same script
gives the same call. The trainee speaks with
Piper (tests/trainee_voice.py), another engine than the customer's espeak-ng.
Real-time calls on the virtual headset are in test_practice_headset.py.
"""

from __future__ import annotations

import io
import json
import signal
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import soundfile as sf
from lines import ClockedLine, Fail, Say
from trainee_voice import speak

from voicesim.call import CallSetup, LiveCall, run_live
from voicesim.commands.practice import DEFAULT_SCENARIO
from voicesim.devices import AudioDeviceLostError
from voicesim.errors import VoicesimError
from voicesim.liveview import LiveView
from voicesim.session import Outcome, SessionStore
from voicesim.turns import FRAME_SAMPLES, TurnSettings

SETTINGS = TurnSettings()
FRAME_S = FRAME_SAMPLES / 16000
CTRL_C_INTO_ANSWER = Fail(KeyboardInterrupt(), into_line_s=0.5)
"""Ends a test's call once the customer has started the answer that matters."""


@pytest.fixture(scope="module")
def setup(en_model) -> CallSetup:
    # Vosk only: these tests are about turn-taking; the second pass has tests/test_second_pass_call.py.
    return replace(CallSetup.prepare(DEFAULT_SCENARIO, lang="en", seed=0, trainee="fast"), model=en_model).without_second_pass()


def at_anger(setup: CallSetup, anger: int) -> CallSetup:
    """The same call with a customer who starts at `anger`."""
    return replace(setup, scenario=replace(setup.scenario, start_anger=anger))


def call(setup: CallSetup, script, tmp_path: Path, settings: TurnSettings = SETTINGS):
    """Run the live loop on a ClockedLine; returns (result, session.json, the line, what the view showed)."""
    line = ClockedLine(script)
    view = LiveView(io.StringIO(), tty=False)
    result = run_live(setup, line, SessionStore(tmp_path), view, settings, microphone=line, prefetch=False)
    data = json.loads((result.session_dir / "session.json").read_text())
    return result, data, line, view.stream.getvalue()


def test_a_question_ends_the_turn_after_the_quick_hold(setup, tmp_path: Path):
    reply = speak("Could you tell me your order number, please?")
    result, data, line, shown = call(setup, [Say(reply, gap_s=0.4), CTRL_C_INTO_ANSWER], tmp_path)
    [turn] = data["turns"]
    assert "order number" in turn["trainee"]["text"], shown
    # One answer, started as soon as the question (and its "please" after a comma) had a short hold of silence.
    assert len(line.played) == 2 and turn["false_starts"] == []
    evidence = turn["end_of_turn"]
    assert evidence["complete"] in ("question", "closing") and evidence["p_end"] > 0.8, evidence
    latency = turn["end_of_turn_latency_s"]
    assert latency == result.latencies_s[0]
    assert evidence["hold_s"] <= latency <= evidence["hold_s"] + FRAME_S
    assert latency < 0.25
    answer_start = line.played[1][0]
    assert abs(answer_start - (turn["trainee"]["end_s"] + latency)) < 0.3  # Vosk's word end vs the voiced end


PAUSES_INSIDE_A_REPLY = [
    ("I am so sorry your present did not arrive.", "When did you place the order?", 0.35, "arrive when"),
    ("I can see the order here and", "I will send you a written confirmation today.", 0.2, "and i will"),
]
"""(first part, second part, pause after the first, words that show both parts in one turn)."""


@pytest.mark.parametrize("first, second, after_own_s, joined", PAUSES_INSIDE_A_REPLY,
                         ids=["between-sentences-after-an-apology", "mid-clause-after-and"])
def test_a_pause_inside_a_reply_is_held_through(setup, tmp_path: Path, first, second, after_own_s, joined):
    sentences = [Say(speak(first), gap_s=0.4), Say(speak(second), after_own_s=after_own_s)]
    _, data, line, shown = call(setup, [*sentences, CTRL_C_INTO_ANSWER], tmp_path)
    [turn] = data["turns"]
    paused_for = line.spoken[1][0] - line.spoken[0][1]
    assert 0.35 < paused_for < 0.65  # Piper's own trailing silence plus after_own_s
    # The customer held their answer through the pause: one answer, after the second part.
    assert len(line.played) == 2 and line.played[1][0] > line.spoken[1][1], shown
    assert turn["false_starts"] == [] and turn["end_of_turn"]["complete"] in ("question", "proposal")
    assert joined in turn["trainee"]["text"]


def test_the_customer_breaks_off_when_the_trainee_goes_on_and_it_is_not_charged(setup, tmp_path: Path):
    after_a_question = [Say(speak("Could you tell me your order number?"), gap_s=0.4),
                        Say(speak("Then I can see where the parcel is."), after_own_s=0.6)]
    _, data, line, shown = call(setup, [*after_a_question, CTRL_C_INTO_ANSWER], tmp_path)
    # A question, and a pause longer than even a first sentence is held (young_hold_s), reads as
    # the end: the answer started in the pause; the trainee went on, so the customer stopped
    # within the grace period.
    broken_off = line.played[1][0]
    assert line.spoken[0][1] < broken_off < line.spoken[1][0]
    assert line.stopped[0] - broken_off < SETTINGS.barge_in_grace_s
    assert "(starts to answer, stops: you were not finished)" in shown and "[cut off]" not in shown
    assert "not your interruption" in shown and "talked over" not in shown
    # Nothing of that answer counts: one turn with both parts, answered after the second.
    [turn] = data["turns"]
    assert "number" in turn["trainee"]["text"] and "parcel" in turn["trainee"]["text"]
    assert len(line.played) == 3 and line.played[2][0] > line.spoken[1][1]
    # Recorded as the customer's false start, with why it spoke; not as the trainee's interruption.
    [false_start] = turn["false_starts"]
    assert false_start["evidence"]["complete"] == "question"
    assert abs(false_start["start_s"] - broken_off) < 0.05 and false_start["stop_s"] > false_start["start_s"]
    assert turn["interruptions"] == 0 and turn["scorecard"]["tone"]["interruptions"] == 0


def test_the_old_silence_rule_answers_at_every_sentence_pause(setup, tmp_path: Path):
    """TurnSettings(predictive=False), kept for the benchmark's comparison: what issue 11 was about."""
    sentences = [Say(speak("I am so sorry your present did not arrive."), gap_s=0.4),
                 Say(speak("When did you place the order?"), after_own_s=0.2)]
    for settings, false_starts in ((replace(SETTINGS, predictive=False), 1), (SETTINGS, 0)):
        _, data, line, shown = call(setup, [*sentences, CTRL_C_INTO_ANSWER], tmp_path / str(settings.predictive), settings)
        [turn] = data["turns"]
        assert len(turn["false_starts"]) == false_starts and turn["interruptions"] == 0, shown
        assert len(line.played) == 2 + false_starts
        assert (turn["end_of_turn"]["p_end"] is None) == (not settings.predictive)


@pytest.mark.parametrize("anger, yields", [(4, True), (7, False)], ids=["annoyed-yields", "angry-talks-on"])
def test_barge_in_is_counted_and_the_customer_yields_only_below_angry(setup, tmp_path: Path, anger: int, yields: bool):
    reply = speak("I am sorry, I understand, could you tell me your order number?")
    _, data, line, shown = call(at_anger(setup, anger), [Say(reply, into_line_s=1.5), CTRL_C_INTO_ANSWER], tmp_path)
    [turn] = data["turns"]
    assert turn["interruptions"] == 1
    assert not turn["scorecard"]["checks"]["calm_tone"]["passed"]
    opening_end = line.played[0][1]
    if yields:
        assert "(stops talking)" in shown
        assert line.stopped[0] - line.spoken[0][0] < SETTINGS.barge_in_grace_s
        assert turn["customer"]["end_s"] < round(opening_end, 3)
    else:
        assert "(stops talking)" not in shown
        assert not line.stopped or line.stopped[0] > opening_end
        assert turn["customer"]["end_s"] == round(opening_end, 3)


def test_seven_seconds_of_silence_bring_the_silence_prompt(setup, tmp_path: Path):
    late = Say(speak("I am so sorry about that. How can I help you?"), gap_s=SETTINGS.silence_timeout_s + 0.5)
    _, data, line, shown = call(setup, [late, CTRL_C_INTO_ANSWER], tmp_path)
    [turn] = data["turns"]
    [prompt] = turn["silence_prompts"]
    assert prompt["text"]
    assert abs(prompt["start_s"] - turn["customer"]["end_s"] - SETTINGS.silence_timeout_s) <= FRAME_S
    assert "[silence prompt x1]" in shown
    assert line.spoken[0][0] >= line.played[1][1]  # the trainee answered after the prompt


def test_a_lost_device_keeps_the_session_and_says_so_in_one_line(setup, tmp_path: Path):
    reply = speak("I am so sorry that your order has not arrived yet")
    gone = Fail(AudioDeviceLostError("the input device 'USB headset' disappeared; plug it back in"), into_line_s=1.0)
    line = ClockedLine([Say(reply, gap_s=0.4), gone])
    with pytest.raises(VoicesimError) as raised:
        run_live(setup, line, SessionStore(tmp_path), LiveView(io.StringIO(), tty=False), microphone=line, prefetch=False)
    message = str(raised.value)
    assert "\n" not in message and "disappeared" in message and "session so far is saved in" in message
    [session_json] = tmp_path.glob("*/session.json")
    data = json.loads(session_json.read_text())
    assert data["outcome"] == Outcome.DEVICE_LOST == "device_lost" and len(data["turns"]) == 1
    assert str(session_json.parent) in message


def test_ctrl_c_mid_answer_ends_the_call_as_interrupted_with_the_session_saved(setup, tmp_path: Path):
    reply = speak("I am so sorry that your order has not arrived yet")
    result, data, line, shown = call(setup, [Say(reply, gap_s=0.4), Fail(KeyboardInterrupt(), into_line_s=1.0)], tmp_path)
    assert result.outcome == Outcome.INTERRUPTED and data["outcome"] == "interrupted"
    assert len(data["turns"]) == 1 and data["turns"][0]["trainee"]["words"]
    assert "Session saved in" in shown and data["debrief"]
    audio, rate = sf.read(result.session_dir / "recording.wav")
    assert audio.shape[1] == 2 and audio.shape[0] / rate >= line.now()


class _PressesCtrlCWhenCollected:
    """Sends this process a real SIGINT as it is collected: Python runs the handler inside ``__del__``."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)


class CtrlCLostInAFinalizer(ClockedLine):
    """A ClockedLine whose Ctrl-C comes while a finalizer runs, 0.5 s into the customer's answer.

    A KeyboardInterrupt raised inside a finalizer (or a C callback) is printed as "Exception
    ignored" and dropped, so it never reaches the loop: the way a Ctrl-C can be lost in a real call.
    """

    def __init__(self, script, max_s: float = 30.0) -> None:
        super().__init__(script, max_s=max_s)
        self.pressed_at: float | None = None

    def read(self):
        if self.pressed_at is None and len(self.played) == 2 and self.now() - self.played[1][0] >= 0.5:
            self.pressed_at = self.now()
            _PressesCtrlCWhenCollected()  # collected at once, in this (the main) thread
        return super().read()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the dropped KeyboardInterrupt
def test_a_ctrl_c_whose_keyboard_interrupt_is_lost_still_ends_the_call(setup, tmp_path: Path):
    line = CtrlCLostInAFinalizer([Say(speak("I am so sorry that your order has not arrived yet"), gap_s=0.4)])
    handler = signal.getsignal(signal.SIGINT)
    result = run_live(setup, line, SessionStore(tmp_path), LiveView(io.StringIO(), tty=False), microphone=line,
                      prefetch=False)
    data = json.loads((result.session_dir / "session.json").read_text())
    assert line.pressed_at is not None
    assert result.outcome == Outcome.INTERRUPTED and data["outcome"] == "interrupted" and len(data["turns"]) == 1
    # Ended at the next microphone chunk, not when the customer gave up on the silence.
    assert line.now() - line.pressed_at <= 2 * FRAME_S
    assert signal.getsignal(signal.SIGINT) is handler  # the call put the handler back


def test_the_same_script_gives_the_same_session(setup, tmp_path: Path):
    reply = speak("I am so sorry that your order has not arrived yet")
    sessions = []
    for run in ("a", "b"):
        _, data, _, _ = call(setup, [Say(reply, gap_s=0.4), CTRL_C_INTO_ANSWER], tmp_path / run)
        sessions.append({k: v for k, v in data.items() if k not in ("started_at", "ended_at")})
    assert sessions[0] == sessions[1] and sessions[0]["turns"]


class ReadsCounted(ClockedLine):
    """A ClockedLine that counts the microphone chunks the loop has read."""

    def __init__(self, script) -> None:
        super().__init__(script)
        self.reads = 0

    def read(self):
        self.reads += 1
        return super().read()


class SlowFirstAnswer(LiveCall):
    """A live call whose first answer prepared off the loop thread is held back until the trainee resumes speaking.

    The hold is a gate, not a timed delay: it opens once the line has begun the reply's
    second sentence, which only a loop that goes on reading while the answer is prepared
    gets to. The wait's limit only keeps a loop that does not from hanging the test.
    """

    held: tuple[int, int] | None = None
    """(chunks read, sentences begun) when the first preparation began."""
    released: tuple[int, int] | None = None
    """The same when it went on."""

    def run(self):
        self.loop_thread = threading.current_thread()
        return super().run()

    def _work_out(self, so_far):
        if self.held is None and threading.current_thread() is not self.loop_thread:
            self.held = (self.line.reads, len(self.line.spoken))
            for _ in range(200):
                if len(self.line.spoken) == 2:
                    break
                threading.Event().wait(0.05)
            self.released = (self.line.reads, len(self.line.spoken))
        return super()._work_out(so_far)


def test_the_loop_reads_on_while_the_answer_at_a_pause_is_prepared(setup, tmp_path: Path):
    first, second, after_own_s, joined = PAUSES_INSIDE_A_REPLY[0]
    line = ReadsCounted([Say(speak(first), gap_s=0.4), Say(speak(second), after_own_s=after_own_s),
                         CTRL_C_INTO_ANSWER])
    live = SlowFirstAnswer(setup, line, SessionStore(tmp_path), LiveView(io.StringIO(), tty=False), SETTINGS, line,
                           prefetch=False)
    result = live.run()
    # The answer was prepared off the loop thread, from the pause after the first sentence;
    # while it was held, the loop read on and heard the trainee begin the second.
    assert live.held is not None and live.released is not None
    (reads_held, spoken_held), (reads_released, spoken_released) = live.held, live.released
    assert spoken_held == 1 and spoken_released == 2
    assert reads_released - reads_held >= round(after_own_s / FRAME_S)
    # That answer was for words since outdated: the customer answered once, after the second
    # sentence, to the whole reply, as when nothing was slow.
    data = json.loads((result.session_dir / "session.json").read_text())
    [turn] = data["turns"]
    assert len(line.played) == 2 and line.played[1][0] > line.spoken[1][1]
    assert turn["false_starts"] == [] and joined in turn["trainee"]["text"]
