"""Sessions: every practice call saved as a folder, plus an SQLite index to find them.

A session folder holds ``recording.wav`` (16 kHz 16-bit stereo: customer left,
trainee right, time-aligned) and ``session.json``. Both are written while the call
runs: audio is appended with the WAV header patched after every block, and
``session.json`` is replaced atomically (temp file + ``os.replace``) after every
turn, so a crash or Ctrl-C never loses a finished turn.

The session folders are the truth; ``sessions.db`` in the sessions folder is a cache
of them. Listing reconciles it with the folders (re-reading only the ``session.json``
files whose mtime, size or inode changed), rebuilds it when it is damaged or from another
format, and lists straight from the folders when it cannot be opened or written
(locked, read-only). A call never fails because of the index: it writes its folder
first, and an index problem becomes one warning line.

Turns arrive as typed :class:`TurnRecord` values (:meth:`Session.add_turn`); they
become JSON only here, in :meth:`TurnRecord.to_json`.

>>> import tempfile, numpy as np
>>> store = SessionStore(tempfile.mkdtemp())
>>> meta = SessionMeta(scenario_id="late-delivery", scenario_version="abc", lang="en",
...                    model="vosk-model-small-en-us-0.15", seed=1, trainee="sam", mode="scripted")
>>> with store.create(meta) as session:
...     _ = session.recording.add_customer(np.zeros(1600, np.float32))
...     session.finish(Outcome.HUNG_UP, overall=20)
>>> [s.trainee for s in store.list(trainee="sam")]
['sam']
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import re
import sqlite3
import struct
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import astuple, dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voicesim import __version__
from voicesim.audio import SAMPLE_RATE, float_to_int16
from voicesim.errors import VoicesimError
from voicesim.files import ordinary_mode, replace_atomically

if TYPE_CHECKING:
    from voicesim.customer import CustomerReaction
    from voicesim.scorecard import Scorecard
    from voicesim.transcript import Transcript
    from voicesim.turns import TurnEvidence

ENV_DIR = "VOICESIM_SESSIONS_DIR"
INDEX_NAME = "sessions.db"
SESSION_JSON = "session.json"
RECORDING = "recording.wav"
FORMAT = 1
"""session.json format version; bump when a field changes meaning."""
INDEX_FORMAT = 3
"""sessions.db layout (PRAGMA user_version); an index of another layout is rebuilt."""
CALL_INDEX_TIMEOUT_S = 0.25
"""Longest a call waits for a locked index before it warns and goes on: the folder is saved already."""
LIST_INDEX_TIMEOUT_S = 2.0
"""Longest a listing waits for a locked index before it reads the folders directly."""


class Outcome(StrEnum):
    """How a call ended: session.json's "outcome" (str-valued, so the JSON reads the same)."""

    IN_PROGRESS = "in_progress"
    """Not ended: the call still runs, or its process died mid-call."""
    RESOLVED = "resolved"
    HUNG_UP = "hung_up"
    TURN_LIMIT = "turn_limit"
    """The customer's turn limit was reached, or a scripted call's replies ran out."""
    INTERRUPTED = "interrupted"
    """Ctrl-C."""
    DEVICE_LOST = "device_lost"
    """The audio device disappeared mid-call."""


IN_PROGRESS, INTERRUPTED, DEVICE_LOST = Outcome.IN_PROGRESS, Outcome.INTERRUPTED, Outcome.DEVICE_LOST


def round_s(seconds: float | None) -> float | None:
    """A time for session.json: seconds to the millisecond; None stays None."""
    return None if seconds is None else round(float(seconds), 3)


def default_sessions_dir() -> Path:
    """--sessions-dir default: $VOICESIM_SESSIONS_DIR, else ~/.local/share/voicesim/sessions."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "voicesim" / "sessions"


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class PackRef:
    """Which call of which benchmark pack a session is (voicesim.packs); session.json's "pack"."""

    id: str
    version: str
    """sha256 of the pack file's bytes: an edited pack is another benchmark."""
    index: int
    """The call's index in the pack."""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "index": self.index}


