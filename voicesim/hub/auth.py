"""Who may talk to the hub: password hashes, tokens, the open-or-closed rule, and rate limits.

Trainer passwords are stored as scrypt hashes (``hashlib.scrypt``, in the standard
library: nothing to install, memory-hard so a stolen database is slow to crack on a
GPU). Tokens are 32 random bytes; the database keeps only their SHA-256, which is
enough because a token, unlike a password, has no dictionary to guess from.

>>> stored = hash_password("correct horse")
>>> verify_password("correct horse", stored), verify_password("wrong", stored)
(True, False)
>>> needs_auth("127.0.0.1"), needs_auth("0.0.0.0"), needs_auth("127.0.0.2")
(False, True, True)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
"""About 50 ms and 16 MiB per check on a desktop: slow for a cracker, fine for a login."""
OPEN_HOSTS = ("127.0.0.1", "::1", "localhost")
"""Bind addresses where the hub serves this PC only and may run without accounts."""


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    except ValueError:
        return False
    return hmac.compare_digest(got, _unb64(digest))


def new_token(kind: str) -> str:
    """A fresh secret; the prefix (room, pc, login) tells a reader which kind was pasted where."""
    return f"{kind}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def needs_auth(host: str) -> bool:
    """Every bind address but this PC's own loopback needs accounts: the bind, not the peer, decides,
    because behind a reverse proxy every peer looks local."""
    return host not in OPEN_HOSTS


@dataclass(frozen=True)
class Identity:
    """Who made a request."""

    kind: str
    """"trainer", "trainee" (a PC enrolled with a room token), "room" (the room token itself) or "local"."""
    id: int | None = None
    """trainers.id, pc_tokens.id or room_tokens.id; None for "local"."""
    name: str = ""
    """Trainer or trainee name."""
    room: str | None = None

    @property
    def sees_all(self) -> bool:
        return self.kind in ("trainer", "local")


class RateLimiter:
    """At most `limit` events per `window_s` per key (sliding window), shared by the server's threads."""

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit, self.window_s = limit, window_s
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window_s:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            return True


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)
