"""The practice call without a device: scripted calls, the CLI contract, sessions, bad input.

The CLI runs in-process (tests/cli_runner.py): the Vosk model and the customer's rendered
lines are loaded once for the whole module instead of once per call.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_runner import run_cli

from voicesim.audio import Audio
from voicesim.audiofile import write_wav
from voicesim.commands.practice import DEFAULT_SCENARIO, DEMO_DIR
from voicesim.scorecard import CHECK_IDS

DEMO = sorted((DEMO_DIR / DEFAULT_SCENARIO).glob("*.wav"))
BAD_REPLIES = [
    "Well you must have typed the wrong address. That is not our problem.",
    "Calm down. As I already told you, there is nothing I can do about it.",
    "Are you even listening to me? Calm down, it is not that big a deal.",
    "Look, calm down, you should have read the delivery terms.",
]


def voicesim(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return run_cli(*args, env=env)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("voicesim: error:") and "Traceback" not in proc.stderr
    return lines[0]


def no_sound_env() -> dict[str, str]:
    """Steer PortAudio away from any sound server, as on a machine without a sound card."""
    return {"PULSE_SERVER": "unix:/nonexistent/voicesim-no-pulse", "AUDIODEV": "null"}


@pytest.fixture(scope="module")
def bad_reply_files(tmp_path_factory) -> list[Path]:
    from trainee_voice import speak

    folder = tmp_path_factory.mktemp("bad-replies")
    return [write_wav(folder / f"{i:02d}.wav", Audio.concat([Audio.silence(0.5), speak(t), Audio.silence(0.3)]))
            for i, t in enumerate(BAD_REPLIES, 1)]


@pytest.fixture(scope="module")
def demo_call(tmp_path_factory):
    sessions = tmp_path_factory.mktemp("sessions")
    proc = voicesim("practice", "--scenario", DEFAULT_SCENARIO, "--trainee", "ana", "--replies",
                    *map(str, DEMO), "--sessions-dir", str(sessions), "--json")
    assert proc.returncode == 0, proc.stderr
    return sessions, proc


def test_demo_replies_resolve_the_call_and_json_is_the_contract(demo_call):
    _, proc = demo_call
    out = json.loads(proc.stdout)
    assert sorted(out) == ["outcome", "overall", "principles", "session_dir", "turns"]
    assert out["outcome"] == "resolved"
    assert out["turns"] == len(DEMO)
    assert isinstance(out["overall"], int) and 0 <= out["overall"] <= 100
    assert Path(out["session_dir"]).is_dir()


def test_session_json_has_versions_turns_words_scorecards_and_debrief(demo_call):
    _, proc = demo_call
    folder = Path(json.loads(proc.stdout)["session_dir"])
    data = json.loads((folder / "session.json").read_text())
    from voicesim import __version__
    from voicesim.scenario import find_scenario, scenario_version

    scenario = find_scenario(DEFAULT_SCENARIO)
    assert data["scenario"] == {"id": DEFAULT_SCENARIO, "version": scenario_version(scenario.path), "lang": "en"}
    assert data["model"].startswith("vosk-model") and data["voicesim_version"] == __version__
    assert (data["trainee"], data["seed"], data["mode"], data["outcome"]) == ("ana", 0, "scripted", "resolved")
    assert data["started_at"] <= data["ended_at"]
    first, last = data["turns"][0], data["turns"][-1]
    assert first["customer"]["text"] and first["customer"]["start_s"] == 0.0
    words = first["trainee"]["words"]
    assert words and all(w["start_s"] >= first["customer"]["end_s"] for w in words)
    assert "sorry" in first["trainee"]["text"]
    assert list(first["scorecard"]["checks"]) == list(CHECK_IDS)
    assert first["scorecard"]["checks"]["apology"]["passed"]
    assert first["response_delay_s"] == pytest.approx(0.6, abs=0.1)  # the demo replies start after 0.6 s
    assert first["end_of_turn_latency_s"] is None  # scripted: no clock
    assert last["customer_answer"]["outcome"] == "resolved"
    # The debrief quotes the trainee's own words.
    notes = {n["check_id"]: n for n in data["debrief"]["notes"]}
    assert "sorry" in notes["apology"]["went_well"]
    assert data["overall"] == json.loads(proc.stdout)["overall"]


def test_recording_is_stereo_customer_left_trainee_right_time_aligned(demo_call):
    _, proc = demo_call
    folder = Path(json.loads(proc.stdout)["session_dir"])
    data = json.loads((folder / "session.json").read_text())
    audio, rate = sf.read(folder / "recording.wav", dtype="float32")
    assert rate == 16000 and audio.shape[1] == 2

    def rms(channel: int, start: float, end: float) -> float:
        return float(np.sqrt(np.mean(audio[int(start * rate) : int(end * rate), channel] ** 2)))

    turn = data["turns"][1]
    c, t = turn["customer"], turn["trainee"]
    assert rms(0, c["start_s"], c["end_s"]) > 0.01 and rms(1, c["start_s"], c["end_s"]) < 1e-4
    assert rms(1, t["start_s"], t["end_s"]) > 0.01 and rms(0, t["start_s"], t["end_s"]) < 1e-4


def test_scripted_calls_are_deterministic_apart_from_timestamps(tmp_path: Path):
    outs = []
    for run in ("a", "b"):
        proc = voicesim("practice", "--replies", *map(str, DEMO[:2]), "--sessions-dir", str(tmp_path / run),
                        "--seed", "7", "--json")
        assert proc.returncode == 0, proc.stderr
        folder = Path(json.loads(proc.stdout)["session_dir"])
        data = json.loads((folder / "session.json").read_text())
        data.pop("started_at"), data.pop("ended_at")
        trainee_channel = sf.read(folder / "recording.wav", dtype="int16")[0][:, 1]
        outs.append((json.dumps(data, sort_keys=True), trainee_channel.tobytes()))
    assert outs[0][0] == outs[1][0]
    assert outs[0][1] == outs[1][1]


def test_blame_and_calm_down_make_the_customer_hang_up(tmp_path: Path, bad_reply_files):
    proc = voicesim("practice", "--scenario", DEFAULT_SCENARIO, "--replies", *map(str, bad_reply_files),
                    "--sessions-dir", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["outcome"] == "hung_up"
    data = json.loads((Path(out["session_dir"]) / "session.json").read_text())
    assert any(not t["scorecard"]["checks"]["not_personal"]["passed"] for t in data["turns"])
    note = {n["check_id"]: n for n in data["debrief"]["notes"]}["not_personal"]
    assert note["try_next"] and "calm down" in note["try_next"].lower()


def test_no_audio_device_falls_back_to_the_demo_call(tmp_path: Path):
    # No second pass: the fallback is the subject; Whisper re-hearing the demo call has its own tests.
    proc = voicesim("practice", "--sessions-dir", str(tmp_path), "--json", "--no-second-pass", env=no_sound_env())
    assert proc.returncode == 0, proc.stderr
    assert "No audio device" in proc.stderr and "demo" in proc.stderr
    assert json.loads(proc.stdout)["outcome"] == "resolved"


def test_sessions_list_filters_by_trainee_and_scenario(tmp_path: Path):
    for trainee in ("ana", "ben"):
        proc = voicesim("practice", "--replies", str(DEMO[0]), "--trainee", trainee, "--sessions-dir", str(tmp_path), "--json",
                        "--no-second-pass")
        assert proc.returncode == 0, proc.stderr
    listed = json.loads(voicesim("sessions", "list", "--sessions-dir", str(tmp_path), "--json").stdout)
    assert [r["trainee"] for r in listed] == ["ana", "ben"]
    assert all(r["outcome"] == "turn_limit" and r["turns"] == 1 for r in listed)  # the script ran out
    only = json.loads(voicesim("sessions", "list", "--sessions-dir", str(tmp_path), "--trainee", "ben", "--json").stdout)
    assert [r["trainee"] for r in only] == ["ben"]
    none = json.loads(voicesim("sessions", "list", "--sessions-dir", str(tmp_path), "--scenario", "double-charge", "--json").stdout)
    assert none == []
    text = voicesim("sessions", "list", "--sessions-dir", str(tmp_path)).stdout
    assert "ana" in text and "ben" in text


# --- bad input: one clear line each, nothing recorded lost --------------------------------


def test_unknown_scenario(tmp_path: Path):
    line = one_error_line(voicesim("practice", "--scenario", "no-such-call", "--replies", str(DEMO[0]),
                                   "--sessions-dir", str(tmp_path)))
    assert "unknown scenario 'no-such-call'" in line and "late-delivery" in line


def test_malformed_scenario_file_names_file_and_line(tmp_path: Path):
    folder = tmp_path / "scen" / "en"
    folder.mkdir(parents=True)
    (folder / "broken.toml").write_text('id = "broken"\nlang = "en"\ntitle = "Broken\n')
    line = one_error_line(voicesim("practice", "--scenario", "broken", "--replies", str(DEMO[0]),
                                   "--sessions-dir", str(tmp_path / "s"),
                                   env={"VOICESIM_SCENARIOS_DIR": str(tmp_path / "scen")}))
    assert "broken.toml:3" in line


def test_missing_model(tmp_path: Path):
    line = one_error_line(voicesim("practice", "--replies", str(DEMO[0]), "--sessions-dir", str(tmp_path),
                                   "--model", str(tmp_path / "no-model")))
    assert "no-model" in line


def test_unwritable_sessions_folder_before_the_call_starts(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    line = one_error_line(voicesim("practice", "--replies", str(DEMO[0]), "--sessions-dir", str(blocker / "s")))
    assert "cannot write the sessions folder" in line and "--sessions-dir" in line


def test_missing_reply_file(tmp_path: Path):
    line = one_error_line(voicesim("practice", "--replies", str(tmp_path / "nope.wav"), "--sessions-dir", str(tmp_path)))
    assert "nope.wav" in line
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]  # refused before a session was started


def test_named_device_missing_is_an_error_not_a_demo(tmp_path: Path):
    line = one_error_line(voicesim("practice", "--input", "no-such-headset", "--sessions-dir", str(tmp_path),
                                   env=no_sound_env()))
    assert "no-such-headset" in line or "device" in line
