"""A virtual headset for tests: a private PulseAudio server with two null sinks.

``earpiece`` is where the customer's voice goes (what the trainee would hear);
``trainee_mic`` is a sink whose monitor, ``trainee_mic.monitor``, is the trainee's
microphone. sounddevice reaches both through ALSA's ``pulse`` device, steered by
``PULSE_SERVER`` / ``PULSE_SINK`` / ``PULSE_SOURCE``, which the context manager sets in
``os.environ`` for as long as the server runs (and restores afterwards).

>>> from voicesim.headset import Headset
>>> with VirtualHeadset() as vh:                                  # doctest: +SKIP
...     with vh.capture_earpiece() as heard:
...         Headset().play(customer_line)                        # lands in the earpiece
...     vh.play_into_mic(trainee_reply, wait=False)              # the trainee speaks
...     reply = Headset().record(max_seconds=5)                  # the mic hears it
>>> heard.audio.duration_s                                       # doctest: +SKIP

In a test, take ``virtual_headset`` as an argument (tests/conftest.py loads this module
as a plugin; function scope: every test gets its own server, so a test may kill it).

The server runs as root with ``--system=false`` and a private runtime dir and HOME in a
temporary folder, so it neither needs nor touches a user session; it loads only the
native-protocol socket and the two sinks (``-n``: no default script, no hardware).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from voicesim.audio import SAMPLE_RATE, Audio, int16_to_float

EARPIECE = "earpiece"
"""Null sink the customer's voice is played into."""

MIC_SINK = "trainee_mic"
"""Null sink the trainee 'speaks' into; its monitor is the microphone."""

MIC_SOURCE = f"{MIC_SINK}.monitor"
EARPIECE_MONITOR = f"{EARPIECE}.monitor"

_PULSE_ENV = ("PULSE_SERVER", "PULSE_SINK", "PULSE_SOURCE")
_RAW_FORMAT = ["--raw", "--format=s16le", f"--rate={SAMPLE_RATE}", "--channels=1"]


