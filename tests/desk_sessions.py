"""The desk tests' sessions folder: real scripted calls for two trainees, plus the odd cases a desk meets.

One session-scoped fixture, ``desk_sessions``, shared by every tests/test_desk*.py module
(registered in conftest.py's pytest_plugins). The calls are real: espeak-ng speaks the
customer, Vosk transcribes the committed trainee replies, the scorer scores them.
The odd cases are made from those calls the way they happen on disk: a copied folder
whose trainee name holds markup, a folder whose session.json was cut short, one whose
recording is gone, and two calls tagged as one benchmark pack (part A's "pack" object).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO = sorted((REPO / "voicesim" / "data" / "demo" / "late-delivery").glob("*.wav"))
BAD_REPLIES = [
    "Well you must have typed the wrong address. That is not our problem.",
    "Calm down. As I already told you, there is nothing I can do about it.",
]
MARKUP_NAME = "<script>alert('x')</script><b>Eve</b>"
PACK = {"id": "starter", "version": "0" * 64}


@dataclass(frozen=True)
class DeskSessions:
    """The folder and which call is which (folder names, the desk's call ids)."""

    root: Path
    good: str
    """sam: the demo replies, resolved."""
    short: str
    """sam: two demo replies on another seed."""
    bad: str
    """alex: blaming replies."""
    alex_good: str
    """alex: the demo replies."""
    markup: str
    damaged_json: str
    no_recording: str
    packed: tuple[str, str]
    """Copies of good and bad as calls 1 of pack "starter"."""


def practice(root: Path, trainee: str, replies: list[Path], seed: int) -> str:
    """One scripted call in this process, on Vosk's words only; returns its folder name.

    The desk shows whichever words a call holds and never reads the second pass's own fields;
    Whisper re-hearing the 12 replies was most of this fixture's time."""
    from voicesim.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["practice", "--trainee", trainee, "--seed", str(seed), "--sessions-dir", str(root),
                     "--json", "--no-second-pass", "--replies", *map(str, replies)])
    assert code == 0, out.getvalue()
    return Path(json.loads(out.getvalue().strip().splitlines()[-1])["session_dir"]).name


def copy_call(root: Path, source: str, name: str, **changes) -> str:
    """A copy of a call folder with some session.json fields changed (the recording hard-linked)."""
    folder = root / name
    folder.mkdir()
    data = json.loads((root / source / "session.json").read_text())
    data.update(changes)
    (folder / "session.json").write_text(json.dumps(data, ensure_ascii=False))
    (folder / "recording.wav").hardlink_to(root / source / "recording.wav")
    return name


@pytest.fixture(scope="session")
def desk_sessions(tmp_path_factory) -> DeskSessions:
    from trainee_voice import speak

    from voicesim.audio import Audio
    from voicesim.audiofile import write_wav

    root = tmp_path_factory.mktemp("desk-sessions")
    replies = tmp_path_factory.mktemp("desk-replies")
    bad = [write_wav(replies / f"{i}.wav", Audio.concat([Audio.silence(0.5), speak(t), Audio.silence(0.3)]))
           for i, t in enumerate(BAD_REPLIES)]
    good = practice(root, "sam", DEMO, seed=0)
    short = practice(root, "sam", DEMO[:2], seed=1)
    bad_call = practice(root, "alex", bad, seed=0)
    alex_good = practice(root, "alex", DEMO, seed=2)
    markup = copy_call(root, good, "copied-markup", trainee=MARKUP_NAME)
    damaged = copy_call(root, good, "damaged-json")
    text = (root / damaged / "session.json").read_text()
    (root / damaged / "session.json").write_text(text[: len(text) // 2])
    no_recording = copy_call(root, short, "lost-recording")
    (root / no_recording / "recording.wav").unlink()
    packed = (copy_call(root, good, "pack-sam", pack={**PACK, "index": 1}),
              copy_call(root, bad_call, "pack-alex", pack={**PACK, "index": 1}))
    shutil.rmtree(replies)
    return DeskSessions(root, good, short, bad_call, alex_good, markup, damaged, no_recording, packed)