@dataclass(frozen=True)
class SessionMeta:
    """What a session is a recording of; written at the top of session.json."""

    scenario_id: str
    scenario_version: str
    """Content hash of the scenario file, so calls on an edited scenario are told apart."""
    lang: str
    model: str
    """Vosk model folder name (it carries the model's version, e.g. vosk-model-small-en-us-0.15)."""
    seed: int
    trainee: str
    mode: str
    """"live" (headset) or "scripted" (replies from files)."""
    voicesim_version: str = __version__
    pack: PackRef | None = None
    """Set when the call is part of a benchmark pack."""


@dataclass(frozen=True)
class SessionSummary:
    """One row of the index."""

    session_dir: str
    trainee: str
    scenario_id: str
    scenario_version: str
    lang: str
    mode: str
    started_at: str
    ended_at: str | None
    outcome: str
    turns: int
    overall: int | None
    pack_id: str | None = None
    """Benchmark pack of the call (session.json "pack"), else None."""
    pack_version: str | None = None
    pack_index: int | None = None


@dataclass(frozen=True)
class CustomerSpeech:
    """A line the customer said, placed on the recording's clock."""

    text: str
    start_s: float
    end_s: float
    """Where it stopped: its end, or where the trainee cut it off."""

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "start_s": round_s(self.start_s), "end_s": round_s(self.end_s)}


@dataclass(frozen=True)
class SilencePrompt:
    """The customer checking the line is alive ("Hello?") while the trainee says nothing."""

    text: str
    start_s: float
    """On the recording's clock."""

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "start_s": round_s(self.start_s)}


@dataclass(frozen=True)
class FalseStart:
    """The customer began to answer in a pause and broke off because the trainee went on (not the trainee's fault)."""

    start_s: float
    """When the customer began, on the recording's clock."""
    stop_s: float
    """When the customer stopped (the trainee's voice was heard)."""
    evidence: TurnEvidence | None = None
    """What the turn detector saw when it let the customer speak."""

    def to_json(self) -> dict[str, Any]:
        return {"start_s": round_s(self.start_s), "stop_s": round_s(self.stop_s),
                "evidence": None if self.evidence is None else self.evidence.to_json()}


@dataclass(frozen=True)
class TraineeSpeech:
    """The trainee's reply in one turn."""

    transcript: Transcript
    """Word times count from offset_s."""
    offset_s: float
    """Where the reply's audio starts on the recording's clock."""
    engine: str = "vosk"
    """The ASR that heard these words: vosk (the live ear) or whisper (the second pass)."""
    model: str | None = None
    """That engine's model (its folder name, which carries the version)."""

    def to_json(self) -> dict[str, Any]:
        words = [
            {"word": w.word, "start_s": round_s(None if w.start_s is None else w.start_s + self.offset_s),
             "end_s": round_s(None if w.end_s is None else w.end_s + self.offset_s), "conf": w.conf}
            for w in self.transcript.words
        ]
        return {
            "engine": self.engine,
            "model": self.model,
            "text": self.transcript.text,
            "start_s": words[0]["start_s"] if words else None,
            "end_s": words[-1]["end_s"] if words else None,
            "words": words,
        }


class SecondPassState(StrEnum):
    """Whether the turn's final words are the second pass's (voicesim/call/rehear.py), and if not, why."""

    DONE = "done"
    """Whisper heard the reply again: trainee and scorecard are its, heard_live and live_scorecard Vosk's."""
    PENDING = "pending"
    """The call is still on; the second pass may yet replace the words."""
    OFF = "off"
    """No second pass in this call (not installed, --no-second-pass, language): Vosk's words are final."""
    UNFINISHED = "unfinished"
    """The call ended before the second pass had heard this reply: Vosk's words are final."""
    FAILED = "failed"
    """The second pass failed on this reply: Vosk's words are final."""
    NO_SPEECH = "no_speech"
    """Vosk heard no words: the reply is not heard again (Whisper tends to invent words in silence)."""


