"""Real scripted benchmark calls, made once per test run and shared by test_packs.py and test_rescore.py.

A two-call pack on late-delivery (the second call starts angry, with little patience),
taken by three trainees through ``voicesim pack run`` in-process:

* ana: the bundled demo replies for call 1, two pre-rendered trainee replies for call 2;
* bob: an interrupted and an unfinished attempt at call 1 first, then the whole pack;
* cara: call 1 finished before, so the pack run takes only call 2.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from trainee_voice import REPLIES_DIR, reply_name

from voicesim.cli import main
from voicesim.commands.practice import DEFAULT_SCENARIO, DEMO_DIR
from voicesim.packs import load_pack
from voicesim.session import Outcome, PackRef, SessionMeta, SessionStore

PACK_TOML = """\
name = "Test week"

[[calls]]
index = 1
scenario = "late-delivery"
seed = 1

[[calls]]
index = 2
scenario = "late-delivery"
seed = 2
start_anger = "angry"
patience = 2
"""
CALL2_REPLIES = ("I'm really sorry about the delay with your order.", "When did you place the order?")
"""Said by the Piper trainee voice (tests/data/trainee/); test_packs.py asks speak() for each, so the
render script (scripts/make_test_replies, which reads speak() calls in test_*.py) keeps them."""
BOB_CALL1_REPLIES = ("Let me check that for you.", "Your new delivery date is next Friday.")


@dataclass(frozen=True)
class PackRun:
    """Where the shared calls are; copy `sessions` before writing into it."""

    root: Path
    pack_file: Path
    sessions: Path
    replies: dict[str, Path]
    """Trainee -> their --replies-dir."""
    exit_codes: dict[str, int]


def trainee_wav(text: str) -> Path:
    path = REPLIES_DIR / reply_name(text)
    assert path.is_file(), f"{path} missing: run scripts/make_test_replies"
    return path


def _replies_dir(folder: Path, calls: dict[int, list[Path]]) -> Path:
    for index, files in calls.items():
        (folder / str(index)).mkdir(parents=True)
        for n, file in enumerate(files, 1):
            shutil.copy(file, folder / str(index) / f"{n:02d}.wav")
    return folder


def earlier_attempt(sessions: Path, pack_file: Path, trainee: str, index: int, outcome: Outcome | None) -> Path:
    """A pack session left as Ctrl-C (INTERRUPTED) or a crash (None: in_progress) leaves it, or finished."""
    pack = load_pack(pack_file)
    meta = SessionMeta(scenario_id=DEFAULT_SCENARIO, scenario_version="x", lang="en", model="m", seed=1,
                       trainee=trainee, mode="scripted", pack=PackRef(pack.id, pack.version, index))
    with SessionStore(sessions).create(meta) as session:
        if outcome is not None:
            session.finish(outcome, overall=40)
    return session.folder


@functools.cache
def pack_run() -> PackRun:
    root = Path(tempfile.mkdtemp(prefix="voicesim-pack-calls-"))
    atexit.register(shutil.rmtree, root, True)
    pack_file = root / "test-week.toml"
    pack_file.write_text(PACK_TOML, encoding="utf-8")
    sessions = root / "sessions"
    demo = sorted((DEMO_DIR / DEFAULT_SCENARIO).glob("*.wav"))
    call2 = [trainee_wav(t) for t in CALL2_REPLIES]
    replies = {
        "ana": _replies_dir(root / "ana", {1: demo, 2: call2}),
        "bob": _replies_dir(root / "bob", {1: [trainee_wav(t) for t in BOB_CALL1_REPLIES], 2: call2}),
        "cara": _replies_dir(root / "cara", {2: call2}),  # call 1 is done already: no replies needed
    }
    earlier_attempt(sessions, pack_file, "bob", 1, Outcome.INTERRUPTED)
    earlier_attempt(sessions, pack_file, "bob", 1, None)
    earlier_attempt(sessions, pack_file, "cara", 1, Outcome.RESOLVED)
    codes = {trainee: main(["pack", "run", str(pack_file), "--trainee", trainee, "--replies-dir", str(folder),
                            "--sessions-dir", str(sessions), "--json"])
             for trainee, folder in replies.items()}
    return PackRun(root, pack_file, sessions, replies, codes)
