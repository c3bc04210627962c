"""`voicesim practice` in another language than the bundled (English) demo, on a machine without a sound card.

In-process through voicesim.cli.main; PortAudio is restarted with the sound server pointing nowhere,
so it finds no device, as on a machine without a sound card.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from voicesim.cli import main
from voicesim.devices import refresh_devices
from voicesim.models import model_spec, resolve_model_path


@pytest.fixture
def no_sound_card(monkeypatch):
    monkeypatch.setenv("PULSE_SERVER", "unix:/nonexistent/voicesim-no-pulse")
    monkeypatch.setenv("AUDIODEV", "null")
    monkeypatch.delenv("VOSK_MODEL_PATH", raising=False)
    refresh_devices()
    yield
    monkeypatch.undo()
    refresh_devices()  # let later tests see the devices the environment has


def one_error_line(capsys, argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert len(err.splitlines()) == 1 and err.startswith("voicesim: error:"), err
    return err


def test_german_without_german_model_says_how_to_get_one(no_sound_card, monkeypatch, capsys, tmp_path: Path):
    monkeypatch.setenv("VOICESIM_MODELS_DIR", str(tmp_path / "empty-store"))  # no model installed here
    line = one_error_line(capsys, ["practice", "--lang", "de", "--sessions-dir", str(tmp_path / "sessions")])
    assert "German Vosk model" in line and "vosk-model-small-de-0.15" in line
    assert "voicesim models fetch de" in line and "VOSK_MODEL_PATH" in line
    assert "is in language 'en'" not in line
    assert not (tmp_path / "sessions").exists() or not any((tmp_path / "sessions").iterdir())


def test_german_scenario_by_id_gets_the_same_answer(no_sound_card, monkeypatch, capsys, tmp_path: Path):
    monkeypatch.setenv("VOICESIM_MODELS_DIR", str(tmp_path / "empty-store"))
    line = one_error_line(capsys, ["practice", "--scenario", "reise-storniert", "--sessions-dir", str(tmp_path)])
    assert "German Vosk model" in line and "voicesim models fetch de" in line


def test_german_with_a_german_model_says_there_is_no_german_demo(no_sound_card, monkeypatch, capsys, tmp_path: Path):
    # A store holding a folder under the German model's name: any complete Vosk model folder passes the
    # installed-model check, and the English one is the only model on this machine.
    store = tmp_path / "store"
    store.mkdir()
    (store / model_spec("de").name).symlink_to(resolve_model_path("en"), target_is_directory=True)
    monkeypatch.setenv("VOICESIM_MODELS_DIR", str(store))
    line = one_error_line(capsys, ["practice", "--lang", "de", "--sessions-dir", str(tmp_path / "sessions")])
    assert "no German demo call" in line
    assert "--replies" in line and "headset" in line
