"""Issue 9: whatever `scenarios validate` passes must run, and a call never starts on a file that fails it.

Each broken copy of a shipped scenario is reported by validate, refused by practice
before a session folder exists, and never reaches the terminal raw.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from voicesim.cli import main
from voicesim.scenario import REPO_SCENARIOS

GOOD = REPO_SCENARIOS / "en" / "late-delivery.toml"
DEMO = sorted((REPO_SCENARIOS.parent / "voicesim" / "data" / "demo" / "late-delivery").glob("*.wav"))


def broken(tmp_path: Path, old: str, new: str) -> Path:
    text = GOOD.read_text(encoding="utf-8")
    assert old in text
    folder = tmp_path / "scenarios"
    folder.mkdir(exist_ok=True)
    path = folder / GOOD.name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


def one_error(capsys, code: int) -> str:
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert err.startswith("voicesim: error: ") and err.count("\n") == 1, err
    return err


@pytest.fixture
def variant_line() -> str:
    return next(l for l in GOOD.read_text().splitlines() if l.startswith("variant"))




@pytest.mark.parametrize("old,new,fragment", [
    ('variant = "{v}"', 'variant = "zz9"', "espeak-ng does not have"),
    ('variant = "{v}"', 'variant = "f3+klatt"', "variant"),
    ('variant = "{v}"', 'variant = "../../etc/passwd"', "variant"),
    ('lang = "en"', 'lang = "xx"', "no scoring language pack"),
    ('title = "', 'title = "\\u001b[2J', "control characters"),
], ids=["unknown variant", "variant+klatt", "variant as a path", "lang xx", "escape code"])
def test_what_cannot_run_does_not_validate_and_no_call_starts(tmp_path: Path, monkeypatch, capsys, variant_line,
                                                             old: str, new: str, fragment: str):
    variant = variant_line.split('"')[1]
    folder = broken(tmp_path, old.format(v=variant), new)
    assert main(["scenarios", "validate", str(folder)]) == 1
    out = capsys.readouterr().out
    assert fragment in out and "\x1b" not in out
    monkeypatch.setenv("VOICESIM_SCENARIOS_DIR", str(folder))
    sessions = tmp_path / "sessions"
    err = one_error(capsys, main(["practice", "--scenario", "late-delivery", "--sessions-dir", str(sessions),
                                  "--replies", *map(str, DEMO)]))
    assert fragment in err and "\x1b" not in err
    assert [p for p in sessions.iterdir() if p.is_dir()] == []


def test_a_200_kb_line_does_not_validate(tmp_path: Path, capsys):
    text = GOOD.read_text(encoding="utf-8")
    start = text.index("[reactions]")
    at = text.index('"', text.index("apology", start)) + 1
    path = tmp_path / GOOD.name
    path.write_text(text[:at] + "so " * 70_000 + text[at:], encoding="utf-8")
    assert main(["scenarios", "validate", str(path)]) == 1
    assert "characters long" in capsys.readouterr().out


def test_deeply_nested_toml_is_one_problem_everywhere(tmp_path: Path, monkeypatch, capsys):
    folder = tmp_path / "deep"
    folder.mkdir()
    (folder / "deep.toml").write_text("x = " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert main(["scenarios", "validate", str(folder)]) == 1
    out, err = capsys.readouterr()
    assert "nested too deeply" in out and "Traceback" not in err
    monkeypatch.setenv("VOICESIM_SCENARIOS_DIR", str(folder))
    assert "nested too deeply" in one_error(capsys, main(["scenarios", "list"]))
    assert "nested too deeply" in one_error(capsys, main(["practice", "--scenario", "deep", "--sessions-dir",
                                                           str(tmp_path / "s"), "--replies", str(DEMO[0])]))
