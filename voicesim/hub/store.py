"""The hub's store: accounts and tokens, chunked uploads, and the stored calls (files + database rows).

Recordings stay files, in ``<store>/sessions/<id>/`` where the hub makes ``<id>`` and
the file names are the fixed :data:`~voicesim.hub.schema.FILES`; the database holds the
index, tokens, accounts and trainers' comments. An upload is staged in
``<store>/staging/<upload id>/`` and becomes a session only when every file has its
announced size and sha256 and session.json passes the schema: the staged folder is
then renamed into place (one atomic step) and its rows inserted. A refused upload's
staging folder and row are removed, so nothing half-made is left.

Methods are synchronous (the web layer runs them in worker threads) and raise
:class:`~voicesim.hub.schema.Refused` for anything the client must fix.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from voicesim.hub import auth
from voicesim.hub.db import comments, logins, pc_tokens, room_tokens, session_files, sessions, trainers, uploads
from voicesim.hub.schema import FILES, LIMITS, Limits, Refused, check_folder_name, check_manifest, check_session_json
from voicesim.upload import file_sha256

LOGIN_HOURS = 12
"""A trainer's login lasts a working day."""


@dataclass(frozen=True)
class UploadState:
    """Where an upload stands, as the client sees it."""

    state: str
    """"open" (send the missing bytes) or "stored" (the hub has the session)."""
    upload_id: str | None
    session_id: str | None
    offsets: dict[str, int]
    """Bytes the hub holds of each file; the client continues from there."""

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "upload_id": self.upload_id, "session_id": self.session_id, "offsets": self.offsets}


