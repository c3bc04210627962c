"""Sessions: every practice call saved as a folder, plus an SQLite index to find them.

A session folder holds ``recording.wav`` (16 kHz 16-bit stereo: customer left,
trainee right, time-aligned) and ``session.json``. Both are written while the call
runs: audio is appended with the WAV header patched after every block, and
``session.json`` is replaced atomically (temp file + ``os.replace``) after every
turn, so a crash or Ctrl-C never loses a finished turn. ``sessions.db`` in the
sessions folder indexes the calls by trainee and scenario; it is derived data and
is rebuilt from the folders when missing.

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
import json
import os
import re
import sqlite3
import struct
import tempfile
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voicesim import __version__
from voicesim.audio import SAMPLE_RATE, float_to_int16
from voicesim.errors import VoicesimError

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
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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

    def to_json(self) -> dict[str, Any]:
        words = [
            {"word": w.word, "start_s": round_s(None if w.start_s is None else w.start_s + self.offset_s),
             "end_s": round_s(None if w.end_s is None else w.end_s + self.offset_s), "conf": w.conf}
            for w in self.transcript.words
        ]
        return {
            "text": self.transcript.text,
            "start_s": words[0]["start_s"] if words else None,
            "end_s": words[-1]["end_s"] if words else None,
            "words": words,
        }


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

    def to_json(self) -> dict[str, Any]:
        """The turn as session.json holds it."""
        return {
            "index": self.index,
            "customer": self.customer.to_json(),
            "silence_prompts": [p.to_json() for p in self.silence_prompts],
            "trainee": self.trainee.to_json(),
            "scorecard": _scorecard_json(self.scorecard),
            "response_delay_s": round_s(self.response_delay_s),
            "end_of_turn_latency_s": round_s(self.end_of_turn_latency_s),
            "interruptions": self.interruptions,
            "false_starts": [f.to_json() for f in self.false_starts],
            "end_of_turn": None if self.end_of_turn is None else self.end_of_turn.to_json(),
            "customer_answer": _reaction_json(self.customer_answer),
        }


def _scorecard_json(card: Scorecard) -> dict[str, Any]:
    """The scorecard in the score command's JSON shape (DESIGN.md)."""
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
        self._f = open(path, "wb")
        self._frames = 0
        self._customer: list[tuple[int, np.ndarray]] = []
        """Customer audio not yet written: (start frame, float samples)."""
        self._f.write(_wav_header(0))
        self._f.flush()

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
        if not self._f.closed:
            self.drain()
            self._f.close()

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
        if not len(right):
            return
        frames = np.empty((len(right), 2), dtype=np.int16)
        frames[:, 0], frames[:, 1] = float_to_int16(left), float_to_int16(right)
        self._f.seek(0, os.SEEK_END)
        self._f.write(frames.tobytes())
        self._frames += len(right)
        # Patch the sizes after every block so the file is a valid WAV at any moment.
        self._f.seek(0)
        self._f.write(_wav_header(self._frames * 4))
        self._f.flush()


def _wav_header(data_bytes: int) -> bytes:
    channels, width = 2, 2
    return (
        b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, SAMPLE_RATE, SAMPLE_RATE * channels * width, channels * width, 16)
        + b"data" + struct.pack("<I", data_bytes)
    )


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` with `data` so readers see the old or the new file, never half of one."""
    fd, tmp = tempfile.mkstemp(prefix=".session-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Session:
    """One call being recorded; use as a context manager so the recording is always closed."""

    def __init__(self, store: "SessionStore", folder: Path, meta: SessionMeta) -> None:
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
        self._save()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_turn(self, turn: TurnRecord) -> None:
        """Record a finished turn; on disk before this returns."""
        self.turns.append(turn)
        self.data["turns"].append(turn.to_json())
        self._save()

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
    """The sessions folder: creates session folders and keeps sessions.db in step.

    Raises VoicesimError at once when the folder can't be written, so the trainee
    learns it before the call starts, not after.
    """

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_sessions_dir()
        self._check_writable()
        self.db_path = self.root / INDEX_NAME

    def _check_writable(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".probe-"):
                pass
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise VoicesimError(
                f"cannot write the sessions folder {self.root} ({reason}); "
                f"pass --sessions-dir DIR or set {ENV_DIR} to a writable folder"
            ) from None

    def create(self, meta: SessionMeta) -> Session:
        folder = self._new_folder(meta)
        return Session(self, folder, meta)

    def _new_folder(self, meta: SessionMeta) -> Path:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{_slug(meta.scenario_id)}-{_slug(meta.trainee)}"
        for n in range(1, 10_000):
            folder = self.root / (base if n == 1 else f"{base}-{n}")
            try:
                folder.mkdir()
                return folder
            except FileExistsError:
                continue
        raise VoicesimError(f"too many sessions named {base}* in {self.root}; remove old ones")

    # --- the index ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.db_path, timeout=10)
        con.execute(
            "CREATE TABLE IF NOT EXISTS sessions ("
            " session_dir TEXT PRIMARY KEY, trainee TEXT, scenario_id TEXT, scenario_version TEXT,"
            " lang TEXT, mode TEXT, started_at TEXT, ended_at TEXT, outcome TEXT, turns INTEGER, overall INTEGER)"
        )
        con.execute("CREATE INDEX IF NOT EXISTS by_trainee ON sessions (trainee, started_at)")
        con.execute("CREATE INDEX IF NOT EXISTS by_scenario ON sessions (scenario_id, started_at)")
        return con

    def index(self, folder: Path, data: dict[str, Any]) -> None:
        row = _row(folder, data)
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO sessions VALUES (:session_dir, :trainee, :scenario_id, :scenario_version,"
                " :lang, :mode, :started_at, :ended_at, :outcome, :turns, :overall)",
                asdict(row),
            )
        con.close()

    def reindex(self) -> int:
        """Rebuild sessions.db from the session folders; returns how many were found."""
        found = 0
        for path in sorted(self.root.glob(f"*/{SESSION_JSON}")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # a folder someone broke by hand: leave it out of the index, keep going
            self.index(path.parent, data)
            found += 1
        return found

    def list(self, trainee: str | None = None, scenario: str | None = None) -> list[SessionSummary]:
        """Sessions, oldest first, optionally only one trainee's or one scenario's."""
        if not self.db_path.exists():
            self.reindex()
        where, params = [], []
        if trainee is not None:
            where.append("trainee = ?")
            params.append(trainee)
        if scenario is not None:
            where.append("scenario_id = ?")
            params.append(scenario)
        sql = "SELECT * FROM sessions" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY started_at, session_dir"
        con = self._connect()
        try:
            return [SessionSummary(*r) for r in con.execute(sql, params)]
        finally:
            con.close()


def _row(folder: Path, data: dict[str, Any]) -> SessionSummary:
    scenario = data.get("scenario", {})
    return SessionSummary(
        session_dir=str(folder),
        trainee=data.get("trainee", ""),
        scenario_id=scenario.get("id", ""),
        scenario_version=scenario.get("version", ""),
        lang=scenario.get("lang", ""),
        mode=data.get("mode", ""),
        started_at=data.get("started_at", ""),
        ended_at=data.get("ended_at"),
        outcome=data.get("outcome", IN_PROGRESS),
        turns=len(data.get("turns", [])),
        overall=data.get("overall"),
    )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:40] or "x"
