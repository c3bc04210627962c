"""Issue 9, across the process boundary: signals, a file-size limit, non-UTF-8 argv.

These run `python -m voicesim` as a child process, because what they test (a closed
terminal, ``ulimit -f``, bytes in argv that are not UTF-8) only exists there.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_runner import run_cli

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "voicesim" / "data" / "demo" / "late-delivery"


def voicesim(*args: str | bytes, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "voicesim", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, **kw)


def practice_args(folder: Path, *extra: str | bytes, replies: int | None = None) -> list:
    """A scripted demo call's arguments: the first `replies` demo replies (all by default)."""
    return ["practice", "--scenario", "late-delivery", "--sessions-dir", str(folder),
            "--replies", *map(str, sorted(DEMO.glob("*.wav"))[:replies]), "--json", *extra]


def one_error_line(err: bytes) -> str:
    text = err.decode("utf-8", "replace")
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("voicesim: error:")]
    assert len(errors) == 1, text
    return errors[0]


def saved_session(folder: Path) -> dict:
    [path] = folder.glob("*/session.json")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def long_reply(tmp_path_factory) -> Path:
    """A first reply of about a minute (the demo replies end to end, repeated), so the call is mid-turn for seconds."""
    from voicesim.audio import Audio
    from voicesim.audiofile import load_audio, write_wav

    parts = [load_audio(p) for p in sorted(DEMO.glob("*.wav"))] * 4
    return write_wav(tmp_path_factory.mktemp("reply") / "long.wav", Audio.concat(parts))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_hangup_signal_finalizes_the_call_like_ctrl_c(tmp_path: Path, sig: signal.Signals, long_reply: Path):
    args = practice_args(tmp_path)
    args[args.index("--replies") + 1] = str(long_reply)
    proc = voicesim(*args)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if list(tmp_path.glob("*/session.json")):
            time.sleep(0.5)  # the call has started (its folder is there) and is talking
            break
        time.sleep(0.01)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err
    # Exactly what Ctrl-C gives: the call is finalized, its result printed, exit 0.
    assert proc.returncode == 0 and json.loads(out)["outcome"] == "interrupted"
    data = saved_session(tmp_path)
    assert data["outcome"] == "interrupted" and data["ended_at"]


def test_file_size_limit_while_recording_is_one_line_and_keeps_the_turns(tmp_path: Path):
    limit = 512 * 1024  # 8 s of the stereo recording: the call passes it in its first turns

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = voicesim(*practice_args(tmp_path), preexec_fn=small_files)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode != 0
    line = one_error_line(err)
    assert "disk is full" in line and "session.json" in line
    data = saved_session(tmp_path)  # still valid JSON, with what was finished
    assert isinstance(data["turns"], list)
    import soundfile as sf

    [wav] = tmp_path.glob("*/recording.wav")
    assert sf.info(str(wav)).frames > 0  # the header matches what was written


def test_non_utf8_trainee_name_is_stored_as_valid_utf8(tmp_path: Path):
    # The name is what this is about: one reply and no second pass make the call (and Whisper's load) short.
    proc = voicesim(*practice_args(tmp_path, "--trainee", b"sam\xff\x1b[31m", "--no-second-pass", replies=1))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode(errors="replace")
    assert b"Traceback" not in err
    [path] = tmp_path.glob("*/session.json")
    assert json.loads(path.read_bytes().decode("utf-8"))["trainee"] == "sam\ufffd[31m"
    listing = run_cli("sessions", "list", "--sessions-dir", tmp_path)  # in-process: the call above was the process
    assert listing.returncode == 0 and "\x1b" not in listing.stdout and "sam\ufffd" in listing.stdout


def test_score_text_with_non_utf8_bytes_prints_valid_json(tmp_path: Path):
    env_utf8 = {"env": {**os.environ, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "utf-8"}}
    proc = subprocess.Popen([sys.executable, "-m", "voicesim", "score", "--text", b"sorry \xff", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **env_utf8)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and b"Traceback" not in err
    assert json.loads(out.decode("utf-8"))["transcript"].startswith("sorry")


def test_transcribe_a_file_whose_name_is_not_utf8(tmp_path: Path):
    name = os.path.join(os.fsencode(tmp_path), b"reply-\xff.wav")
    with open(sorted(DEMO.glob("*.wav"))[0], "rb") as src, open(name, "wb") as dst:
        dst.write(src.read())
    proc = voicesim("transcribe", name)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode(errors="replace")
    assert out.strip() and b"Traceback" not in err


def test_closed_terminal_finalizes_the_call_and_exits_quietly(tmp_path: Path, long_reply: Path):
    # The call's terminal: a pty whose far end is closed mid-call, then SIGHUP, as when a window is closed.
    master, slave = os.openpty()
    args = practice_args(tmp_path)[:-1]  # without --json: the live view writes to the terminal
    args[args.index("--replies") + 1] = str(long_reply)
    proc = subprocess.Popen([sys.executable, "-m", "voicesim", *args], stdin=slave, stdout=slave, stderr=slave,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, start_new_session=True)
    os.close(slave)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(tmp_path.glob("*/session.json")):
        time.sleep(0.01)
    time.sleep(0.5)
    os.close(master)
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(timeout=120) in (0, 128 + signal.SIGHUP)  # a traceback would exit 1
    data = saved_session(tmp_path)
    assert data["outcome"] == "interrupted" and data["ended_at"]