class HubStore:
    """The hub's accounts, tokens and sessions, over one database and one folder."""

    def __init__(self, engine: sa.Engine, folder: Path, limits: Limits = LIMITS) -> None:
        self.engine, self.folder, self.limits = engine, Path(folder), limits
        self.staging = self.folder / "staging"
        self.sessions_dir = self.folder / "sessions"
        self.staging.mkdir(parents=True, exist_ok=True)
        self.sessions_dir.mkdir(parents=True, exist_ok=True)
        self.sweep()

    def sweep(self) -> list[str]:
        """Remove what a crash left half-made: staging folders with no open upload, session folders with no row.

        A hub killed between moving a finished upload into place and indexing it leaves a folder the
        database does not know; the client was never told "stored", so it uploads the call again.
        """
        with self.engine.connect() as c:
            open_ids = set(c.execute(sa.select(uploads.c.id)).scalars())
            stored_ids = set(c.execute(sa.select(sessions.c.id)).scalars())
        removed = []
        for parent, known in ((self.staging, open_ids), (self.sessions_dir, stored_ids)):
            for folder in parent.iterdir():
                if folder.name not in known:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed.append(f"{parent.name}/{folder.name}")
        return removed

    # Accounts and tokens ---------------------------------------------------------------

    def add_trainer(self, name: str, password: str) -> None:
        if not name or len(name) > 80 or not password:
            raise Refused(422, "a trainer needs a name (at most 80 characters) and a non-empty password")
        with self.engine.begin() as c:
            if c.execute(sa.select(trainers.c.id).where(trainers.c.name == name)).first():
                raise Refused(409, f"trainer {name!r} exists already")
            c.execute(trainers.insert().values(name=name, password_hash=auth.hash_password(password), created_at=_now()))

    def has_trainers(self) -> bool:
        with self.engine.connect() as c:
            return c.execute(sa.select(sa.func.count()).select_from(trainers)).scalar_one() > 0

    def login(self, name: str, password: str) -> str:
        with self.engine.connect() as c:
            row = c.execute(sa.select(trainers).where(trainers.c.name == name)).first()
        # Hash even for an unknown name, so timing does not tell which names exist.
        stored = row.password_hash if row else auth.hash_password("no such trainer")
        if not auth.verify_password(password, stored) or row is None:
            raise Refused(401, "wrong trainer name or password")
        token = auth.new_token("login")
        with self.engine.begin() as c:
            c.execute(logins.insert().values(trainer_id=row.id, token_hash=auth.token_hash(token),
                                             expires_at=time.time() + LOGIN_HOURS * 3600))
        return token

    def logout(self, token: str) -> None:
        """End a trainer's login (a PC token is the trainer's to revoke, so it is left alone)."""
        if token.startswith("login_"):
            with self.engine.begin() as c:
                c.execute(logins.delete().where(logins.c.token_hash == auth.token_hash(token)))

    def create_room_token(self, room: str) -> str:
        if not room or len(room) > 80:
            raise Refused(422, "a room needs a name of at most 80 characters")
        token = auth.new_token("room")
        with self.engine.begin() as c:
            c.execute(room_tokens.insert().values(room=room, token_hash=auth.token_hash(token), created_at=_now()))
        return token

    def revoke_room_token(self, token_or_room: str) -> int:
        """Revoke one token (given whole) or every token of a room (given its name); returns how many."""
        match = (room_tokens.c.token_hash == auth.token_hash(token_or_room)) | (room_tokens.c.room == token_or_room)
        with self.engine.begin() as c:
            done = c.execute(room_tokens.update().where(match & room_tokens.c.revoked_at.is_(None)).values(revoked_at=_now()))
        return done.rowcount

    def enrol(self, room: auth.Identity, trainee: str) -> str:
        """A PC's own token, from the room token: uploads and reads are then that trainee's alone."""
        if room.kind != "room":
            raise Refused(403, "enrol with a room token (voicesim hub token create --room R)")
        token = auth.new_token("pc")
        with self.engine.begin() as c:
            c.execute(pc_tokens.insert().values(room_token_id=room.id, trainee=trainee[:200],
                                                token_hash=auth.token_hash(token), created_at=_now()))
        return token

    def identify(self, token: str) -> auth.Identity | None:
        """The identity behind a bearer token; None when it is unknown, expired or revoked."""
        digest = auth.token_hash(token)
        with self.engine.connect() as c:
            if token.startswith("login_"):
                row = c.execute(sa.select(trainers.c.id, trainers.c.name).join(logins)
                                .where(logins.c.token_hash == digest, logins.c.expires_at > time.time())).first()
                return auth.Identity("trainer", row.id, row.name) if row else None
            if token.startswith("pc_"):
                row = c.execute(sa.select(pc_tokens.c.id, pc_tokens.c.trainee, room_tokens.c.room).join(room_tokens)
                                .where(pc_tokens.c.token_hash == digest, room_tokens.c.revoked_at.is_(None))).first()
                return auth.Identity("trainee", row.id, row.trainee, row.room) if row else None
            if token.startswith("room_"):
                row = c.execute(sa.select(room_tokens.c.id, room_tokens.c.room)
                                .where(room_tokens.c.token_hash == digest, room_tokens.c.revoked_at.is_(None))).first()
                return auth.Identity("room", row.id, "", row.room) if row else None
        return None

    # Uploads -----------------------------------------------------------------------------

    def start_upload(self, who: auth.Identity, folder_name: Any, files: Any) -> UploadState:
        """Open (or resume) the upload of one session; a session stored already is reported as such."""
        _may_upload(who)
        folder_name = check_folder_name(folder_name)
        entries = check_manifest(files, self.limits)
        digest = next(e.sha256 for e in entries if e.name == "session.json")
        key = f"{folder_name}:{digest}"
        with self.engine.begin() as c:
            stored = c.execute(sa.select(sessions.c.id).where(sessions.c.session_key == key)).first()
            if stored:
                return UploadState("stored", None, stored.id, {})
            row = c.execute(sa.select(uploads).where(uploads.c.session_key == key, _same_pc(uploads, who))).first()
            if row and json.loads(row.manifest)["files"] == [e.__dict__ for e in entries]:
                return UploadState("open", row.id, None, self._offsets(row.id, entries))
            if row:  # announced again with other files: start that upload over
                self._discard(c, row.id)
            if who.id is not None:
                held = c.execute(sa.select(sa.func.count()).select_from(sessions).where(sessions.c.pc_token_id == who.id)).scalar_one()
                if held >= self.limits.max_sessions_per_token:
                    raise Refused(403, f"this PC has stored {held} calls, the most one token may; ask the trainer for a new token")
            upload_id = secrets.token_hex(16)
            manifest = {"folder_name": folder_name, "files": [e.__dict__ for e in entries]}
            c.execute(uploads.insert().values(id=upload_id, session_key=key, pc_token_id=who.id,
                                              manifest=json.dumps(manifest), created_at=_now()))
        (self.staging / upload_id).mkdir()
        return UploadState("open", upload_id, None, {e.name: 0 for e in entries})

    def chunk_target(self, who: auth.Identity, upload_id: str, name: str, start: int, end: int, total: int) -> Path:
        """The staging file a chunk of bytes start..end-1 of `name` goes to, once the offsets agree."""
        row = self._upload(who, upload_id)
        entry = next((f for f in json.loads(row.manifest)["files"] if f["name"] == name), None)
        if entry is None:
            raise Refused(404, f"upload {upload_id} has no file {name!r}")
        if total != entry["size"] or end > total or end - start > self.limits.max_chunk_bytes or end <= start:
            raise Refused(416, f"Content-Range {start}-{end - 1}/{total} does not fit {name} ({entry['size']} bytes, "
                               f"chunks of at most {self.limits.max_chunk_bytes})")
        path = self.staging / upload_id / f"{FILES.index(name)}.part"
        have = path.stat().st_size if path.exists() else 0
        if start != have:
            raise Refused(409, f"the hub holds {have} bytes of {name}; send from offset {have}")
        return path

    def offsets(self, who: auth.Identity, upload_id: str) -> UploadState:
        row = self._upload(who, upload_id)
        entries = check_manifest(json.loads(row.manifest)["files"], self.limits)
        return UploadState("open", upload_id, None, self._offsets(upload_id, entries))

    def finish_upload(self, who: auth.Identity, upload_id: str) -> UploadState:
        """Verify sizes, sha256 and session.json, then move the staged files into place and index them."""
        row = self._upload(who, upload_id)
        manifest = json.loads(row.manifest)
        staged = self.staging / upload_id
        try:
            facts = self._verify(staged, manifest["files"])
        except Refused:
            with self.engine.begin() as c:
                self._discard(c, upload_id)
            raise
        session_id = secrets.token_hex(12)
        final = self.sessions_dir / session_id
        for f in manifest["files"]:
            os.replace(staged / f"{FILES.index(f['name'])}.part", staged / f["name"])
        os.replace(staged, final)
        try:
            with self.engine.begin() as c:
                c.execute(sessions.insert().values(
                    id=session_id, session_key=row.session_key, folder_name=manifest["folder_name"], pc_token_id=who.id,
                    room=who.room, trainee=facts.trainee, scenario_id=facts.scenario_id, started_at=facts.started_at,
                    outcome=facts.outcome, overall=facts.overall, shared=False, stored_at=_now(),
                    assessment=json.dumps(facts.assessment) if facts.assessment else None))
                c.execute(session_files.insert(), [{"session_id": session_id, **f} for f in manifest["files"]])
                c.execute(uploads.delete().where(uploads.c.id == upload_id))
        except sa.exc.IntegrityError:  # the same session finished by a parallel upload a moment ago
            shutil.rmtree(final, ignore_errors=True)
            with self.engine.begin() as c:
                c.execute(uploads.delete().where(uploads.c.id == upload_id))
                stored = c.execute(sa.select(sessions.c.id).where(sessions.c.session_key == row.session_key)).scalar_one()
            return UploadState("stored", None, stored, {})
        return UploadState("stored", None, session_id, {})

    # Reading -----------------------------------------------------------------------------

    def list_sessions(self, who: auth.Identity) -> list[dict[str, Any]]:
        cols = [sessions.c[n] for n in ("id", "folder_name", "trainee", "room", "scenario_id", "started_at", "outcome",
                                        "overall", "shared", "stored_at")]
        query = sa.select(*cols).where(self._visible(who)).order_by(sessions.c.started_at, sessions.c.id)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(query)]

    def session_file(self, who: auth.Identity, session_id: str, name: str) -> Path:
        if name not in FILES:
            raise Refused(404, f"a session has no file {name!r}; ask for {' or '.join(FILES)}")
        with self.engine.connect() as c:
            found = c.execute(sa.select(sessions.c.id).where(sessions.c.id == session_id, self._visible(who))).first()
        path = self.sessions_dir / session_id / name
        if not found or not path.is_file():
            raise Refused(404, f"no session {session_id!r} with {name} that this token may read")
        return path

    def share(self, who: auth.Identity, session_id: str, shared: bool = True) -> None:
        """A trainer shows a call to the whole room (or hides it again)."""
        if who.kind not in ("trainer", "local"):
            raise Refused(403, "only a trainer can share a call")
        with self.engine.begin() as c:
            if not c.execute(sessions.update().where(sessions.c.id == session_id).values(shared=shared)).rowcount:
                raise Refused(404, f"no session {session_id!r}")

    def add_comment(self, who: auth.Identity, session_id: str, text: str, check_id: str | None = None,
                    verdict: bool | None = None) -> None:
        if who.kind != "trainer":
            raise Refused(403, "only a logged-in trainer can comment")
        with self.engine.begin() as c:
            if not c.execute(sa.select(sessions.c.id).where(sessions.c.id == session_id)).first():
                raise Refused(404, f"no session {session_id!r}")
            c.execute(comments.insert().values(session_id=session_id, trainer_id=who.id, check_id=check_id,
                                               verdict=verdict, text=text, created_at=_now()))

    # Internals ---------------------------------------------------------------------------

    def _visible(self, who: auth.Identity):
        if who.sees_all:
            return sa.true()
        if who.kind == "trainee":
            return (sessions.c.pc_token_id == who.id) | (sessions.c.shared.is_(True) & (sessions.c.room == who.room))
        return sa.false()

    def _upload(self, who: auth.Identity, upload_id: str):
        with self.engine.connect() as c:
            row = c.execute(sa.select(uploads).where(uploads.c.id == upload_id, _same_pc(uploads, who))).first()
        if row is None:
            raise Refused(404, f"no open upload {upload_id!r} for this token; start it again")
        return row

    def _offsets(self, upload_id: str, entries: Iterable) -> dict[str, int]:
        parts = self.staging / upload_id
        parts.mkdir(exist_ok=True)
        return {e.name: _size(parts / f"{FILES.index(e.name)}.part") for e in entries}

    def _verify(self, staged: Path, files: list[dict[str, Any]]):
        for f in files:
            path = staged / f"{FILES.index(f['name'])}.part"
            size = _size(path)
            if size != f["size"]:
                raise Refused(422, f"{f['name']} is incomplete: {size} of {f['size']} bytes arrived; upload it again")
            if file_sha256(path) != f["sha256"]:
                raise Refused(422, f"{f['name']} arrived damaged (sha256 differs); upload it again")
        return check_session_json((staged / f"{FILES.index('session.json')}.part").read_bytes())

    def _discard(self, c: sa.Connection, upload_id: str) -> None:
        c.execute(uploads.delete().where(uploads.c.id == upload_id))
        shutil.rmtree(self.staging / upload_id, ignore_errors=True)


def _may_upload(who: auth.Identity) -> None:
    if who.kind not in ("trainee", "local"):
        raise Refused(403, "uploads need a PC token: enrol the PC with the room token first")


def _same_pc(table: sa.Table, who: auth.Identity):
    return table.c.pc_token_id.is_(None) if who.id is None else table.c.pc_token_id == who.id


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