class VirtualHeadset:
    """A private PulseAudio server with an earpiece sink and a trainee microphone."""

    def __init__(self, sink_rate: int = 48000, start_timeout_s: float = 15.0) -> None:
        # 48 kHz sinks like a USB headset, so PulseAudio resamples as it would on a desk.
        self.sink_rate = sink_rate
        self.start_timeout_s = start_timeout_s
        self.process: subprocess.Popen | None = None
        self._tmp: Path | None = None
        self._saved_env: dict[str, str | None] = {}
        self._players: list[subprocess.Popen] = []

    # -- lifecycle -----------------------------------------------------------------

    @property
    def socket_path(self) -> Path:
        assert self._tmp is not None, "VirtualHeadset is not started"
        return self._tmp / "native"

    @property
    def server(self) -> str:
        """The PULSE_SERVER string clients use to reach this server."""
        return f"unix:{self.socket_path}"

    def env(self) -> dict[str, str]:
        """Variables that route a client (e.g. a `voicesim` subprocess) to this headset."""
        return {"PULSE_SERVER": self.server, "PULSE_SINK": EARPIECE, "PULSE_SOURCE": MIC_SOURCE}

    def start(self) -> VirtualHeadset:
        if shutil.which("pulseaudio") is None or shutil.which("pacat") is None:
            raise RuntimeError("the virtual headset needs pulseaudio and pulseaudio-utils: run scripts/setup")
        self._tmp = Path(tempfile.mkdtemp(prefix="voicesim-pulse-"))
        (self._tmp / "home").mkdir()
        self._log = open(self._tmp / "pulseaudio.log", "wb")
        self.process = subprocess.Popen(
            self._command(), env=self._server_env(), stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        self._route_this_process()
        _refresh_portaudio()
        return self

    def stop(self) -> None:
        """Stop the server (if still running), restore the environment, remove the temp dir."""
        for player in self._players:
            _end(player)
        self._players = []
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None
            self._log.close()
        self._restore_env()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        _refresh_portaudio()

    def kill(self) -> None:
        """Kill the server abruptly, as if the headset were unplugged (for device-lost tests)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def __enter__(self) -> VirtualHeadset:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _command(self) -> list[str]:
        sink = f"rate={self.sink_rate} channels=1 norewinds=1"
        return [
            "pulseaudio", "--daemonize=no", "--system=false", "-n",
            "--exit-idle-time=-1", "--use-pid-file=false", "--disallow-module-loading=false",
            "--log-target=stderr", "--log-level=notice",
            f"--load=module-native-protocol-unix socket={self.socket_path} auth-anonymous=1",
            f"--load=module-null-sink sink_name={EARPIECE} {sink}",
            f"--load=module-null-sink sink_name={MIC_SINK} {sink}",
        ]

    def _server_env(self) -> dict[str, str]:
        # A private HOME and runtime dir keep the server away from /root and any other server.
        assert self._tmp is not None
        env = {k: v for k, v in os.environ.items() if k not in _PULSE_ENV}
        env.update(HOME=str(self._tmp / "home"), XDG_RUNTIME_DIR=str(self._tmp),
                   PULSE_RUNTIME_PATH=str(self._tmp / "runtime"))
        return env

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"pulseaudio exited with {self.process.returncode}: {self._log_tail()}")
            if self.socket_path.exists() and self._pactl("info").returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"pulseaudio did not answer within {self.start_timeout_s} s: {self._log_tail()}")

    def _log_tail(self) -> str:
        assert self._tmp is not None
        return (self._tmp / "pulseaudio.log").read_text(errors="replace")[-2000:]

    def _pactl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["pactl", f"--server={self.server}", *args], capture_output=True, timeout=10)

    def _route_this_process(self) -> None:
        for key, value in self.env().items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}

    # -- the trainee's side and the customer's side -------------------------------

    def play_into_mic(self, audio: Audio | str | os.PathLike, wait: bool = True) -> subprocess.Popen:
        """Speak `audio` (or a WAV/FLAC file) 'as the trainee' into the microphone (pacat into trainee_mic)."""
        if not isinstance(audio, Audio):
            from voicesim.audiofile import load_audio

            audio = load_audio(audio)
        proc = subprocess.Popen(
            ["pacat", "--playback", f"--server={self.server}", f"--device={MIC_SINK}",
             "--latency-msec=20", *_RAW_FORMAT],
            stdin=subprocess.PIPE,
        )
        self._players.append(proc)
        # pacat reads stdin at playback pace: a writer thread keeps wait=False from blocking.
        writer = threading.Thread(target=_feed, args=(proc, audio.to_int16().tobytes()), daemon=True)
        writer.start()
        if wait:
            writer.join()
            proc.wait(timeout=audio.duration_s + 10)
        return proc

    def capture_earpiece(self) -> EarpieceCapture:
        """Record what reaches the earpiece (parec on earpiece.monitor) while the block runs."""
        assert self._tmp is not None
        return EarpieceCapture(self.server, self._tmp / f"earpiece-{time.monotonic_ns()}.raw")


class EarpieceCapture:
    """Context manager: parec records earpiece.monitor; ``.audio`` holds it afterwards."""

    def __init__(self, server: str, raw_path: Path) -> None:
        self.server = server
        self.raw_path = raw_path
        self.audio: Audio | None = None
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> EarpieceCapture:
        # A file, not a pipe: a long capture must never block parec on a full pipe.
        self._out = open(self.raw_path, "wb")
        self._proc = subprocess.Popen(
            ["parec", f"--server={self.server}", f"--device={EARPIECE_MONITOR}",
             "--latency-msec=20", *_RAW_FORMAT],
            stdout=self._out,
        )
        time.sleep(0.2)  # let the record stream connect before anything is played
        return self

    def __exit__(self, *exc) -> None:
        assert self._proc is not None
        time.sleep(0.2)  # the tail of the playback is still in the monitor's buffer
        self._proc.terminate()
        self._proc.wait(timeout=5)
        self._out.close()
        data = np.frombuffer(self.raw_path.read_bytes(), dtype=np.int16)
        self.audio = Audio(int16_to_float(data))


def _end(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
    proc.wait(timeout=5)


def _feed(proc: subprocess.Popen, data: bytes) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # the server went away (a device-lost test killed it)


def _refresh_portaudio() -> None:
    # PortAudio lists ALSA devices once at initialisation; a new (or gone) server changes them.
    from voicesim.devices import refresh_devices

    refresh_devices()


@pytest.fixture
def virtual_headset():
    """A started :class:`VirtualHeadset`; stopped (no process left) after the test."""
    with VirtualHeadset() as vh:
        yield vh


def measure_round_trip(line, repeats: int = 10) -> list[float]:
    """Seconds from ``line.play_async(click)`` until the click comes back through the mic.

    Needs the output looped into the input: run under a VirtualHeadset with
    ``PULSE_SINK=trainee_mic`` (see ``__main__``), so what the line plays is what its mic hears.
    """
    click = Audio(np.concatenate([np.full(160, 0.5, np.float32), np.zeros(SAMPLE_RATE // 2, np.float32)]))
    results: list[float] = []
    for _ in range(repeats):
        heard = threading.Event()
        arrived: list[float] = []

        def on_chunk(chunk: np.ndarray, heard: threading.Event = heard, arrived: list[float] = arrived) -> None:
            if heard.is_set() and not arrived and np.abs(chunk).max() > 8000:
                arrived.append(time.monotonic())

        with line.open_input_stream(on_chunk):
            time.sleep(0.3)  # let the stream settle before timing
            heard.set()
            sent = time.monotonic()
            line.play(click)
            time.sleep(0.3)
        if arrived:
            results.append(arrived[0] - sent)
    return results


if __name__ == "__main__":
    # By hand (voicesim installed, or PYTHONPATH=.): python tests/virtual_headset.py
    # lists the devices and measures the round trip.
    import statistics

    from voicesim.devices import list_devices
    from voicesim.headset import Headset

    with VirtualHeadset() as vh:
        for device in list_devices():
            print(device)
        os.environ["PULSE_SINK"] = MIC_SINK  # loop the line's output into its own mic
        times = measure_round_trip(Headset())
        print(f"round trip play_async -> mic callback over {len(times)} clicks: "
              f"median {statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, "
              f"max {max(times) * 1000:.0f} ms")
