"""The live practice call end to end on the virtual headset (PulseAudio null sinks), in real time.

The trainee is a thread that listens to the earpiece and, when the customer has
finished a line, speaks a Piper recording into the trainee microphone, as a person
would. Nothing is mocked: PortAudio, Vosk, espeak-ng and the call loop are real.
These are a handful of end-to-end calls; the loop's decisions (end of turn, pauses,
barge-in, silence prompt, device loss, Ctrl-C) are tested fast in test_live_loop.py.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from trainee_voice import speak
from virtual_headset import EARPIECE_MONITOR, VirtualHeadset

from voicesim.audio import SAMPLE_RATE, Audio
from voicesim.commands.practice import DEFAULT_SCENARIO
from voicesim.liveview import LiveView

pytestmark = [pytest.mark.headset, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[1]
class Earpiece:
    """Listens to what the customer says (parec on earpiece.monitor) and tells when a line is over."""

    def __init__(self, vh: VirtualHeadset, raw: Path, stop: threading.Event) -> None:
        self.raw = raw
        self.stop = stop
        self._out = open(raw, "wb")
        self._proc = subprocess.Popen(
            ["parec", f"--server={vh.server}", f"--device={EARPIECE_MONITOR}", "--latency-msec=20",
             "--raw", "--format=s16le", f"--rate={SAMPLE_RATE}", "--channels=1"], stdout=self._out)
        self._read = 0
        self._voiced_until = -1.0
        self._seen_voice = False

    def _levels(self) -> None:
        data = self.raw.read_bytes()[self._read * 2 :]
        n = len(data) // 640
        if not n:
            return
        frames = np.frombuffer(data[: n * 640], dtype=np.int16).reshape(n, 320).astype(np.float64) / 32768
        db = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-9)
        for i, level in enumerate(db):
            if level > -40:
                self._voiced_until = (self._read + (i + 1) * 320) / SAMPLE_RATE
                self._seen_voice = True
        self._read += n * 320

    def wait_started(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stop.is_set():
            self._levels()
            if self._seen_voice:
                return True
            time.sleep(0.02)
        return False

    def wait_done(self, quiet_s: float = 1.0, timeout: float = 90.0) -> bool:
        """Block until the customer speaks from now on and then stays quiet for `quiet_s`; True if so."""
        # What the customer said while the trainee was still speaking (a line broken off) is past.
        self._levels()
        self._seen_voice = self._read / SAMPLE_RATE - self._voiced_until < 0.3
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stop.is_set():
            self._levels()
            if self._seen_voice and self._read / SAMPLE_RATE - self._voiced_until >= quiet_s:
                self._seen_voice = False
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=5)
        self._out.close()


class Trainee(threading.Thread):
    """Speaks each reply into the microphone after the customer's line ends (or `barge_in_s` into it)."""

    def __init__(self, vh: VirtualHeadset, replies: list[Audio], barge_in_s: float | None = None,
                 then: callable | None = None) -> None:
        super().__init__(daemon=True)
        self.vh, self.replies, self.barge_in_s, self.then = vh, replies, barge_in_s, then
        self.stop = threading.Event()
        self.error: BaseException | None = None
        """What stopped the trainee early (reported by the test, not only as a thread warning)."""
        self.ear = Earpiece(vh, Path(vh.socket_path).parent / f"ear-{time.monotonic_ns()}.raw", self.stop)

    def run(self) -> None:
        try:
            for i, reply in enumerate(self.replies):
                if self.barge_in_s is not None and i == 0:
                    self.ear.wait_started()
                    time.sleep(self.barge_in_s)
                else:
                    if not self.ear.wait_done() or self.stop.is_set():
                        return
                self.vh.play_into_mic(reply, wait=True)
            if self.then is not None and not self.stop.is_set():
                self.then()
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            self.ear.close()


