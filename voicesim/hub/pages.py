"""The trainer's desk inside the hub: the sign-in form, its cookie, and the calls each caller may see.

A trainer signs in with name and password (the same ``store.login`` as ``/api/login``);
a trainee may paste their PC's token (``<sessions>/.hub-credentials.json``) instead.
The cookie holds that token: 32 random bytes the database knows only as a SHA-256, so
it cannot be forged, and it is HttpOnly and SameSite=Strict, and every post it carries
must come from the hub's own page (:func:`voicesim.hub.app.same_origin`).
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from voicesim.desk import app as desk
from voicesim.desk.library import Library, VisibleCalls
from voicesim.hub.app import COOKIE, check_login_rate, same_origin
from voicesim.hub.auth import RateLimiter
from voicesim.hub.schema import Refused
from voicesim.hub.store import LOGIN_HOURS, HubStore

FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · voicesim hub</title>
<link rel="stylesheet" href="/static/desk.css"></head>
<body><main><h1>Sign in to the trainer's desk</h1>{problem}
<form method="post" action="/login">
<input type="hidden" name="next" value="{next}">
<p><label>Trainer name <input name="name" autocomplete="username"></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password"></label></p>
<p>Trainees: paste your PC's token (pc_…) instead <label>Token <input name="token" autocomplete="off"></label></p>
<p><button type="submit">Sign in</button></p>
</form></main></body></html>
"""


def routes(store: HubStore, login_limit: RateLimiter) -> list[BaseRoute]:
    """The desk's pages over the hub's stored calls, and the sign-in and sign-out forms."""
    library = Library(store.sessions_dir)

    def view(request: Request) -> Library | VisibleCalls:
        who = request.state.identity
        if who.sees_all:
            return library
        return VisibleCalls(library, frozenset(row["id"] for row in store.list_sessions(who)))

    def editor(request: Request) -> str | None:
        who = request.state.identity
        return who.name if who.kind == "trainer" else "" if who.kind == "local" else None

    async def sign_in_page(request: Request) -> Response:
        return _form(request.query_params.get("next", "/"))

    async def sign_in(request: Request) -> Response:
        if not same_origin(request):
            return _form("/", "This form is accepted only from the hub's own sign-in page.", 403)
        form = {k: v[0] for k, v in parse_qs((await request.body())[:desk.MAX_FORM_BYTES].decode("utf-8", "replace")).items()}
        target = form.get("next", "/")
        try:
            token = await run_in_threadpool(_token_for, store, login_limit, request, form)
        except Refused as exc:
            return _form(target, exc.message, exc.status)
        # Only a path on this hub: "//elsewhere.example" (or "/\\elsewhere", which browsers read alike) would
        # send the trainer away.
        local = target.startswith("/") and not target.startswith(("//", "/\\"))
        answer = RedirectResponse(target if local else "/", status_code=303)
        answer.set_cookie(COOKIE, token, max_age=LOGIN_HOURS * 3600, httponly=True, samesite="strict",
                          secure=request.url.scheme == "https")
        return answer

    async def sign_out(request: Request) -> Response:
        await run_in_threadpool(store.logout, request.cookies.get(COOKIE, ""))
        answer = RedirectResponse("/login", status_code=303)
        answer.delete_cookie(COOKIE)
        return answer

    return [
        Route("/login", sign_in_page, methods=["GET"]),
        Route("/login", sign_in, methods=["POST"]),
        Route("/logout", sign_out, methods=["POST"]),
        *desk.routes(library, view=view, editor=editor),
    ]


def _token_for(store: HubStore, login_limit: RateLimiter, request: Request, form: dict[str, str]) -> str:
    """A trainer's fresh login token, or the trainee's PC token checked against the store."""
    token = form.get("token", "").strip()
    if token:
        check_login_rate(login_limit, request, "token")
        who = store.identify(token) if token.startswith("pc_") else None
        if who is None:
            raise Refused(401, "this token is not a PC token the hub knows; ask the trainer")
        return token
    name = form.get("name", "")
    check_login_rate(login_limit, request, name)
    return store.login(name, form.get("password", ""))


def _form(target: str, problem: str = "", status: int = 200) -> HTMLResponse:
    shown = f'<p class="problem">{escape(problem)}</p>' if problem else ""
    return HTMLResponse(FORM.format(problem=shown, next=escape(target)), status_code=status)
