"""The hub's HTTP face: a Starlette app over a :class:`HubStore`, with auth as middleware.

    POST /api/login                      {"name","password"} -> {"token": "login_…"} (trainers)
    POST /api/enrol                      room token, {"trainee"} -> {"token": "pc_…"} (a trainee's PC)
    POST /api/uploads                    {"folder_name","files":[{name,size,sha256}]} -> upload state
    GET  /api/uploads/{id}               offsets, to resume
    PUT  /api/uploads/{id}/{name}        one chunk, Content-Range: bytes START-END/TOTAL
    POST /api/uploads/{id}/finish        verify and store -> {"state":"stored","session_id"}
    GET  /api/sessions                   the calls this token may see
    GET  /api/sessions/{id}/{name}       session.json or recording.wav
    POST /api/sessions/{id}/share        {"shared": true|false} (trainer)
    POST /api/sessions/{id}/comments     {"text","check_id"?,"verdict"?} (trainer)
    GET|POST /login, POST /logout        the desk's sign-in form (voicesim/hub/pages.py)
    GET  /, /calls/…, /packs/…           the trainer's desk over the stored calls

:class:`HubAuth` puts the caller's :class:`~voicesim.hub.auth.Identity` on
``request.state.identity``, from a bearer token or the desk's sign-in cookie; the
trainer's desk mounts its pages under the same app (:func:`create_app` takes extra
routes) and reads the same identity.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from urllib.parse import quote, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from voicesim.hub.auth import Identity, RateLimiter
from voicesim.hub.schema import Refused
from voicesim.hub.store import HubStore

_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
OPEN_PATHS = ("/api/login", "/api/health", "/login")
"""Reachable without a token (login is rate-limited instead)."""
OPEN_PREFIXES = ("/static/",)
"""The desk's stylesheet and scripts: the sign-in page uses them, and they hold no call."""
COOKIE = "voicesim_hub"
"""The desk's sign-in cookie: a login_ (trainer) or pc_ (trainee) token, HttpOnly and SameSite=Strict."""
COOKIE_KINDS = ("login_", "pc_")
"""Tokens a cookie may carry: a room token only enrols PCs, it never opens pages."""
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class HubAuth(BaseHTTPMiddleware):
    """Bearer token or sign-in cookie -> Identity; without one, "local" when the hub serves this PC only,
    else 401 (the API) or the sign-in page (the desk)."""

    def __init__(self, app, store: HubStore, open_to_local: bool) -> None:
        super().__init__(app)
        self.store, self.open_to_local = store, open_to_local

    async def dispatch(self, request: Request, call_next) -> Response:
        header = request.headers.get("authorization", "")
        cookie = request.cookies.get(COOKIE, "")
        identity = None
        if header.lower().startswith("bearer "):
            identity = await run_in_threadpool(self.store.identify, header[7:].strip())
            if identity is None:
                return _error(401, "this token is unknown, expired or revoked; ask the trainer for a new one")
        elif cookie.startswith(COOKIE_KINDS):
            identity = await run_in_threadpool(self.store.identify, cookie)
            # A browser sends cookies with requests other sites start; only the desk's own pages may post.
            if identity is not None and request.method not in SAFE_METHODS and not same_origin(request):
                return PlainTextResponse("forms are accepted only from the hub's own pages", status_code=403)
        if identity is None and self.open_to_local:
            identity = Identity("local")
        path = request.url.path
        if identity is None and path not in OPEN_PATHS and not path.startswith(OPEN_PREFIXES):
            if path.startswith("/api/"):
                return _error(401, "this hub needs a token: Authorization: Bearer <token>")
            if request.method in SAFE_METHODS:
                return RedirectResponse(f"/login?next={quote(path)}", status_code=303)
            return PlainTextResponse("sign in first: /login", status_code=401)
        request.state.identity = identity
        return await call_next(request)


def same_origin(request: Request) -> bool:
    """Origin (or, without it, Referer) names this host: the request came from the hub's own page."""
    source = request.headers.get("origin") or request.headers.get("referer") or ""
    return source not in ("", "null") and urlsplit(source).netloc == request.headers.get("host")