def hang_up_after_first_turn(sessions: Path, pressed: list[float], timeout: float = 90.0) -> None:
    """Press Ctrl-C 0.5 s after the session has its first finished turn; `pressed` gets when (time.monotonic()).

    A real SIGINT to this process, as a terminal's Ctrl-C sends it (any thread may take it;
    Python runs the handler in the main thread), not ``_thread.interrupt_main()``, which
    only sets Python's flag and wakes no blocking call.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sessions.glob("*/session.json"):
            if json.loads(path.read_text())["turns"]:  # session.json is replaced whole, never seen half-written
                time.sleep(0.5)
                # After the call a SIGINT would stop the test run, not the call.
                if json.loads(path.read_text())["outcome"] == "in_progress":
                    pressed.append(time.monotonic())
                    os.kill(os.getpid(), signal.SIGINT)
                return
        time.sleep(0.1)


def live_call(replies: list[Audio], tmp_path: Path, vh, **trainee):
    from voicesim.call import CallSetup, run_live
    from voicesim.headset import Headset
    from voicesim.session import SessionStore

    setup = CallSetup.prepare(DEFAULT_SCENARIO, seed=0, trainee="live")
    bot = Trainee(vh, replies, **trainee)
    bot.start()
    view = LiveView(io.StringIO(), tty=False)
    try:
        result = run_live(setup, Headset(), SessionStore(tmp_path), view)
    finally:
        bot.stop.set()
        bot.join(timeout=30)
    # A trainee who failed (e.g. a player timing out on a loaded machine) explains a call that went wrong.
    assert bot.error is None, f"the test's trainee failed: {bot.error!r}\n{view.stream.getvalue()}"
    data = json.loads((result.session_dir / "session.json").read_text())
    return result, data, view.stream.getvalue()


def piper(texts: list[str]) -> list[Audio]:
    return [speak(t) for t in texts]


def test_a_well_answered_call_resolves(virtual_headset, tmp_path: Path):
    # The suite's one real-time call, so the shortest that resolves: two calm replies (Piper at 1.3, inside
    # the calm pace band) with pauses inside them, instead of the four demo replies (76 s -> 41 s of call).
    # The demo replies' scripted call is tested in test_practice.py.
    replies = [speak("I am so sorry, that must be really frustrating. When did you place the order?", 1.3),
               speak("I completely understand. I will send you a written confirmation by email today.", 1.3)]
    result, data, shown = live_call(replies, tmp_path, virtual_headset)
    assert result.outcome == "resolved", shown
    assert data["mode"] == "live" and data["outcome"] == "resolved" and len(data["turns"]) == 2
    # The customer's false starts in the replies' pauses are theirs, not the trainee's interruptions.
    assert all(t["interruptions"] == 0 for t in data["turns"]), shown
    assert all(t["end_of_turn_latency_s"] is not None for t in data["turns"])
    assert all(t["end_of_turn"]["p_end"] is not None for t in data["turns"])
    assert all(f["evidence"]["complete"] for t in data["turns"] for f in t["false_starts"])
    assert "sorry" in data["turns"][0]["trainee"]["text"]
    audio, rate = sf.read(result.session_dir / "recording.wav")
    assert audio.shape[1] == 2 and audio.shape[0] / rate > 20


def test_barge_in_is_detected_and_counted_against_calm_tone(virtual_headset, tmp_path: Path):
    replies = piper(["I am sorry, I understand, could you tell me your order number?"])
    pressed: list[float] = []
    result, data, shown = live_call(replies, tmp_path, virtual_headset, barge_in_s=1.5,
                                    then=lambda: hang_up_after_first_turn(tmp_path, pressed))
    ended = time.monotonic()
    first = data["turns"][0]
    assert first["interruptions"] >= 1, shown
    assert not first["scorecard"]["checks"]["calm_tone"]["passed"]
    assert first["scorecard"]["tone"]["interruptions"] >= 1
    assert pressed, f"the trainee never pressed Ctrl-C (no finished turn in time?)\n{shown}"
    # A Ctrl-C ends the call, at any load: not the customer hanging up after the silence prompts.
    assert result.outcome == "interrupted", f"Ctrl-C {ended - pressed[0]:.1f} s before the call ended\n{shown}"


def test_a_device_that_disappears_mid_call_keeps_the_session(virtual_headset, tmp_path: Path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicesim", "practice", "--sessions-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, **virtual_headset.env()},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(tmp_path.glob("*/recording.wav")):
        time.sleep(0.1)
    time.sleep(1.5)  # the customer is talking
    virtual_headset.kill()
    out, err = proc.communicate(timeout=60)
    lines = err.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1 and lines[0].startswith("voicesim: error:"), err
    assert "saved in" in lines[0]
    [session_json] = tmp_path.glob("*/session.json")
    assert json.loads(session_json.read_text())["outcome"] == "device_lost"
