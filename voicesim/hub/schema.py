"""What the hub accepts at the door: the upload manifest and the session.json a call writes.

Everything here is pure: bytes and dicts in, a typed value or :class:`Refused` out.
File names never reach the file system: a client names one of :data:`FILES`, and
the hub stores it under that fixed name in a folder whose name the hub made.

>>> check_folder_name("20261130-205346-late-delivery-sam")
'20261130-205346-late-delivery-sam'
>>> check_folder_name("../../etc")
Traceback (most recent call last):
...
voicesim.hub.schema.Refused: 422: folder name '../../etc' is not a session folder name (letters, digits, . _ -; no leading dot)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from voicesim.upload import FILES  # the only files of a session the hub takes: one list for client and hub

OUTCOMES = ("in_progress", "resolved", "hung_up", "turn_limit", "interrupted", "device_lost")
"""session.json "outcome" values (voicesim.session.Outcome)."""
_FOLDER = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,119}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class Refused(Exception):
    """The request is refused with an HTTP status and a message that says what to fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status, self.message = status, message


@dataclass(frozen=True)
class Limits:
    """How much one client may send; the defaults fit a 15-minute call with room to spare."""

    max_recording_bytes: int = 400 * 1024 * 1024
    max_json_bytes: int = 4 * 1024 * 1024
    max_chunk_bytes: int = 8 * 1024 * 1024
    """Largest body of one PUT; clients send 1 MiB."""
    max_sessions_per_token: int = 5000
    """Calls one enrolled PC may store (a year of daily practice); stops a runaway or hostile client."""
    uploads_per_minute: int = 120
    """Upload starts per enrolled PC per minute."""
    logins_per_minute: int = 10
    """Login attempts per trainer name and per client address per minute."""


LIMITS = Limits()
"""The defaults."""


@dataclass(frozen=True)
class FileEntry:
    """One file the client announces."""

    name: str
    """One of FILES."""
    size: int
    sha256: str


@dataclass(frozen=True)
class SessionFacts:
    """The index fields the hub reads from an uploaded session.json."""

    trainee: str
    scenario_id: str
    started_at: str
    outcome: str
    overall: int | None
    assessment: dict[str, Any] | None


def check_folder_name(name: Any) -> str:
    if not isinstance(name, str) or not _FOLDER.fullmatch(name):
        raise Refused(422, f"folder name {name!r} is not a session folder name (letters, digits, . _ -; no leading dot)")
    return name


def check_manifest(files: Any, limits: Limits) -> tuple[FileEntry, ...]:
    """The announced files: known names, each once, sizes within the limits, a sha256 each."""
    if not isinstance(files, list) or not files:
        raise Refused(422, "'files' must be a list of {name, size, sha256}")
    entries = []
    for f in files:
        if not isinstance(f, dict) or set(f) != {"name", "size", "sha256"}:
            raise Refused(422, "each file must be {name, size, sha256} and nothing else")
        name, size, digest = f["name"], f["size"], f["sha256"]
        if name not in FILES:
            raise Refused(422, f"file name {name!r} is not accepted; a session upload holds {', '.join(FILES)}")
        limit = limits.max_json_bytes if name == "session.json" else limits.max_recording_bytes
        if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= limit:
            raise Refused(413, f"{name} size {size!r} is outside 1..{limit} bytes")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise Refused(422, f"{name} sha256 must be 64 lowercase hex digits")
        entries.append(FileEntry(name, size, digest))
    names = [e.name for e in entries]
    if len(set(names)) != len(names) or "session.json" not in names:
        raise Refused(422, "a session upload names session.json once, and recording.wav at most once")
    return tuple(entries)


def check_session_json(raw: bytes) -> SessionFacts:
    """The session.json fields a call writes, with their types; anything else in it is kept, not read."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refused(422, f"session.json is not UTF-8 JSON ({exc})") from None
    if not isinstance(data, dict):
        raise Refused(422, "session.json must hold a JSON object")
    _want(data, "format", int)
    _want(data, "trainee", str)
    _want(data, "started_at", str)
    _want(data, "turns", list)
    scenario = _want(data, "scenario", dict)
    _want(scenario, "id", str, "scenario.id")
    if data.get("outcome") not in OUTCOMES:
        raise Refused(422, f"session.json 'outcome' must be one of {', '.join(OUTCOMES)}")
    overall = data.get("overall")
    if overall is not None and (not isinstance(overall, int) or isinstance(overall, bool)):
        raise Refused(422, "session.json 'overall' must be an integer or null")
    assessment = data.get("assessment")
    return SessionFacts(trainee=data["trainee"][:200], scenario_id=scenario["id"][:200], started_at=data["started_at"][:32],
                        outcome=data["outcome"], overall=overall,
                        assessment=assessment if isinstance(assessment, dict) else None)


def _want(data: dict, key: str, kind: type, label: str | None = None) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise Refused(422, f"session.json '{label or key}' must be a {kind.__name__}")
    return value
