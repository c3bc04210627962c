"""Send finished calls to the training-room hub, and keep them in an outbox until it has them.

Every call is saved locally first; then ``<session>/upload.json`` marks it for the hub
(``{"state": "pending"}``) and the upload runs. The marker becomes ``"uploaded"`` only
after the hub has checked every file's size and sha256 and stored the session; the
local copy is never deleted. A hub that is down leaves the marker pending, and the next
``voicesim practice --hub …`` or ``voicesim sessions push`` sends it. Uploads are
idempotent (the hub keys a session on its folder name and session.json's sha256) and
resumable (files go in 1 MiB chunks; a new attempt asks the hub for its offsets).

Standard library only: a trainee's PC needs no web stack to upload.

    voicesim practice --hub https://hub.example:8443 --hub-token room_…
    voicesim sessions push

or in ``~/.config/voicesim/config.toml``::

    [hub]
    url = "https://hub.example:8443"
    token = "room_…"
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicesim.errors import VoicesimError
from voicesim.files import replace_atomically

MARKER = "upload.json"
FILES = ("session.json", "recording.wav")
"""What a session upload carries, in the hub's order; session.json is required (the hub checks against this)."""
CHUNK_BYTES = 1024 * 1024
TIMEOUT_S = 5.0
"""A hub slower than this on one request counts as down: the call has been saved, the outbox waits."""
CONFIG_ENV = "VOICESIM_CONFIG"


@dataclass(frozen=True)
class HubTarget:
    """Where uploads go and with what."""

    url: str
    token: str | None
    """The room token (enrols this PC once) or a PC token; None for a hub on this PC."""


class HubUnreachable(Exception):
    """The hub did not answer, or answered with a server error: try again later."""


class HubRefused(VoicesimError):
    """The hub answered no (bad token, refused file): retrying the same will not help."""


def config_path() -> Path:
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "voicesim" / "config.toml"


def hub_target(url: str | None, token: str | None) -> HubTarget | None:
    """--hub/--hub-token, else [hub] url/token from the config file, else None (no hub)."""
    if not url:
        path = config_path()
        try:
            hub = tomllib.loads(path.read_text(encoding="utf-8")).get("hub", {}) if path.is_file() else {}
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise VoicesimError(f"cannot read {path} ({exc}); fix its [hub] section or pass --hub URL") from None
        url, token = hub.get("url"), token or hub.get("token")
    if not url:
        return None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise VoicesimError(f"hub URL {url!r} must start with http:// or https://; e.g. --hub https://hub.example:8443")
    return HubTarget(url.rstrip("/"), token)


def mark_pending(session_dir: Path) -> None:
    """Put the session in the outbox."""
    _write_marker(Path(session_dir), {"state": "pending"})


def outbox(sessions_root: Path) -> list[Path]:
    """Session folders waiting for the hub, oldest first."""
    try:
        folders = sorted(p.parent for p in Path(sessions_root).glob(f"*/{MARKER}"))
    except OSError:
        return []
    return [f for f in folders if _read_marker(f).get("state") == "pending"]


def push_outbox(sessions_root: Path, target: HubTarget) -> tuple[list[Path], list[str]]:
    """Send every pending session; returns (sent folders, problems). Stops at the first unreachable hub."""
    sent, problems = [], []
    for folder in outbox(sessions_root):
        try:
            push(folder, target, sessions_root)
            sent.append(folder)
        except HubUnreachable as exc:
            problems.append(f"hub unreachable ({exc})")
            break
        except HubRefused as exc:
            problems.append(f"{folder.name}: {exc}")
    return sent, problems


def push(session_dir: Path, target: HubTarget, sessions_root: Path) -> str:
    """Upload one session folder; returns the hub's session id. The marker flips only when the hub has stored it."""
    session_dir = Path(session_dir)
    files = [{"name": n, "size": (session_dir / n).stat().st_size, "sha256": file_sha256(session_dir / n)}
             for n in FILES if (session_dir / n).is_file()]
    client = _Client(target, sessions_root)
    state = client.call("POST", "/api/uploads", {"folder_name": session_dir.name, "files": files})
    if state["state"] == "open":
        for f in files:
            _send_file(client, state["upload_id"], session_dir / f["name"], f["size"], state["offsets"].get(f["name"], 0))
        state = client.call("POST", f"/api/uploads/{state['upload_id']}/finish")
    _write_marker(session_dir, {"state": "uploaded", "hub": target.url, "hub_session": state["session_id"],
                                "sha256": {f["name"]: f["sha256"] for f in files}})
    return state["session_id"]


def _send_file(client: _Client, upload_id: str, path: Path, size: int, offset: int) -> None:
    with open(path, "rb") as f:
        f.seek(offset)
        while offset < size:
            block = f.read(CHUNK_BYTES)
            end = offset + len(block) - 1
            answer = client.call("PUT", f"/api/uploads/{upload_id}/{path.name}", block,
                                 {"Content-Range": f"bytes {offset}-{end}/{size}"})
            offset = answer["offset"]
            f.seek(offset)


class _Client:
    """JSON over HTTP with the bearer token; enrols this PC with a room token on first use."""

    def __init__(self, target: HubTarget, sessions_root: Path) -> None:
        self.target = target
        self.credentials = Path(sessions_root) / ".hub-credentials.json"
        self.token: str | None = None
        self.token = self._pc_token()

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             token: str | None = None) -> dict[str, Any]:
        data = body if isinstance(body, bytes) else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.target.url + path, data=data, method=method, headers=headers or {})
        if not isinstance(body, bytes):
            request.add_header("Content-Type", "application/json")
        if token or self.token:
            request.add_header("Authorization", f"Bearer {token or self.token}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            message = _error_text(exc)
            if exc.code >= 500 or exc.code == 429:
                raise HubUnreachable(f"HTTP {exc.code}: {message}") from None
            raise HubRefused(f"the hub refused the upload (HTTP {exc.code}: {message})") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise HubUnreachable(str(getattr(exc, "reason", exc))) from None

    def _pc_token(self) -> str | None:
        token = self.target.token
        if not token or not token.startswith("room_"):
            return token
        saved = _read_json(self.credentials).get(self.target.url, {})
        if saved.get("room_sha256") == hashlib.sha256(token.encode()).hexdigest():
            return saved["token"]
        pc = self.call("POST", "/api/enrol", {"trainee": _trainee_name()}, token=token)["token"]
        creds = _read_json(self.credentials)
        creds[self.target.url] = {"room_sha256": hashlib.sha256(token.encode()).hexdigest(), "token": pc}
        replace_atomically(self.credentials, lambda f: f.write(json.dumps(creds).encode()))
        os.chmod(self.credentials, 0o600)  # a PC token lets anyone read this trainee's calls
        return pc


def _trainee_name() -> str:
    """Who enrols: the PC's login name; calls keep their own trainee names."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "trainee"


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read()).get("error", exc.reason))
    except (ValueError, AttributeError, OSError):
        return str(exc.reason)


def _read_marker(folder: Path) -> dict[str, Any]:
    return _read_json(folder / MARKER)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_marker(folder: Path, data: dict[str, Any]) -> None:
    replace_atomically(folder / MARKER, lambda f: f.write(json.dumps(data, indent=2).encode()))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
