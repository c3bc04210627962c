"""Shared fixtures: the real-speech recordings in tests/data/real-speech and the English Vosk model."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_SPEECH = Path(__file__).resolve().parent / "data" / "real-speech"
"""Recordings of real people with reference transcripts (sources and licences in its README.md)."""
sys.path.insert(0, str(Path(__file__).resolve().parent))

pytest_plugins = ["virtual_headset", "cli_runner", "desk_sessions", "worker_balance"]
"""Their `virtual_headset`, `cli` and `desk_sessions` fixtures are available to every test without an import;
worker_balance orders the files for scripts/test's xdist workers."""


def pytest_configure(config) -> None:
    # The English personas speak with Piper (about 1 s a line, cold). Tests of the call's logic
    # hear espeak-ng, the default engine, so a fresh machine's first run does not spend minutes
    # rendering ~400 scenario lines; tests/test_voice.py unsets this and tests Piper itself.
    import os

    from voicesim.tts import ENGINE_ENV

    os.environ.setdefault(ENGINE_ENV, "espeak")
    # scripts/test runs -q and CI reads the closing line: list what was skipped or expected to fail (with the
    # reason) above it too, so its counts explain themselves. An explicit -r on the command line wins.
    if config.option.reportchars == "fE":
        config.option.reportchars = "fEsxX"


@pytest.fixture(scope="session")
def real_speech_dir() -> Path:
    if not (REAL_SPEECH / "transcripts.tsv").is_file():
        pytest.fail(f"real-speech fixtures missing from {REAL_SPEECH}; they are part of the repository: git checkout tests/data")
    return REAL_SPEECH


@pytest.fixture(scope="session")
def real_speech_references(real_speech_dir: Path) -> dict[str, str]:
    """File name -> reference transcript."""
    with open(real_speech_dir / "transcripts.tsv", newline="") as f:
        return {row["file"]: row["reference_transcript"] for row in csv.DictReader(f, delimiter="\t")}


@pytest.fixture(scope="session")
def en_model():
    """The English Vosk model (vosk.Model), loaded once for the whole test session."""
    from voicesim.asr import load_model
    from voicesim.errors import VoicesimError
    from voicesim.models import resolve_model_path

    try:
        return load_model(resolve_model_path("en"))
    except VoicesimError as exc:
        pytest.fail(f"English Vosk model unavailable: {exc}")