@dataclass(frozen=True)
class TurnRecord:
    """One finished turn: the customer's line, the trainee's reply, its scorecard, the customer's answer."""

    index: int
    """1 for the reply to the opening line."""
    customer: CustomerSpeech
    """The line this turn answers."""
    trainee: TraineeSpeech
    scorecard: Scorecard
    customer_answer: CustomerReaction
    silence_prompts: tuple[SilencePrompt, ...] = ()
    response_delay_s: float | None = None
    """From the end of the customer's line to the trainee's first speech (0 when they talked over it)."""
    end_of_turn_latency_s: float | None = None
    """Live calls: the trainee's last voiced sample to the start of the customer's answer."""
    interruptions: int = 0
    """Times the trainee talked over the customer."""
    false_starts: tuple[FalseStart, ...] = ()
    """Live calls: the customer's answers begun in a pause of this reply and broken off (not interruptions)."""
    end_of_turn: TurnEvidence | None = None
    """Live calls: why the turn detector ended the reply where it did."""
    heard_live: TraineeSpeech | None = None
    """The live ear's (Vosk's) words, which the customer reacted to; None when they are `trainee`."""
    live_scorecard: Scorecard | None = None
    """The scorecard on the live words; None when it is `scorecard`."""
    second_pass: SecondPassState = SecondPassState.PENDING

    def to_json(self) -> dict[str, Any]:
        """The turn as session.json holds it."""
        return {
            "index": self.index,
            "customer": self.customer.to_json(),
            "silence_prompts": [p.to_json() for p in self.silence_prompts],
            "trainee": self.trainee.to_json(),
            "heard_live": (self.heard_live or self.trainee).to_json(),
            "second_pass": self.second_pass.value,
            "scorecard": _scorecard_json(self.scorecard),
            "live_scorecard": None if self.live_scorecard is None else _scorecard_json(self.live_scorecard),
            "response_delay_s": round_s(self.response_delay_s),
            "end_of_turn_latency_s": round_s(self.end_of_turn_latency_s),
            "interruptions": self.interruptions,
            "false_starts": [f.to_json() for f in self.false_starts],
            "end_of_turn": None if self.end_of_turn is None else self.end_of_turn.to_json(),
            "customer_answer": _reaction_json(self.customer_answer),
        }


def _scorecard_json(card: Scorecard) -> dict[str, Any]:
    """The scorecard in the score command's JSON shape (docs/scorecard.md)."""
    from voicesim.scoring import scorecard_to_json

    return json.loads(scorecard_to_json(card))


def _reaction_json(reaction: CustomerReaction) -> dict[str, Any]:
    return {
        "text": reaction.text,
        "slots": [line.slot for line in reaction.lines],
        "anger": reaction.anger,
        "anger_delta": reaction.anger_delta,
        "rules": [{"rule": h.rule, "delta": h.delta} for h in reaction.rules],
        "outcome": reaction.outcome,
    }


