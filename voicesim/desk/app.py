"""Serves the desk over HTTP: a Starlette app with the pages, recordings and the trainer's forms.

The URLs are the static export's file names (``index.html``, ``calls/<id>.html``,
``calls/<id>.wav``), so links work the same served and exported. Forms post
URL-encoded bodies, parsed here, so no multipart library is needed.

>>> from voicesim.desk.library import Library
>>> app = create_app(Library(Path(".")))
>>> sorted(r.path for r in app.routes)[:2]
['/', '/calibration.html']
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from voicesim.desk import verdicts
from voicesim.desk.analytics import Filters
from voicesim.desk.library import Library
from voicesim.desk.pages import Site
from voicesim.errors import VoicesimError
from voicesim.session import RECORDING

STATIC = Path(__file__).parent / "static"
MAX_FORM_BYTES = 16_384
MET_VALUES = {"true": True, "false": False, "none": None}


def filters_from(request: Request) -> Filters:
    q = request.query_params
    return Filters(trainee=q.get("trainee", ""), scenario=q.get("scenario", ""), pack=q.get("pack", ""),
                   outcome=q.get("outcome", ""), date_from=q.get("date_from", ""), date_to=q.get("date_to", ""),
                   sort=q.get("sort", "started"), descending=q.get("order", "desc") != "asc", page=_page(q.get("page")))


def _page(value: str | None) -> int | None:
    """?page=N (default 1); ?page=all: every row."""
    if value == "all":
        return None
    return int(value) if value and value.isdigit() and int(value) > 0 else 1


def create_app(library: Library) -> Starlette:
    # Page handlers are plain functions: Starlette runs them in its thread pool, so reading
    # folders and rendering never stalls the event loop that streams a recording.
    site = Site(library)

    def html(page: str | None, what: str) -> Response:
        if page is None:
            return HTMLResponse(site.not_found(what), status_code=404)
        return HTMLResponse(page)

    def sessions(request: Request) -> Response:
        return HTMLResponse(site.sessions(filters_from(request)))

    def sessions_csv(request: Request) -> Response:
        return Response(site.sessions_csv(filters_from(request)), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="sessions.csv"'})

    def call_page(request: Request) -> Response:
        return html(site.call(request.path_params["call_id"]), "such call")

    def recording(request: Request) -> Response:
        call = library.call(request.path_params["call_id"])
        if call is None or not call.has_recording:
            return PlainTextResponse("no recording for this call", status_code=404)
        return FileResponse(call.folder / RECORDING, media_type="audio/wav")

    def trainee(request: Request) -> Response:
        return html(site.trainee(request.path_params["key"]), "such trainee")

    def packs(request: Request) -> Response:
        return HTMLResponse(site.packs())

    def pack(request: Request) -> Response:
        return html(site.pack(request.path_params["key"]), "such pack or scenario")

    def calibration(request: Request) -> Response:
        return HTMLResponse(site.calibration())

    async def post_verdict(request: Request) -> Response:
        return await _trainer_form(request, library, _save_verdict)

    async def post_comment(request: Request) -> Response:
        return await _trainer_form(request, library, _save_comment)

    routes = [
        Route("/", sessions),
        Route("/index.html", sessions),
        Route("/sessions.csv", sessions_csv),
        Route("/packs.html", packs),
        Route("/calibration.html", calibration),
        Route("/calls/{call_id}.html", call_page),
        Route("/calls/{call_id}.wav", recording),
        Route("/calls/{call_id}/verdict", post_verdict, methods=["POST"]),
        Route("/calls/{call_id}/comment", post_comment, methods=["POST"]),
        Route("/trainees/{key}.html", trainee),
        Route("/packs/{key}.html", pack),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes)


def _save_verdict(folder: Path, form: dict[str, str]) -> None:
    met = form.get("met", "")
    if met == "":
        return  # the trainer pressed Save without choosing
    if met == "clear":
        verdicts.clear_verdict(folder, form.get("check", ""))
    elif met in MET_VALUES:
        verdicts.set_verdict(folder, form.get("check", ""), MET_VALUES[met], form.get("by", ""), form.get("note", ""))
    else:
        raise VoicesimError(f"unknown verdict {met!r}; choose met, not met or not judged")


def _save_comment(folder: Path, form: dict[str, str]) -> None:
    try:
        at_s = float(form.get("at_s", "0").replace(",", "."))
    except ValueError:
        raise VoicesimError(f"comment time {form.get('at_s')!r} is not a number of seconds") from None
    verdicts.add_comment(folder, at_s, form.get("text", ""), form.get("by", ""))


async def _trainer_form(request: Request, library: Library, save) -> Response:
    """Checks the post comes from the desk's own page, saves it, and goes back to the call (303)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        return PlainTextResponse("forms are accepted only from the desk's own pages", status_code=403)
    call = library.call(request.path_params["call_id"])
    if call is None or not call.started_at:
        return PlainTextResponse("no such call, or its session.json is damaged", status_code=404)
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return PlainTextResponse("form too large", status_code=413)
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
    try:
        save(call.folder, form)
    except VoicesimError as exc:
        return PlainTextResponse(f"voicesim: error: {exc}", status_code=400)
    anchor = "#comments" if save is _save_comment else "#assessment"
    return RedirectResponse(f"../{quote(call.id, safe='')}.html{anchor}", status_code=303)


@contextlib.contextmanager
def running(library: Library, host: str = "127.0.0.1") -> Iterator[str]:
    """The desk served by uvicorn in a background thread on a free port; yields its base URL.

    For tests and scripts (screenshots, benchmarks) that need a real server in-process.
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(create_app(library), log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the desk server did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
