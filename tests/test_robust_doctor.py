"""Issue 9: `voicesim doctor` checks the sessions folder and VOICESIM_SCENARIOS_DIR too."""

from __future__ import annotations

from pathlib import Path

from voicesim.cli import main
from voicesim.commands.doctor import check_scenario_dirs, check_sessions_folder
from voicesim.scenario import REPO_SCENARIOS
from voicesim.session import SessionStore


def test_doctor_prints_both_new_lines(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("VOICESIM_SESSIONS_DIR", str(tmp_path / "s"))
    monkeypatch.setenv("VOICESIM_SCENARIOS_DIR", str(REPO_SCENARIOS / "en"))
    main(["doctor"])
    out = capsys.readouterr().out
    assert any(l.startswith("OK") and "sessions folder" in l and "created by the first call" in l for l in out.splitlines())
    assert any(l.startswith("OK") and "scenario folders" in l and "6 scenario file(s) valid" in l for l in out.splitlines())
    assert not (tmp_path / "s").exists()  # the doctor looks, it does not create


def test_sessions_folder_counts_calls_and_names_a_broken_one(tmp_path: Path, monkeypatch):
    from test_robust_sessions import record

    store = SessionStore(tmp_path)
    record(store, "ana")
    bad = record(store, "ben")
    (bad / "session.json").write_text("[]")
    monkeypatch.setenv("VOICESIM_SESSIONS_DIR", str(tmp_path))
    check = check_sessions_folder()
    assert check.ok and "(1 session)" in check.detail and str(bad) in check.detail


def test_sessions_folder_that_is_a_file_is_missing(tmp_path: Path, monkeypatch):
    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("VOICESIM_SESSIONS_DIR", str(tmp_path / "f"))
    check = check_sessions_folder()
    assert not check.ok and "fix:" in check.detail


def test_scenario_dir_missing_or_invalid_is_reported(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("VOICESIM_SCENARIOS_DIR", str(tmp_path / "nope"))
    check = check_scenario_dirs()
    assert not check.ok and check.essential and "not a folder" in check.detail
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "x.toml").write_text("id = 'x'\n")
    monkeypatch.setenv("VOICESIM_SCENARIOS_DIR", str(tmp_path / "mine"))
    check = check_scenario_dirs()
    assert not check.ok and "x.toml:" in check.detail and "fix: voicesim scenarios validate" in check.detail
