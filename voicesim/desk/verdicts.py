"""The trainer's verdicts and comments on a call, kept in ``<session>/trainer.json``.

The automatic assessment is never edited: a trainer's verdict sits beside it and
takes precedence in analytics. The file is replaced atomically (temp file +
``os.replace``); a damaged file is reported and never overwritten, so no verdict
a trainer gave is lost.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> set_verdict(folder, "apology", False, by="kim", note="sorry, but ...")
>>> load_trainer_notes(folder).verdicts["apology"].met
False
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicesim.errors import VoicesimError
from voicesim.scorecard import CHECK_IDS
from voicesim.session import utc_now, write_json_atomic

TRAINER_JSON = "trainer.json"
FORMAT = 1
MAX_TEXT = 2000
"""Longest comment or note kept, in characters."""


@dataclass(frozen=True)
class TrainerVerdict:
    """A trainer's reading of one principle in one call."""

    met: bool | None
    """None: the trainer says it cannot be judged in this call."""
    by: str
    at: str
    """UTC ISO time the verdict was given."""
    note: str = ""


@dataclass(frozen=True)
class Comment:
    """A trainer's comment pinned to a moment of the recording."""

    id: str
    at_s: float
    """Seconds on the recording's clock."""
    text: str
    by: str
    created_at: str


@dataclass(frozen=True)
class TrainerNotes:
    """Everything in one trainer.json."""

    verdicts: dict[str, TrainerVerdict] = field(default_factory=dict)
    comments: tuple[Comment, ...] = ()
    problem: str | None = None
    """Why trainer.json could not be read (it is then left untouched)."""


def load_trainer_notes(folder: Path) -> TrainerNotes:
    """The trainer's notes for a session folder; empty when there are none."""
    raw, problem = _read(folder)
    if raw is None:
        return TrainerNotes(problem=problem)
    verdicts = {}
    for check, v in (raw.get("verdicts") or {}).items():
        if check in CHECK_IDS and isinstance(v, dict) and (v.get("met") is None or isinstance(v.get("met"), bool)):
            verdicts[check] = TrainerVerdict(v.get("met"), str(v.get("by", "")), str(v.get("at", "")), str(v.get("note", "")))
    comments = []
    for c in raw.get("comments") or []:
        if isinstance(c, dict) and isinstance(c.get("at_s"), int | float):
            comments.append(Comment(str(c.get("id", "")), float(c["at_s"]), str(c.get("text", "")), str(c.get("by", "")),
                                    str(c.get("created_at", ""))))
    return TrainerNotes(verdicts, tuple(sorted(comments, key=lambda c: (c.at_s, c.created_at))))


def _read(folder: Path) -> tuple[dict[str, Any] | None, str | None]:
    path = folder / TRAINER_JSON
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"trainer.json is damaged ({exc.__class__.__name__}); fix or move it away to add verdicts"
    if not isinstance(raw, dict) or not isinstance(raw.get("verdicts", {}), dict) \
            or not isinstance(raw.get("comments", []), list):
        return None, "trainer.json is damaged (not the expected object); fix or move it away to add verdicts"
    return raw, None


def _update(folder: Path) -> dict[str, Any]:
    raw, problem = _read(folder)
    if raw is None:
        raise VoicesimError(f"{folder / TRAINER_JSON}: {problem}")
    raw.setdefault("format", FORMAT)
    raw.setdefault("verdicts", {})
    raw.setdefault("comments", [])
    return raw


def set_verdict(folder: Path, check: str, met: bool | None, by: str, note: str = "") -> None:
    """Record the trainer's verdict on `check` (replacing their earlier one)."""
    if check not in CHECK_IDS:
        raise VoicesimError(f"unknown principle {check!r}; use one of {', '.join(CHECK_IDS)}")
    raw = _update(folder)
    raw["verdicts"][check] = {"met": met, "by": by.strip()[:100], "at": utc_now(), "note": note.strip()[:MAX_TEXT]}
    write_json_atomic(folder / TRAINER_JSON, raw)


def clear_verdict(folder: Path, check: str) -> None:
    """Withdraw the trainer's verdict: the automatic one counts again."""
    raw = _update(folder)
    if raw["verdicts"].pop(check, None) is not None:
        write_json_atomic(folder / TRAINER_JSON, raw)


def add_comment(folder: Path, at_s: float, text: str, by: str) -> str:
    """Pin a comment to `at_s` seconds of the recording; returns its id."""
    text = text.strip()
    if not text:
        raise VoicesimError("the comment is empty; write what the trainee should notice at this moment")
    if not at_s >= 0:
        raise VoicesimError(f"comment time {at_s} is not a time on the recording; give seconds from 0")
    raw = _update(folder)
    comment_id = secrets.token_hex(4)
    raw["comments"].append({"id": comment_id, "at_s": round(float(at_s), 3), "text": text[:MAX_TEXT],
                            "by": by.strip()[:100], "created_at": utc_now()})
    write_json_atomic(folder / TRAINER_JSON, raw)
    return comment_id