class StereoRecording:
    """A WAV file that grows while the call runs: customer on the left, trainee on the right.

    The timeline advances with the trainee channel (the microphone never stops);
    customer audio is placed at the current position and mixed in as the timeline
    passes it. Scripted calls advance the timeline with :meth:`add_customer`, which
    also writes silence for the trainee.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._frames = 0
        self._customer: list[tuple[int, np.ndarray]] = []
        """Customer audio not yet written: (start frame, float samples)."""
        self._failed = False
        """Writing failed (disk full, file too large): nothing more is written, the header stays valid."""
        try:
            self._f = open(path, "wb")
            self._f.write(_wav_header(0))
            self._f.flush()
        except OSError as exc:
            raise self._write_error(exc) from None

    @property
    def position_s(self) -> float:
        """Length of the recording so far, in seconds."""
        return self._frames / SAMPLE_RATE

    def schedule_customer(self, samples: np.ndarray, at_s: float | None = None) -> float:
        """Put customer audio on the left channel starting at `at_s` (default: now); returns its start."""
        start = self._frames if at_s is None else max(int(round(at_s * SAMPLE_RATE)), self._frames)
        self._customer.append((start, np.asarray(samples, dtype=np.float32)))
        return start / SAMPLE_RATE

    def cut_customer(self, at_s: float) -> None:
        """The customer stopped talking at `at_s` (barge-in): drop what was not played."""
        cut = int(round(at_s * SAMPLE_RATE))
        self._customer = [(s, a[: max(cut - s, 0)]) for s, a in self._customer if cut > s]

    def add_trainee(self, samples: np.ndarray) -> None:
        """Append microphone samples; the customer's scheduled audio is mixed in alongside."""
        right = np.asarray(samples, dtype=np.float32).reshape(-1)
        left = self._customer_span(self._frames, len(right))
        self._write(left, right)

    def add_customer(self, samples: np.ndarray) -> tuple[float, float]:
        """Scripted calls: the customer speaks now while the trainee is silent; returns (start_s, end_s)."""
        start = self.schedule_customer(samples)
        self.add_trainee(np.zeros(len(samples), dtype=np.float32))
        return start, self.position_s

    def drain(self) -> None:
        """Write out customer audio still scheduled (the call ended while the customer spoke)."""
        end = max((s + len(a) for s, a in self._customer), default=self._frames)
        if end > self._frames:
            self.add_trainee(np.zeros(end - self._frames, dtype=np.float32))

    def close(self) -> None:
        if self._f.closed:
            return
        try:
            if not self._failed:
                self.drain()
        finally:
            try:
                self._f.close()
            except OSError:
                pass  # the write already failed and was reported; the header on disk is valid

    def _customer_span(self, start: int, n: int) -> np.ndarray:
        out = np.zeros(n, dtype=np.float32)
        keep = []
        for s, a in self._customer:
            lo, hi = max(s, start), min(s + len(a), start + n)
            if hi > lo:
                out[lo - start : hi - start] += a[lo - s : hi - s]
            if s + len(a) > start + n:
                keep.append((s, a))
        self._customer = keep
        return out

    def _write(self, left: np.ndarray, right: np.ndarray) -> None:
        if not len(right) or self._failed:
            return
        frames = np.empty((len(right), 2), dtype=np.int16)
        frames[:, 0], frames[:, 1] = float_to_int16(left), float_to_int16(right)
        try:
            self._f.seek(self._frames * 4 + 44)  # after the last whole frame, over any half-written block
            self._f.write(frames.tobytes())
            self._f.flush()
            self._frames += len(right)
            # Patch the sizes after every block so the file is a valid WAV at any moment.
            self._f.seek(0)
            self._f.write(_wav_header(self._frames * 4))
            self._f.flush()
        except OSError as exc:
            self._failed = True
            raise self._write_error(exc) from None

    def _write_error(self, exc: OSError) -> VoicesimError:
        return VoicesimError(
            f"cannot write the call recording {self.path} ({_reason(exc)}); the call stopped there and every finished "
            f"turn is saved in {self.path.parent / SESSION_JSON}; free some space and start a new call"
        )


