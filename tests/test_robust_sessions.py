"""Issue 9: the session folders are the truth, sessions.db only a cache of them.

Every way a careless user or a second program can break the index (junk, empty,
deleted, locked, read-only, older layout, out of step) still lists every call,
and a call in progress never fails or stops because of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from turn_records import typed_turn

from voicesim.cli import main
from voicesim.session import INDEX_NAME, SessionMeta, SessionStore

DEMO = Path(__file__).resolve().parents[1] / "voicesim" / "data" / "demo" / "late-delivery"


def meta(trainee: str) -> SessionMeta:
    return SessionMeta(scenario_id="late-delivery", scenario_version="v1", lang="en",
                       model="vosk-model-small-en-us-0.15", seed=0, trainee=trainee, mode="scripted")


def record(store: SessionStore, trainee: str, turns: int = 2) -> Path:
    """A call as the call code records it: audio, then session.json turn by turn, then the end."""
    with store.create(meta(trainee)) as session:
        session.recording.add_customer(np.zeros(800, np.float32))
        for i in range(1, turns + 1):
            session.add_turn(typed_turn(i, f"reply {i}"))
        session.finish("resolved", overall=70)
    return session.folder


@pytest.fixture
def sessions(tmp_path: Path) -> Path:
    """A sessions folder holding three finished calls (reachable by an ordinary user, see as_nobody)."""
    temp_root = Path(tempfile.gettempdir())
    # Every folder from the temp root down (pytest nests one more under xdist: popen-gwN).
    for folder in (tmp_path, *(p for p in tmp_path.parents if temp_root in p.parents)):
        folder.chmod(folder.stat().st_mode | 0o711)
    store = SessionStore(tmp_path / "s")
    for name in ("ana", "ben", "cy"):
        record(store, name)
    return store.root


def listed(capsys, folder: Path, *extra: str) -> tuple[list[dict], str]:
    """`voicesim sessions list --json` in-process: (rows, stderr); the exit code must be 0."""
    assert main(["sessions", "list", "--sessions-dir", str(folder), "--json", *extra]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return json.loads(out), err


def practice(capsys, folder: Path, *extra: str) -> tuple[int, dict | None, str]:
    # Without the second pass: these are about the session index, not about whose words a turn keeps.
    code = main(["practice", "--scenario", "late-delivery", "--trainee", "pat", "--sessions-dir", str(folder),
                 "--replies", *map(str, sorted(DEMO.glob("*.wav"))), "--json", "--no-second-pass", *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, (json.loads(out) if out.strip() else None), err


def test_junk_index_is_rebuilt_and_a_call_still_completes(sessions: Path, capsys):
    (sessions / INDEX_NAME).write_text("junk\n")
    code, result, err = practice(capsys, sessions)
    assert code == 0 and result["turns"] >= 1
    assert err.count("voicesim: warning: could not update the session index") == 1
    rows, err = listed(capsys, sessions)
    assert "was damaged; rebuilt it" in err
    assert sorted(r["trainee"] for r in rows) == ["ana", "ben", "cy", "pat"]
    assert [r["outcome"] for r in rows if r["trainee"] == "pat"] != ["in_progress"]
    assert listed(capsys, sessions)[1] == ""  # repaired for good: no warning the second time


def test_empty_index_hides_nothing(sessions: Path, capsys):
    (sessions / INDEX_NAME).write_bytes(b"")
    rows, _ = listed(capsys, sessions)
    assert len(rows) == 3 and all(r["turns"] == 2 for r in rows)


def test_deleted_index_then_a_call_lists_every_call(sessions: Path, capsys):
    (sessions / INDEX_NAME).unlink()
    record(SessionStore(sessions), "dee")  # the call creates sessions.db with its own row only
    rows, _ = listed(capsys, sessions)
    assert sorted(r["trainee"] for r in rows) == ["ana", "ben", "cy", "dee"]


def test_index_out_of_step_with_the_folders_is_reconciled(sessions: Path, capsys):
    [gone, edited, _] = sorted(p for p in sessions.iterdir() if p.is_dir())
    import shutil
    shutil.rmtree(gone)
    data = json.loads((edited / "session.json").read_text())
    data["turns"].append({"index": 3})
    (edited / "session.json").write_text(json.dumps(data))
    rows, _ = listed(capsys, sessions)
    assert len(rows) == 2 and {r["session_dir"]: r["turns"] for r in rows}[str(edited)] == 3


@pytest.mark.parametrize("content", ["[]", '"x"', "null", '{"turns": 5}', '{"scenario": 3}', "{not json"])
def test_a_broken_session_json_is_skipped_with_one_warning(sessions: Path, capsys, content: str):
    broken = sorted(p for p in sessions.iterdir() if p.is_dir())[0]
    (broken / "session.json").write_text(content)
    rows, err = listed(capsys, sessions)
    assert len(rows) == 2
    assert err.count("voicesim: warning:") == 1 and f"skipped session folder {broken}" in err
    assert main(["sessions", "list", "--sessions-dir", str(sessions)]) == 0  # the table too
    assert "Traceback" not in capsys.readouterr().err


def test_index_from_an_older_layout_is_rebuilt(sessions: Path, capsys):
    (sessions / INDEX_NAME).unlink()
    con = sqlite3.connect(sessions / INDEX_NAME)
    con.execute("CREATE TABLE sessions (session_dir TEXT PRIMARY KEY, trainee TEXT)")
    con.commit()
    con.close()
    record(SessionStore(sessions), "dee")  # a call on the old index: warns nothing, loses nothing
    assert "Traceback" not in capsys.readouterr().err
    rows, _ = listed(capsys, sessions)
    assert len(rows) == 4


@contextlib.contextmanager
def locked(db: Path):
    """Another program (a trainer's DB browser) holding a write lock on sessions.db."""
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        con.execute("ROLLBACK")
        con.close()


def test_index_locked_after_turn_one_loses_no_turn(sessions: Path, capsys):
    db = sessions / INDEX_NAME
    release = threading.Event()

    def lock_after_first_turn() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for f in sessions.glob("*pat*/session.json"):
                with contextlib.suppress(ValueError, OSError):
                    if json.loads(f.read_text())["turns"]:
                        with locked(db):
                            release.wait(120)
                        return
            time.sleep(0.01)

    locker = threading.Thread(target=lock_after_first_turn)
    locker.start()
    try:
        code, result, err = practice(capsys, sessions)
    finally:
        release.set()
        locker.join()
    assert code == 0 and result["outcome"] != "in_progress"
    assert err.count("could not update the session index") == 1
    saved = json.loads((Path(result["session_dir"]) / "session.json").read_text())
    assert len(saved["turns"]) == result["turns"] >= 2
    rows, _ = listed(capsys, sessions)
    assert {r["trainee"]: r["turns"] for r in rows}["pat"] == result["turns"]


def test_listing_while_the_index_is_locked_reads_the_folders(sessions: Path, capsys):
    (sessions / INDEX_NAME).unlink()  # nothing cached: every row must come from the folders
    sqlite3.connect(sessions / INDEX_NAME).close()
    with locked(sessions / INDEX_NAME):
        rows, err = listed(capsys, sessions)
    assert len(rows) == 3 and err.count("voicesim: warning:") == 1


def test_index_that_cannot_be_opened_warns_once_and_keeps_the_call(sessions: Path, capsys):
    (sessions / INDEX_NAME).unlink()
    (sessions / INDEX_NAME).mkdir()  # sqlite cannot open it at all
    store = SessionStore(sessions)
    folder = record(store, "dee", turns=3)
    err = capsys.readouterr().err
    assert err.count("could not update the session index") == 1
    assert len(json.loads((folder / "session.json").read_text())["turns"]) == 3
    rows, _ = listed(capsys, sessions)
    assert len(rows) == 4


@contextlib.contextmanager
def as_nobody():
    """Act as an ordinary user, so file modes are enforced (the tests may run as root)."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def test_read_only_sessions_folder_is_listed(sessions: Path, capsys):
    (sessions / INDEX_NAME).unlink()  # and nothing cached: listing must not need to write
    sessions.chmod(0o555)
    try:
        with as_nobody():
            rows, err = listed(capsys, sessions)
    finally:
        sessions.chmod(0o755)
    assert len(rows) == 3 and err == ""  # an archive on read-only media is listed without a word
    assert not (sessions / INDEX_NAME).exists()


def test_unwritable_index_during_a_call_is_a_warning(sessions: Path, capsys):
    sessions.chmod(0o777)  # the folder is writable, sessions.db (root's, 0644) is not
    (sessions / INDEX_NAME).chmod(0o644)
    with as_nobody():
        folder = record(SessionStore(sessions), "dee")
    err = capsys.readouterr().err
    assert err.count("could not update the session index") == (1 if os.geteuid() == 0 else 0)
    assert json.loads((folder / "session.json").read_text())["outcome"] == "resolved"
    rows, _ = listed(capsys, sessions)
    assert len(rows) == 4


def test_session_json_and_recording_share_the_ordinary_mode(tmp_path: Path):
    old = os.umask(0o022)
    try:
        folder = record(SessionStore(tmp_path), "ana")
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()}
    assert modes == {"session.json": 0o644, "recording.wav": 0o644}


def test_relative_sessions_dir_is_stored_absolute(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    folder = record(SessionStore("rel"), "ana")
    assert folder.is_absolute() and folder.parent == tmp_path / "rel"
    rows, _ = listed(capsys, Path("rel"))
    assert rows[0]["session_dir"] == str(folder)


def test_empty_sessions_dir_is_refused(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for command in (["sessions", "list", "--sessions-dir", ""], ["practice", "--sessions-dir", "", "--replies", "x.wav"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.startswith("voicesim: error: --sessions-dir is empty") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_listing_a_mistyped_folder_creates_nothing(tmp_path: Path, capsys):
    assert main(["sessions", "list", "--sessions-dir", str(tmp_path / "typo" / "sessions")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_control_characters_never_reach_the_table(tmp_path: Path, capsys):
    store = SessionStore(tmp_path)
    folder = record(store, "sam")
    data = json.loads((folder / "session.json").read_text())
    data["trainee"] = "sam\x1b[2J\x00\nevil"
    (folder / "session.json").write_text(json.dumps(data))
    assert main(["sessions", "list", "--sessions-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x00" not in out and len(out.splitlines()) == 2


def test_control_characters_in_typed_text_never_reach_the_terminal(capsys):
    assert main(["score", "--text", "I am sorry\x1b[2J\x07, when did it start?"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "I am sorry[2J, when did it start?" in out
