"""``voicesim doctor`` against the real machine: espeak-ng, PortAudio, devices, models (in-process CLI)."""

from __future__ import annotations

import re
import shutil

import pytest
from cli_runner import run_cli

LINE = re.compile(r"^(OK|MISSING) +(\S.*?\S)  +(\S.*)$")


def doctor(**env_changes: str | None) -> tuple[int, dict[str, tuple[str, str]], str]:
    """Run ``voicesim doctor``; return exit code, item -> (status, detail), stderr."""
    proc = run_cli("doctor", env=env_changes)
    items = {}
    for line in proc.stdout.splitlines():
        match = LINE.match(line)
        assert match, f"not an OK/MISSING line: {line!r}"
        items[match[2]] = (match[1], match[3])
    return proc.returncode, items, proc.stderr


def assert_exit_matches_essentials(code: int, items: dict[str, tuple[str, str]]) -> None:
    essential_missing = [item for item, (status, _) in items.items()
                         if status == "MISSING" and not item.endswith("(optional)")]
    assert code == (1 if essential_missing else 0), items


def test_doctor_reports_every_item_with_a_fix_for_each_missing_one():
    code, items, stderr = doctor(VOSK_MODEL_PATH=None)
    assert "Traceback" not in stderr
    assert {"espeak-ng program", "espeak-ng library", "PortAudio", "Vosk", "model en"} <= set(items)
    assert any(item.startswith("model de") for item in items)
    for item, (status, detail) in items.items():
        if status == "MISSING":
            assert "fix:" in detail, (item, detail)
    espeak = shutil.which("espeak-ng")
    assert items["espeak-ng program"][0] == ("OK" if espeak else "MISSING")
    if espeak:
        assert items["espeak-ng program"][1] == espeak
    assert_exit_matches_essentials(code, items)


def test_doctor_names_the_fetch_command_for_a_missing_model(tmp_path):
    code, items, _ = doctor(VOSK_MODEL_PATH=None, VOICESIM_MODELS_DIR=str(tmp_path / "empty-store"))
    status, detail = items["model en"]
    assert status == "MISSING"
    assert detail.endswith("fix: voicesim models fetch en")
    assert str(tmp_path / "empty-store") in detail
    assert code == 1


def test_doctor_names_a_bad_vosk_model_path(tmp_path):
    code, items, _ = doctor(VOSK_MODEL_PATH=str(tmp_path))
    status, detail = items["model en"]
    assert status == "MISSING"
    assert f"VOSK_MODEL_PATH folder {tmp_path}" in detail and "am/final.mdl" in detail
    assert code == 1


@pytest.mark.headset
def test_doctor_sees_the_virtual_headset(virtual_headset):
    code, items, stderr = doctor()  # the fixture routes os.environ (PULSE_SERVER...) to its server
    assert items["audio input"][0] == "OK", items["audio input"]
    assert items["audio output"][0] == "OK", items["audio output"]
    assert_exit_matches_essentials(code, items)