def _wav_header(data_bytes: int) -> bytes:
    channels, width = 2, 2
    return (
        b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, SAMPLE_RATE, SAMPLE_RATE * channels * width, channels * width, 16)
        + b"data" + struct.pack("<I", data_bytes)
    )


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` with `data` so readers see the old or the new file, never half of one.

    The file gets the ordinary mode (0666 less the umask), like recording.wav beside it.
    """
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    # A lone surrogate (an undecodable byte from argv) must not make the file invalid UTF-8.
    raw = text.encode("utf-8", "replace")
    try:
        replace_atomically(path, lambda f: f.write(raw))
    except OSError as exc:
        raise VoicesimError(
            f"cannot save {path} ({_reason(exc)}); the turns saved before this one are still in it; "
            "free some space or fix the folder's permissions"
        ) from None


class Session:
    """One call being recorded; use as a context manager so the recording is always closed."""

    def __init__(self, store: SessionStore, folder: Path, meta: SessionMeta) -> None:
        self.store = store
        self.folder = folder
        self.recording = StereoRecording(folder / RECORDING)
        self.turns: list[TurnRecord] = []
        """The finished turns, as recorded (session.json holds them as JSON)."""
        self.data: dict[str, Any] = {
            "format": FORMAT,
            "voicesim_version": meta.voicesim_version,
            "scenario": {"id": meta.scenario_id, "version": meta.scenario_version, "lang": meta.lang},
            "model": meta.model,
            "seed": meta.seed,
            "trainee": meta.trainee,
            "mode": meta.mode,
            "started_at": utc_now(),
            "ended_at": None,
            "outcome": Outcome.IN_PROGRESS.value,
            "overall": None,
            "recording": RECORDING,
            "turns": [],
        }
        if meta.pack is not None:  # only benchmark calls carry it: other sessions stay as they were
            self.data["pack"] = meta.pack.to_json()
        self._save()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_turn(self, turn: TurnRecord) -> None:
        """Record a finished turn; on disk before this returns."""
        self.turns.append(turn)
        self.data["turns"].append(turn.to_json())
        self._save()

    def revise_turns(self, turns: Sequence[TurnRecord]) -> None:
        """Replace the recorded turns with their final versions (the second pass's words); saved by finish()."""
        self.turns[:] = turns
        self.data["turns"] = [t.to_json() for t in turns]

    def finish(self, outcome: Outcome | str, overall: int | None, debrief: dict[str, Any] | None = None,
               assessment: dict[str, Any] | None = None) -> None:
        """The call is over: outcome, the call's overall score, the debrief, the verdict per principle."""
        self.data.update(outcome=Outcome(outcome).value, overall=overall, ended_at=utc_now())
        if debrief is not None:
            self.data["debrief"] = debrief
        if assessment is not None:
            self.data["assessment"] = assessment
        self.recording.close()
        self._save()

    def close(self) -> None:
        """Close the recording; a call never finished stays 'in_progress' with its finished turns."""
        self.recording.close()

    def _save(self) -> None:
        write_json_atomic(self.folder / SESSION_JSON, self.data)
        self.store.index(self.folder, self.data)


class SessionStore:
    """The sessions folder: creates session folders, keeps sessions.db in step, lists the calls.

    With ``create=True`` (a call is about to be recorded) the folder is made and a
    write is tried at once, so the trainee learns of an unwritable folder before the
    call starts. With ``create=False`` (listing) nothing on disk is created.
    `warn` receives one line per problem that is worked around (default: stderr).
    """

    def __init__(self, root: str | os.PathLike | None = None, *, create: bool = True,
                 warn: Callable[[str], None] | None = None) -> None:
        self.explicit = root is not None
        """The folder was named (--sessions-dir), rather than the default."""
        if root is not None and not str(root).strip():
            raise VoicesimError("--sessions-dir is empty; give the path of the sessions folder, or leave it out for the default")
        self.root = (Path(root).expanduser() if root is not None else default_sessions_dir()).resolve()
        self.db_path = self.root / INDEX_NAME
        self._warn = warn or _stderr_warning
        self._warned: set[str] = set()
        if create:
            self._check_writable()

    def _check_writable(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".probe-"):
                pass
        except OSError as exc:
            raise VoicesimError(
                f"cannot write the sessions folder {self.root} ({_reason(exc)}); "
                f"pass --sessions-dir DIR or set {ENV_DIR} to a writable folder"
            ) from None

    def create(self, meta: SessionMeta) -> Session:
        folder = self._new_folder(meta)
        return Session(self, folder, meta)

    def _new_folder(self, meta: SessionMeta) -> Path:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{_slug(meta.scenario_id)}-{_slug(meta.trainee)}"
        for n in range(1, 10_000):
            folder = self.root / (base if n == 1 else f"{base}-{n}")
            try:
                folder.mkdir()
                return folder
            except FileExistsError:
                continue
            except OSError as exc:
                raise VoicesimError(f"cannot create a session folder in {self.root} ({_reason(exc)}); "
                                    "free some space or fix the folder's permissions") from None
        raise VoicesimError(f"too many sessions named {base}* in {self.root}; remove old ones")

    def warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self._warn(message)

    # --- the index while a call runs ------------------------------------------------------

    def index(self, folder: Path, data: dict[str, Any]) -> None:
        """Put a session's row into sessions.db; any failure is one warning, never an exception.

        The folder is on disk already, so the next listing finds the call anyway.
        """
        summary = summarize(folder, data)
        if isinstance(summary, str):
            return
        try:
            stat = (folder / SESSION_JSON).stat()
            con = sqlite3.connect(self.db_path, timeout=CALL_INDEX_TIMEOUT_S)
            try:
                with con:
                    if not _usable_schema(con):
                        return  # another layout: the next listing rebuilds it
                    _put(con, [(summary, _stamp(stat))])
            finally:
                con.close()
        except (sqlite3.Error, OSError) as exc:
            self.warn_once("index", f"could not update the session index {self.db_path} ({_reason(exc)}); "
                                    f"the call is saved in {folder} and `voicesim sessions list` will find it")

    # --- listing ----------------------------------------------------------------------------

    def list(self, trainee: str | None = None, scenario: str | None = None,
             pack: str | None = None) -> list[SessionSummary]:
        """Sessions, oldest first, optionally only one trainee's, one scenario's or one benchmark pack's."""
        rows = [r for r in self.reconcile()
                if trainee in (None, r.trainee) and scenario in (None, r.scenario_id) and pack in (None, r.pack_id)]
        return sorted(rows, key=lambda r: (r.started_at, r.session_dir))

    def reconcile(self) -> list[SessionSummary]:
        """Every readable session in the folders, with sessions.db brought in step on the way.

        Only session.json files whose stamp (mtime_ns, size, inode) differs from the index's are read.
        """
        try:
            is_dir = self.root.is_dir()
        except OSError as exc:
            raise VoicesimError(f"cannot read the sessions folder {self.root} ({_reason(exc)}); fix its permissions") from None
        if not is_dir:
            if self.explicit:
                raise VoicesimError(f"sessions folder {self.root} does not exist; check --sessions-dir (or {ENV_DIR})")
            return []
        on_disk = dict(self._scan())
        cached, problem = self._read_index()
        fresh: dict[str, tuple[SessionSummary, Stamp]] = {}
        for key, (path, stamp) in on_disk.items():
            hit = cached.get(key)
            if hit is not None and hit[1] == stamp:
                fresh[key] = hit
                continue
            summary = _read_summary(path)
            if isinstance(summary, str):
                self._warn(f"skipped session folder {path.parent}: {summary}")
            else:
                fresh[key] = (summary, stamp)
        changed = [v for k, v in fresh.items() if cached.get(k) != v]
        gone = [k for k in cached if k not in fresh]
        written = False
        if problem != "unusable" and (problem == "damaged" or changed or gone):
            written = self._write_index(fresh, changed, gone, rebuild=problem is not None)
        if problem == "damaged":
            done = "rebuilt it from the session folders" if written else "listed from the session folders"
            self._warn(f"the session index {self.db_path} was damaged; {done}")
        return [summary for summary, _ in fresh.values()]

    def reindex(self) -> int:
        """Rebuild sessions.db from the session folders; returns how many sessions were found."""
        self.db_path.unlink(missing_ok=True)
        return len(self.reconcile())

    def _scan(self) -> Iterator[tuple[str, tuple[Path, Stamp]]]:
        """(session_dir, (session.json path, its stamp)) for every folder holding a session.json."""
        try:
            entries = sorted(os.scandir(self.root), key=lambda e: e.name)
        except OSError as exc:
            raise VoicesimError(f"cannot read the sessions folder {self.root} ({_reason(exc)}); fix its permissions") from None
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            path = Path(entry.path) / SESSION_JSON
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # not a session folder (or one whose call never got going)
            except OSError as exc:
                self._warn(f"skipped session folder {entry.path}: cannot read it ({_reason(exc)})")
                continue
            yield str(path.parent), (path, _stamp(stat))

    def _read_index(self) -> tuple[dict[str, tuple[SessionSummary, Stamp]], str | None]:
        """The cached rows, and None, "missing", "stale" (other layout) or "damaged"/"unusable"."""
        if not self.db_path.exists():
            return {}, "missing"
        try:
            con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=LIST_INDEX_TIMEOUT_S)
            try:
                if con.execute("PRAGMA user_version").fetchone()[0] != INDEX_FORMAT:
                    return {}, "stale"
                rows = con.execute(f"SELECT {_COLUMNS}, mtime_ns, size, inode FROM sessions").fetchall()
            finally:
                con.close()
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                self.warn_once("busy", f"the session index {self.db_path} is locked by another program ({exc}); "
                                       "listing from the session folders")
                return {}, "unusable"
            return {}, "damaged"  # no such table, unreadable file: treat as damaged
        except sqlite3.DatabaseError:
            return {}, "damaged"  # "file is not a database", "malformed"
        return {r[0]: (SessionSummary(*r[:-3]), tuple(r[-3:])) for r in rows}, None

    def _write_index(self, fresh: dict[str, tuple[SessionSummary, Stamp]], changed: list, gone: list[str],
                     rebuild: bool) -> bool:
        """Bring sessions.db in step; False when it cannot be written (said once: the listing is complete anyway)."""
        if not os.access(self.root, os.W_OK, effective_ids=os.access in os.supports_effective_ids):
            return False  # a read-only sessions folder (an archive): list it, touch nothing
        try:
            if rebuild:
                self._rebuild(list(fresh.values()))
                return True
            con = sqlite3.connect(self.db_path, timeout=LIST_INDEX_TIMEOUT_S)
            try:
                with con:
                    con.executemany("DELETE FROM sessions WHERE session_dir = ?", [(k,) for k in gone])
                    _put(con, changed)
            finally:
                con.close()
            return True
        except (sqlite3.Error, OSError) as exc:
            self.warn_once("index", f"could not update the session index {self.db_path} ({_reason(exc)}); "
                                    "listed from the session folders")
            return False

    def _rebuild(self, rows: list[tuple[SessionSummary, Stamp]]) -> None:
        """Write a whole new sessions.db beside the old one and swap it in, so readers never see half."""
        fd, tmp = tempfile.mkstemp(prefix=".sessions-", suffix=".db", dir=self.root)
        os.close(fd)
        try:
            con = sqlite3.connect(tmp)
            try:
                with con:
                    _create_schema(con)
                    _put(con, rows)
            finally:
                con.close()
            os.chmod(tmp, ordinary_mode())
            os.replace(tmp, self.db_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


_COLUMNS = ", ".join(f.name for f in fields(SessionSummary))

Stamp = tuple[int, int, int]
"""(mtime_ns, size, inode) of a session.json: session.json is replaced, never edited in place, so each
save gets a new inode and the stamp changes even when two saves fall in one timestamp tick."""


def _stamp(stat: os.stat_result) -> Stamp:
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def _create_schema(con: sqlite3.Connection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS sessions ("
        " session_dir TEXT PRIMARY KEY, trainee TEXT, scenario_id TEXT, scenario_version TEXT,"
        " lang TEXT, mode TEXT, started_at TEXT, ended_at TEXT, outcome TEXT, turns INTEGER, overall INTEGER,"
        " pack_id TEXT, pack_version TEXT, pack_index INTEGER,"
        " mtime_ns INTEGER, size INTEGER, inode INTEGER)"
    )
    con.execute("CREATE INDEX IF NOT EXISTS by_trainee ON sessions (trainee, started_at)")
    con.execute("CREATE INDEX IF NOT EXISTS by_scenario ON sessions (scenario_id, started_at)")
    con.execute("CREATE INDEX IF NOT EXISTS by_pack ON sessions (pack_id, pack_index)")
    con.execute(f"PRAGMA user_version = {INDEX_FORMAT}")


def _usable_schema(con: sqlite3.Connection) -> bool:
    """True when the index has this layout; an empty file gets it. Another layout is left for listing to rebuild."""
    version = con.execute("PRAGMA user_version").fetchone()[0]
    if version == INDEX_FORMAT:
        return True
    if version == 0 and con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
        _create_schema(con)
        return True
    return False


def _put(con: sqlite3.Connection, rows: list[tuple[SessionSummary, Stamp]]) -> None:
    con.executemany(
        f"INSERT OR REPLACE INTO sessions ({_COLUMNS}, mtime_ns, size, inode)"
        f" VALUES ({', '.join('?' * (len(fields(SessionSummary)) + 3))})",
        [(*astuple(summary), *stamp) for summary, stamp in rows],
    )


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _read_summary(path: Path) -> SessionSummary | str:
    """The index row of one session.json, or what is wrong with the file."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8", "replace"))
    except OSError as exc:
        return f"cannot read {SESSION_JSON} ({_reason(exc)})"
    except (ValueError, RecursionError) as exc:
        return f"{SESSION_JSON} is not valid JSON ({str(exc)[:80]})"
    return summarize(path.parent, data)


def summarize(folder: Path, data: Any) -> SessionSummary | str:
    """The index row of a session's data, or what is wrong with it (a file edited or broken by hand)."""
    if not isinstance(data, dict):
        return f"{SESSION_JSON} holds {type(data).__name__}, not a session object"
    scenario = data.get("scenario", {})
    if not isinstance(scenario, dict):
        return f"'scenario' in {SESSION_JSON} is not an object"
    turns = data.get("turns", [])
    if not isinstance(turns, list):
        return f"'turns' in {SESSION_JSON} is not a list"
    overall = data.get("overall")
    pack = data.get("pack") if isinstance(data.get("pack"), dict) else {}
    return SessionSummary(
        session_dir=str(folder),
        trainee=_text(data.get("trainee")),
        scenario_id=_text(scenario.get("id")),
        scenario_version=_text(scenario.get("version")),
        lang=_text(scenario.get("lang")),
        mode=_text(data.get("mode")),
        started_at=_text(data.get("started_at")),
        ended_at=data["ended_at"] if isinstance(data.get("ended_at"), str) else None,
        outcome=_text(data.get("outcome")) or IN_PROGRESS,
        turns=len(turns),
        overall=_int(overall),
        pack_id=pack.get("id") if isinstance(pack.get("id"), str) else None,
        pack_version=pack.get("version") if isinstance(pack.get("version"), str) else None,
        pack_index=_int(pack.get("index")),
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _reason(exc: OSError | sqlite3.Error) -> str:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return "the disk is full"
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__


def _stderr_warning(message: str) -> None:
    from voicesim.safetext import printable

    print(f"voicesim: warning: {printable(message)}", file=sys.stderr, flush=True)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:40] or "x"