def create_app(store: HubStore, *, open_to_local: bool, extra_routes: Sequence[BaseRoute] = (),
               page_routes: Callable[[RateLimiter], Sequence[BaseRoute]] | None = None) -> Starlette:
    """The hub as an ASGI app; `open_to_local` only when bound to this PC's loopback (auth.needs_auth).

    `page_routes` builds the desk's routes given the login rate limiter, so the sign-in form and
    /api/login share one budget of guesses.
    """
    login_limit = RateLimiter(store.limits.logins_per_minute)
    upload_limit = RateLimiter(store.limits.uploads_per_minute)

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def login(request: Request) -> Response:
        body = await _json(request)
        name, password = str(body.get("name", "")), str(body.get("password", ""))
        check_login_rate(login_limit, request, name)
        return JSONResponse({"token": await run_in_threadpool(store.login, name, password)})

    async def enrol(request: Request) -> Response:
        body = await _json(request)
        trainee = body.get("trainee")
        if not isinstance(trainee, str) or not trainee.strip():
            raise Refused(422, "enrol needs {\"trainee\": NAME}")
        return JSONResponse({"token": await run_in_threadpool(store.enrol, _who(request), trainee)})

    async def start(request: Request) -> Response:
        who = _who(request)
        if not upload_limit.allow(f"{who.kind}:{who.id}"):
            raise Refused(429, "too many uploads from this PC in the last minute; the outbox tries again later")
        body = await _json(request)
        state = await run_in_threadpool(store.start_upload, who, body.get("folder_name"), body.get("files"))
        return JSONResponse(state.to_json())

    async def offsets(request: Request) -> Response:
        state = await run_in_threadpool(store.offsets, _who(request), request.path_params["upload_id"])
        return JSONResponse(state.to_json())

    async def chunk(request: Request) -> Response:
        match = _RANGE.fullmatch(request.headers.get("content-range", ""))
        if not match:
            raise Refused(400, "a chunk needs Content-Range: bytes START-END/TOTAL")
        first, last, total = (int(g) for g in match.groups())
        upload_id, name = request.path_params["upload_id"], request.path_params["name"]
        path = await run_in_threadpool(store.chunk_target, _who(request), upload_id, name, first, last + 1, total)
        written = await _append_body(request, path, last + 1 - first)
        return JSONResponse({"offset": first + written})

    async def finish(request: Request) -> Response:
        state = await run_in_threadpool(store.finish_upload, _who(request), request.path_params["upload_id"])
        return JSONResponse(state.to_json())

    async def list_sessions(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(store.list_sessions, _who(request)))

    async def session_file(request: Request) -> Response:
        p = request.path_params
        path = await run_in_threadpool(store.session_file, _who(request), p["session_id"], p["name"])
        media = "application/json" if path.suffix == ".json" else "audio/wav"
        return FileResponse(path, media_type=media)

    async def share(request: Request) -> Response:
        body = await _json(request)
        await run_in_threadpool(store.share, _who(request), request.path_params["session_id"], bool(body.get("shared", True)))
        return JSONResponse({"ok": True})

    async def comment(request: Request) -> Response:
        body = await _json(request)
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise Refused(422, "a comment needs {\"text\": …}")
        verdict = body.get("verdict")
        await run_in_threadpool(store.add_comment, _who(request), request.path_params["session_id"], text,
                                body.get("check_id"), verdict if isinstance(verdict, bool) else None)
        return JSONResponse({"ok": True})

    routes = [
        Route("/api/health", health),
        Route("/api/login", login, methods=["POST"]),
        Route("/api/enrol", enrol, methods=["POST"]),
        Route("/api/uploads", start, methods=["POST"]),
        Route("/api/uploads/{upload_id}", offsets, methods=["GET"]),
        Route("/api/uploads/{upload_id}/finish", finish, methods=["POST"]),
        Route("/api/uploads/{upload_id}/{name}", chunk, methods=["PUT"]),
        Route("/api/sessions", list_sessions),
        Route("/api/sessions/{session_id}/share", share, methods=["POST"]),
        Route("/api/sessions/{session_id}/comments", comment, methods=["POST"]),
        Route("/api/sessions/{session_id}/{name}", session_file),
        *extra_routes,
        *(page_routes(login_limit) if page_routes else ()),
    ]
    return Starlette(routes=routes, middleware=[Middleware(HubAuth, store=store, open_to_local=open_to_local)],
                     exception_handlers={Refused: lambda request, exc: _error(exc.status, exc.message)})


def check_login_rate(limit: RateLimiter, request: Request, name: str) -> None:
    """Refuse (429) a name or a peer that guessed too often in the last minute."""
    peer = request.client.host if request.client else "?"
    if not (limit.allow(f"name:{name}") and limit.allow(f"peer:{peer}")):
        raise Refused(429, "too many login attempts; wait a minute")


def _who(request: Request) -> Identity:
    identity = getattr(request.state, "identity", None)
    if identity is None:
        raise Refused(401, "this needs a token: Authorization: Bearer <token>")
    return identity


async def _json(request: Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        raise Refused(400, "the request body must be JSON") from None
    if not isinstance(body, dict):
        raise Refused(400, "the request body must be a JSON object")
    return body


async def _append_body(request: Request, path, expected: int) -> int:
    """Append the request body to `path`; what arrived stays (resumable), more than announced is refused."""
    written = 0
    try:
        with open(path, "ab") as f:
            async for block in request.stream():
                if written + len(block) > expected:
                    f.truncate(f.tell() - written)  # drop this chunk: its Content-Range lied
                    raise Refused(413, f"the chunk is longer than its Content-Range ({expected} bytes)")
                f.write(block)
                written += len(block)
    except ClientDisconnect:
        pass  # the bytes that arrived are kept; the client resumes from the offset
    return written


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
