"""The second pass inside a call: Whisper's words become the turn's final words, the customer still reacts to Vosk's.

Scripted calls run the CLI in-process (tests/cli_runner.py) on the bundled demo replies,
where Vosk mishears ("send you are written confirmation") and Whisper does not. The live
loop runs on the simulated clock (tests/lines.py ClockedLine) with Piper replies.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from lines import ClockedLine, Fail, Say
from trainee_voice import speak

from voicesim import second_pass
from voicesim.call import CallSetup, run_live
from voicesim.call.rehear import Rehearer
from voicesim.commands.practice import DEFAULT_SCENARIO, DEMO_DIR
from voicesim.liveview import LiveView
from voicesim.session import SessionStore

pytest.importorskip("faster_whisper", reason="the second pass needs the [whisper] extra (scripts/setup installs it)")

DEMO = sorted((DEMO_DIR / DEFAULT_SCENARIO).glob("*.wav"))
IN_WRITING = DEMO[3]
"""Vosk: "... the express the and send you are written confirmation"; Whisper: "... fee and send you a written"."""


def session_of(proc) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads((Path(json.loads(proc.stdout)["session_dir"]) / "session.json").read_text())


@pytest.fixture(scope="module")
def demo_session(tmp_path_factory):
    from cli_runner import run_cli

    proc = run_cli("practice", "--replies", *map(str, DEMO), "--sessions-dir", str(tmp_path_factory.mktemp("s")), "--json")
    return session_of(proc), proc.stderr


def test_a_scripted_call_records_both_transcripts_and_the_debrief_quotes_the_second_pass(demo_session):
    data, shown = demo_session
    assert data["outcome"] == "resolved" and len(data["turns"]) == 4
    for turn in data["turns"]:
        assert turn["second_pass"] == "done"
        assert (turn["trainee"]["engine"], turn["trainee"]["model"]) == ("whisper", second_pass.load_model().name)
        assert (turn["heard_live"]["engine"], turn["heard_live"]["model"]) == ("vosk", data["model"])
        assert turn["live_scorecard"]["transcript"] == turn["heard_live"]["text"]
        assert turn["scorecard"]["transcript"] == turn["trainee"]["text"]
        assert all(w["start_s"] >= turn["trainee"]["start_s"] for w in turn["trainee"]["words"])
    last = data["turns"][3]
    assert "send you are written confirmation" in last["heard_live"]["text"]
    assert "send you a written confirmation" in last["trainee"]["text"]
    quotes = json.dumps(data["debrief"])
    assert "send you a written confirmation" in quotes and "you are written" not in quotes
    # The live view showed what Vosk heard at once, then waited for the second pass.
    assert "You: i will send the replacement tonight" in shown
    assert "Second pass: 4 of 4 replies heard again" in shown and "Second pass off" not in shown


def test_the_customer_reacted_to_the_live_words(demo_session, cli, tmp_path: Path):
    """The same call with Vosk only: the same customer, turn for turn, and the same live words."""
    data, _ = demo_session
    vosk_only = session_of(cli("practice", "--replies", *map(str, DEMO), "--sessions-dir", str(tmp_path), "--json",
                               "--no-second-pass"))
    for turn, alone in zip(data["turns"], vosk_only["turns"], strict=True):
        assert turn["customer_answer"] == alone["customer_answer"]
        assert turn["heard_live"] == alone["trainee"] and turn["live_scorecard"] == alone["scorecard"]


@pytest.mark.parametrize("how", ["option", "env", "not-installed"])
def test_without_the_second_pass_vosk_words_are_final_and_the_view_says_so_once(cli, tmp_path: Path, monkeypatch, how):
    args = ["practice", "--replies", str(IN_WRITING), "--sessions-dir", str(tmp_path), "--json"]
    env = {"VOICESIM_SECOND_PASS": "0"} if how == "env" else None
    if how == "option":
        args.append("--no-second-pass")
    if how == "not-installed":
        monkeypatch.setitem(sys.modules, "faster_whisper", None)  # as if the extra were not installed
    proc = cli(*args, env=env)
    data = session_of(proc)
    [turn] = data["turns"]
    assert turn["second_pass"] == "off" and turn["trainee"]["engine"] == "vosk" and turn["live_scorecard"] is None
    assert turn["heard_live"] == turn["trainee"] and "you are written" in turn["trainee"]["text"]
    [said] = [line for line in proc.stderr.splitlines() if "Second pass" in line]
    assert said.startswith("Second pass off")
    assert {"option": "--no-second-pass", "env": "VOICESIM_SECOND_PASS", "not-installed": "not installed"}[how] in said


# --- the live loop on the simulated clock ----------------------------------------------------


@pytest.fixture(scope="module")
def live_setup(en_model) -> CallSetup:
    return replace(CallSetup.prepare(DEFAULT_SCENARIO, lang="en", seed=0, trainee="live"), model=en_model)


LIVE_REPLIES = ["Could you tell me your order number, please?",
                "I will send you a written confirmation today."]


def live_call(setup: CallSetup, tmp_path: Path, monkeypatch) -> tuple[dict, ClockedLine, list[int]]:
    """Two replies on a ClockedLine; also, per second-pass job, how many customer lines had started when it began."""
    script = [Say(speak(text), gap_s=0.4) for text in LIVE_REPLIES] + [Fail(KeyboardInterrupt(), into_line_s=0.5)]
    line = ClockedLine(script)
    started_with: list[int] = []
    hear_again = Rehearer._rehear

    def observed(self, record, audio):
        started_with.append(len(line.played))
        return hear_again(self, record, audio)

    monkeypatch.setattr(Rehearer, "_rehear", observed)
    # A long wait, so the test does not depend on how busy the machine is.
    result = run_live(setup, line, SessionStore(tmp_path), LiveView(io.StringIO(), tty=False), microphone=line,
                      prefetch=False, second_pass_wait_s=120.0)
    return json.loads((result.session_dir / "session.json").read_text()), line, started_with


def test_live_the_answer_does_not_wait_for_the_second_pass_and_the_final_words_are_its(live_setup, tmp_path, monkeypatch):
    on, line_on, started_with = live_call(live_setup, tmp_path / "on", monkeypatch)
    off, line_off, _ = live_call(live_setup.without_second_pass(), tmp_path / "off", monkeypatch)
    # The customer's lines start at the same moments with and without the second pass...
    assert line_on.played == line_off.played and len(on["turns"]) == len(off["turns"]) == 2
    assert [t["end_of_turn_latency_s"] for t in on["turns"]] == [t["end_of_turn_latency_s"] for t in off["turns"]]
    # ... because each reply is heard again only once the customer's answer to it has started.
    assert started_with == [2, 3]
    for turn_on, turn_off in zip(on["turns"], off["turns"], strict=True):
        # The same Vosk words (their confidences may wobble with Vosk's dither, branch dither); the customer reacted to them.
        assert turn_on["heard_live"]["text"] == turn_off["trainee"]["text"]
        assert turn_on["customer_answer"] == turn_off["customer_answer"]
        assert turn_on["second_pass"] == "done" and turn_on["trainee"]["engine"] == "whisper"
        assert turn_off["second_pass"] == "off" and turn_off["trainee"]["engine"] == "vosk"
    assert "written confirmation" in on["turns"][1]["trainee"]["text"]


def test_live_an_unfinished_second_pass_keeps_the_vosk_words_and_says_so(live_setup, tmp_path, monkeypatch):
    second = [Say(speak(text), gap_s=0.4) for text in LIVE_REPLIES][1]
    script = [second, Fail(KeyboardInterrupt(), into_line_s=0.5)]
    line = ClockedLine(script)
    view = LiveView(io.StringIO(), tty=False)
    result = run_live(live_setup, line, SessionStore(tmp_path), view, microphone=line, prefetch=False,
                      second_pass_wait_s=0.0)
    [turn] = json.loads((result.session_dir / "session.json").read_text())["turns"]
    shown = view.stream.getvalue()
    if turn["second_pass"] == "done":  # Whisper beat the customer's half-second line: nothing to fall back from
        pytest.skip("the second pass finished before the call ended")
    assert turn["second_pass"] == "unfinished" and turn["trainee"]["engine"] == "vosk"
    assert "Second pass: 0 of 1 replies heard again; Vosk's words kept for 1" in shown


def test_a_silent_reply_is_not_heard_again(cli, tmp_path: Path):
    """Whisper tends to invent a word in silence; a reply Vosk heard nothing in stays silent."""
    from voicesim.audio import Audio
    from voicesim.audiofile import write_wav

    silent = write_wav(tmp_path / "silent.wav", Audio.silence(2.0))
    data = session_of(cli("practice", "--replies", str(silent), str(IN_WRITING), "--sessions-dir", str(tmp_path / "s"),
                          "--json"))
    first, second = data["turns"]
    assert first["second_pass"] == "no_speech" and first["trainee"]["text"] == "" and first["trainee"]["engine"] == "vosk"
    assert second["second_pass"] == "done" and "send you a written confirmation" in second["trainee"]["text"]
