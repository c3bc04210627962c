"""Session store: incremental stereo recording, atomic session.json, the SQLite index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from turn_records import typed_turn

from voicesim.errors import VoicesimError
from voicesim.session import (
    IN_PROGRESS,
    SessionMeta,
    SessionStore,
    StereoRecording,
    default_sessions_dir,
)


def meta(trainee="sam", scenario="late-delivery") -> SessionMeta:
    return SessionMeta(scenario_id=scenario, scenario_version="v1", lang="en",
                       model="vosk-model-small-en-us-0.15", seed=3, trainee=trainee, mode="scripted")


def test_recording_is_time_aligned_customer_left_trainee_right(tmp_path: Path):
    rec = StereoRecording(tmp_path / "r.wav")
    customer = np.full(1600, 0.5, np.float32)
    start, end = rec.add_customer(customer)
    assert (start, end) == (0.0, 0.1)
    rec.add_trainee(np.full(800, -0.25, np.float32))
    rec.schedule_customer(np.full(400, 0.5, np.float32))  # customer starts while the trainee is heard
    rec.add_trainee(np.full(800, -0.25, np.float32))
    rec.close()
    data, rate = sf.read(tmp_path / "r.wav", dtype="float32")
    assert rate == 16000 and data.shape == (3200, 2)
    assert np.allclose(data[:1600, 0], 0.5, atol=1e-3) and np.allclose(data[:1600, 1], 0.0)
    assert np.allclose(data[1600:2400, 0], 0.0) and np.allclose(data[1600:, 1], -0.25, atol=1e-3)
    assert np.allclose(data[2400:2800, 0], 0.5, atol=1e-3) and np.allclose(data[2800:, 0], 0.0)


def test_recording_is_a_valid_wav_while_still_open(tmp_path: Path):
    rec = StereoRecording(tmp_path / "r.wav")
    rec.add_trainee(np.full(4000, 0.1, np.float32))
    # Not closed: as after a crash, the header already counts every frame written.
    data, _ = sf.read(tmp_path / "r.wav", dtype="float32")
    assert data.shape == (4000, 2)
    rec.close()


def test_cut_customer_drops_what_was_not_played(tmp_path: Path):
    rec = StereoRecording(tmp_path / "r.wav")
    rec.schedule_customer(np.full(16000, 0.5, np.float32))
    rec.add_trainee(np.zeros(4000, np.float32))
    rec.cut_customer(0.5)
    rec.add_trainee(np.zeros(12000, np.float32))
    rec.close()
    data, _ = sf.read(tmp_path / "r.wav", dtype="float32")
    assert np.allclose(data[:8000, 0], 0.5, atol=1e-3) and np.allclose(data[8000:, 0], 0.0)


def test_session_json_is_written_turn_by_turn_and_indexed(tmp_path: Path):
    store = SessionStore(tmp_path)
    session = store.create(meta())
    path = session.folder / "session.json"
    assert json.loads(path.read_text())["outcome"] == IN_PROGRESS
    session.add_turn(typed_turn(1, "i am sorry"))
    on_disk = json.loads(path.read_text())
    assert on_disk["turns"][0]["trainee"]["text"] == "i am sorry"
    assert on_disk["turns"][0]["customer"] == {"text": "Where is it?", "start_s": 0.0, "end_s": 1.5}
    assert on_disk["turns"][0]["scorecard"]["checks"]["apology"]["passed"]
    assert store.list()[0].turns == 1 and store.list()[0].outcome == IN_PROGRESS
    session.finish("resolved", overall=77)
    row = store.list(trainee="sam")[0]
    assert (row.outcome, row.overall, row.turns, row.scenario_id) == ("resolved", 77, 1, "late-delivery")
    assert not [p for p in session.folder.iterdir() if p.name.endswith(".tmp")]


def test_index_filters_by_trainee_and_scenario_and_rebuilds_when_lost(tmp_path: Path):
    store = SessionStore(tmp_path)
    for trainee, scenario in [("ana", "late-delivery"), ("ben", "late-delivery"), ("ana", "double-charge")]:
        with store.create(meta(trainee, scenario)) as s:
            s.finish("hung_up", overall=10)
    assert [r.scenario_id for r in store.list(trainee="ana")] == ["late-delivery", "double-charge"]
    assert [r.trainee for r in store.list(scenario="late-delivery")] == ["ana", "ben"]
    (tmp_path / "sessions.db").unlink()
    assert len(SessionStore(tmp_path).list()) == 3


def test_unwritable_sessions_folder_is_one_clear_error(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(VoicesimError, match="cannot write the sessions folder .*--sessions-dir"):
        SessionStore(blocker / "sessions")


def test_a_crashed_process_leaves_its_finished_turns(tmp_path: Path):
    code = f"""
import os, sys, numpy as np
sys.path.insert(0, {str(Path(__file__).parent)!r})
from turn_records import typed_turn
from voicesim.session import SessionStore, SessionMeta
s = SessionStore({str(tmp_path)!r}).create(SessionMeta("x", "v", "en", "m", 1, "t", "live"))
s.recording.add_trainee(np.full(8000, 0.1, np.float32))
s.add_turn(typed_turn(1))
os._exit(9)  # no cleanup at all
"""
    subprocess.run([sys.executable, "-c", code], check=False)
    [folder] = [p for p in tmp_path.iterdir() if p.is_dir()]
    data = json.loads((folder / "session.json").read_text())
    assert [t["index"] for t in data["turns"]] == [1] and data["outcome"] == IN_PROGRESS
    audio, _ = sf.read(folder / "recording.wav")
    assert audio.shape == (8000, 2)


def test_default_dir_follows_the_environment(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("VOICESIM_SESSIONS_DIR", str(tmp_path / "s"))
    assert default_sessions_dir() == tmp_path / "s"
    monkeypatch.delenv("VOICESIM_SESSIONS_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_sessions_dir() == tmp_path / "voicesim" / "sessions"
