"""The training-room hub end to end: real scripted calls on three trainee PCs upload to a real hub
(uvicorn on a loopback socket, real HTTP), on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import html
import json
import shutil
import uuid
from pathlib import Path

import pytest

from voicesim.cli import main
from voicesim.resources import data_file

pytest.importorskip("starlette", reason="the hub needs its extra: pip install -e '.[hub]'")
from hub_postgres import PostgresServer, postgres_bin  # noqa: E402

from voicesim.hub.server import HubSettings, ThreadedHub  # noqa: E402
from voicesim.upload import outbox  # noqa: E402

DEMO = sorted(data_file("demo").joinpath("late-delivery").glob("*.wav"))
CLOSED_HOST = "127.0.0.2"
"""A loopback alias: not 127.0.0.1, so the hub acts as on the room's network and needs tokens."""


@pytest.fixture(scope="session")
def postgres():
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed: apt-get install postgresql (scripts/setup --test does)")
    with PostgresServer() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_settings(request, tmp_path) -> HubSettings:
    """Settings of a fresh hub (store folder, database) on CLOSED_HOST, a free port."""
    db = None
    if request.param == "postgresql":
        db = request.getfixturevalue("postgres").database(f"hub_{uuid.uuid4().hex[:12]}")
    return HubSettings(host=CLOSED_HOST, port=0, db=db, store=tmp_path / "hub")


def hub_cli(settings: HubSettings) -> list[str]:
    """The options that point `voicesim hub …` at the settings' store and database."""
    return ["--store", str(settings.store), *(["--db", settings.db] if settings.db else [])]


@pytest.fixture
def room(hub_settings, capsys, monkeypatch):
    """A trainer account and a room token made with the CLI; returns (settings, room token)."""
    monkeypatch.setattr("sys.stdin", _Stdin("s3cret-trainer\n"))
    assert main(["hub", "user", "add", "anna", *hub_cli(hub_settings)]) == 0
    capsys.readouterr()
    assert main(["hub", "token", "create", "--room", "room-2", *hub_cli(hub_settings)]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("room_")
    return hub_settings, token


class _Stdin:
    """A piped stdin (not a terminal): the password is read from it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def isatty(self) -> bool:
        return False

    def readline(self) -> str:
        return self.text


def practice(pc: Path, trainee: str, *hub_args: str) -> dict:
    """One real scripted call on this PC's sessions folder; returns the --json result.

    Without the second pass: the hub stores and lists the folder whatever words it holds, and Whisper
    re-hearing every reply was most of these calls' time (the second pass has its own tests)."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["practice", "--replies", *map(str, DEMO), "--sessions-dir", str(pc / "sessions"),
                     "--trainee", trainee, "--json", "--no-second-pass", *hub_args])
    assert code == 0
    return json.loads(out.getvalue())


def http(method: str, url: str, body=None, token: str | None = None, headers: dict | None = None) -> tuple[int, object]:
    """A real HTTP request; returns (status, decoded JSON body)."""
    import urllib.error
    import urllib.request

    data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def page(url: str, *, cookie: str | None = None, token: str | None = None, form: dict | None = None,
         origin: str | None = None) -> tuple[int, str, dict]:
    """A real HTTP request to the desk's pages, redirects not followed; returns (status, body text, headers)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data)
    if cookie:
        request.add_header("Cookie", cookie)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if origin:
        request.add_header("Origin", origin)
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=30) as answer:
            return answer.status, answer.read().decode(errors="replace"), dict(answer.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace"), dict(exc.headers)


def sign_in(url: str, **fields: str) -> str:
    """The desk's sign-in form, posted as a browser on the hub's page would; returns the Cookie header."""
    status, body, headers = page(f"{url}/login", form={"next": "/", **(fields or {"name": "anna", "password": "s3cret-trainer"})},
                                 origin=url)
    assert status == 303, body
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    return cookie.split(";")[0]


def group_page(url: str, cookie: str) -> str:
    """The desk's comparison page of the first group (a pack, else a scenario) on the packs page."""
    import re

    status, packs, _ = page(f"{url}/packs.html", cookie=cookie)
    assert status == 200, packs
    link = re.search(r'href="(packs/[^"]+[.]html)"', packs).group(1)
    status, body, _ = page(f"{url}/{link}", cookie=cookie)
    assert status == 200, body
    return body


def trainer_token(url: str) -> str:
    status, body = http("POST", f"{url}/api/login", {"name": "anna", "password": "s3cret-trainer"})
    assert status == 200, body
    return body["token"]


@pytest.mark.slow
def test_three_pcs_and_a_restart_every_call_arrives_once(room, tmp_path, monkeypatch, capsys):
    settings, token = room
    trainees = ("sam", "<b>kim</b>", "lee")
    pcs = [tmp_path / f"pc{n}" for n in (1, 2, 3)]

    def on_pc(n: int) -> None:
        """PC n's own config file names the hub, as scripts/practice reads it; the first PC passes flags instead."""
        monkeypatch.setenv("VOICESIM_CONFIG", str(pcs[n] / "config.toml"))

    with ThreadedHub(settings) as hub:
        url = hub.url
        for pc in pcs:
            pc.mkdir()
            (pc / "config.toml").write_text(f'[hub]\nurl = "{url}"\ntoken = "{token}"\n')
        first = practice(pcs[0], trainees[0], "--hub", url, "--hub-token", token)
    # The hub is down: the call still completes and waits in the outbox.
    on_pc(1)
    second = practice(pcs[1], trainees[1])
    assert "kept in the outbox" in capsys.readouterr().err
    assert outbox(pcs[1] / "sessions") == [Path(second["session_dir"])]
    port = int(url.rsplit(":", 1)[1])
    with ThreadedHub(HubSettings(settings.host, port, settings.db, settings.store)):
        on_pc(2)
        third = practice(pcs[2], trainees[2])
        on_pc(1)
        assert main(["sessions", "push", "--sessions-dir", str(pcs[1] / "sessions")]) == 0
        monkeypatch.delenv("VOICESIM_CONFIG")
        # Pushing again, and re-marking an uploaded call as pending, stores nothing twice.
        marker = Path(first["session_dir"]) / "upload.json"
        marker.write_text('{"state": "pending"}')
        assert main(["sessions", "push", "--sessions-dir", str(pcs[0] / "sessions"), "--hub", url, "--hub-token", token]) == 0
        status, listing = http("GET", f"{url}/api/sessions", token=trainer_token(url))
        stored = {row["folder_name"]: row for row in listing}
        # The trainer opens the desk on the hub: the comparison page shows every trainee, markup as text.
        compared = group_page(url, sign_in(url))
        files = {p.name for row in listing for p in (settings.store / "sessions" / row["id"]).iterdir()}
    assert sorted(stored) == sorted(Path(r["session_dir"]).name for r in (first, second, third))
    assert len(listing) == 3
    assert {row["trainee"] for row in listing} == set(trainees)  # markup stays text
    assert all(html.escape(t, quote=False) in compared for t in trainees) and "<b>kim" not in compared
    assert files == {"session.json", "recording.wav"}
    for pc in pcs:
        assert outbox(pc / "sessions") == []
        folder = next(p for p in (pc / "sessions").iterdir() if p.is_dir())
        assert json.loads((folder / "upload.json").read_text())["state"] == "uploaded"
        assert (folder / "recording.wav").is_file()  # the local copy stays
    assert not any((settings.store / "staging").iterdir())


@pytest.fixture(scope="session")
def real_session(tmp_path_factory) -> Path:
    """One real scripted call's session folder, copied by the tests that need many sessions."""
    result = practice(tmp_path_factory.mktemp("pc-real"), "sam")
    return Path(result["session_dir"])


def copy_session(real_session: Path, sessions: Path, name: str, trainee: str | None = None) -> Path:
    folder = sessions / name
    shutil.copytree(real_session, folder)
    (folder / "upload.json").unlink(missing_ok=True)
    if trainee is not None:
        data = json.loads((folder / "session.json").read_text())
        data["trainee"] = trainee
        (folder / "session.json").write_text(json.dumps(data))
    return folder


def enrol(url: str, room_token: str, trainee: str) -> str:
    status, body = http("POST", f"{url}/api/enrol", {"trainee": trainee}, token=room_token)
    assert status == 200, body
    return body["token"]


def push_folder(folder: Path, url: str, token: str | None) -> str:
    from voicesim.upload import HubTarget, push

    return push(folder, HubTarget(url, token), folder.parent)


def store_is_clean(settings: HubSettings) -> bool:
    """No staged upload and no stored session left behind."""
    return not any((settings.store / "staging").iterdir()) and not any((settings.store / "sessions").iterdir())


def test_refuses_to_start_off_localhost_without_a_trainer(hub_settings, capsys):
    assert main(["hub", "--host", CLOSED_HOST, "--port", "1", *hub_cli(hub_settings)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("voicesim: error: ") and "voicesim hub user add" in err and err.count("\n") == 1


def test_off_localhost_nothing_works_without_a_valid_token(room, real_session, tmp_path):
    from voicesim.upload import HubRefused

    settings, token = room
    folder = copy_session(real_session, tmp_path, "20261130-100000-late-delivery-sam")
    with ThreadedHub(settings) as hub:
        for method, path in (("POST", "/api/uploads"), ("GET", "/api/sessions"), ("POST", "/api/enrol")):
            status, body = http(method, hub.url + path, {})
            assert status == 401, (path, body)
        with pytest.raises(HubRefused, match="401"):
            push_folder(folder, hub.url, None)
        with pytest.raises(HubRefused, match="401"):
            push_folder(folder, hub.url, "pc_made-up")
        # A room token enrols a PC; it does not upload itself.
        status, body = http("POST", hub.url + "/api/uploads", {"folder_name": folder.name, "files": _manifest(folder)},
                            token=token)
        assert status == 403, body
        status, _ = http("POST", hub.url + "/api/login", {"name": "anna", "password": "wrong"})
        assert status == 401
    assert store_is_clean(settings)


def test_a_trainee_sees_only_their_own_calls_until_the_trainer_shares(room, real_session, tmp_path):
    settings, token = room
    sam_dir, kim_dir = tmp_path / "sam", tmp_path / "kim"
    sam_call = copy_session(real_session, sam_dir, "20261130-100000-late-delivery-sam")
    kim_call = copy_session(real_session, kim_dir, "20261130-100000-late-delivery-kim", trainee="<script>alert(1)</script>")
    with ThreadedHub(settings) as hub:
        sam, kim = enrol(hub.url, token, "sam"), enrol(hub.url, token, "kim")
        sam_id, kim_id = push_folder(sam_call, hub.url, sam), push_folder(kim_call, hub.url, kim)
        _, sam_sees = http("GET", hub.url + "/api/sessions", token=sam)
        assert [row["id"] for row in sam_sees] == [sam_id]
        for name in ("session.json", "recording.wav"):
            status, _ = http("GET", f"{hub.url}/api/sessions/{kim_id}/{name}", token=sam)
            assert status == 404
        status, _ = http("POST", f"{hub.url}/api/sessions/{kim_id}/share", {"shared": True}, token=sam)
        assert status == 403
        trainer = trainer_token(hub.url)
        assert http("POST", f"{hub.url}/api/sessions/{kim_id}/share", {"shared": True}, token=trainer)[0] == 200
        comment = {"text": "good apology", "check_id": "apology", "verdict": True}
        assert http("POST", f"{hub.url}/api/sessions/{kim_id}/comments", comment, token=trainer)[0] == 200
        assert http("POST", f"{hub.url}/api/sessions/{kim_id}/comments", comment, token=sam)[0] == 403
        _, sam_sees = http("GET", hub.url + "/api/sessions", token=sam)
        status, kim_json = http("GET", f"{hub.url}/api/sessions/{kim_id}/session.json", token=sam)
    assert sorted(row["id"] for row in sam_sees) == sorted([sam_id, kim_id])
    assert status == 200 and kim_json["trainee"] == "<script>alert(1)</script>"  # stored and returned as text
    assert {row["trainee"] for row in sam_sees} == {"sam", "<script>alert(1)</script>"}


def test_a_revoked_token_is_refused_and_the_call_stays_in_the_outbox(room, real_session, tmp_path, capsys):
    from voicesim.upload import mark_pending

    settings, token = room
    folder = copy_session(real_session, tmp_path / "pc", "20261130-100000-late-delivery-sam")
    mark_pending(folder)
    with ThreadedHub(settings) as hub:
        enrolled = enrol(hub.url, token, "sam")
        assert main(["hub", "token", "revoke", "room-2", *hub_cli(settings)]) == 0
        assert http("GET", hub.url + "/api/sessions", token=enrolled)[0] == 401
        assert http("POST", hub.url + "/api/enrol", {"trainee": "x"}, token=token)[0] == 401
        code = main(["sessions", "push", "--sessions-dir", str(folder.parent), "--hub", hub.url, "--hub-token", token])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("voicesim: error: 1 call(s) still in the outbox") and "401" in err
    assert outbox(folder.parent) == [folder]
    assert store_is_clean(settings)


def _start(url: str, token: str, folder_name: str, files: list[dict]) -> tuple[int, dict]:
    return http("POST", url + "/api/uploads", {"folder_name": folder_name, "files": files}, token=token)


def _manifest(folder: Path) -> list[dict]:
    from voicesim.upload import file_sha256

    return [{"name": n, "size": (folder / n).stat().st_size, "sha256": file_sha256(folder / n)}
            for n in ("session.json", "recording.wav")]


def _put(url: str, token: str, upload_id: str, name: str, data: bytes, start: int, total: int) -> tuple[int, dict]:
    headers = {"Content-Range": f"bytes {start}-{start + len(data) - 1}/{total}"}
    return http("PUT", f"{url}/api/uploads/{upload_id}/{name}", data, token=token, headers=headers)


def test_hostile_uploads_are_refused_and_leave_nothing_behind(room, real_session, tmp_path):
    settings, token = room
    folder = copy_session(real_session, tmp_path, "20261130-100000-late-delivery-sam")
    files = _manifest(folder)
    json_bytes = (folder / "session.json").read_bytes()
    with ThreadedHub(settings) as hub:
        pc = enrol(hub.url, token, "sam")
        # Client paths never reach the file system: traversal in the folder or file name is refused.
        for name in ("../../etc", "/abs", ".hidden", "a/b"):
            assert _start(hub.url, pc, name, files)[0] == 422
        evil = [dict(files[0], name="../../session.json"), files[1]]
        assert _start(hub.url, pc, folder.name, evil)[0] == 422
        # Oversized: announced beyond the limit.
        huge = [files[0], dict(files[1], size=10**12)]
        assert _start(hub.url, pc, folder.name, huge)[0] == 413
        # A chunk longer than its Content-Range, or off the offset, is refused.
        status, state = _start(hub.url, pc, folder.name, files)
        assert status == 200 and state["state"] == "open"
        upload = state["upload_id"]
        assert _put(hub.url, pc, upload, "session.json", json_bytes[5:], 5, len(json_bytes))[0] == 409
        assert _put(hub.url, pc, upload, "session.json", json_bytes, 5, len(json_bytes))[0] == 416
        assert http("PUT", f"{hub.url}/api/uploads/{upload}/session.json", json_bytes, token=pc,
                    headers={"Content-Range": f"bytes 0-9/{len(json_bytes)}"})[0] == 413
        # Truncated: half of the recording arrives, then finish.
        assert _put(hub.url, pc, upload, "session.json", json_bytes, 0, len(json_bytes))[0] == 200
        recording = (folder / "recording.wav").read_bytes()
        half = recording[: len(recording) // 2]
        assert _put(hub.url, pc, upload, "recording.wav", half, 0, len(recording)) == (200, {"offset": len(half)})
        status, body = http("POST", f"{hub.url}/api/uploads/{upload}/finish", {}, token=pc)
        assert status == 422 and "incomplete" in body["error"]
        assert store_is_clean(settings)
        # A wrong sha256: every byte arrives, but not the bytes announced.
        wrong = [files[0], dict(files[1], sha256="0" * 64)]
        _, state = _start(hub.url, pc, folder.name, wrong)
        assert _put(hub.url, pc, state["upload_id"], "session.json", json_bytes, 0, len(json_bytes))[0] == 200
        for start in range(0, len(recording), 1 << 20):
            assert _put(hub.url, pc, state["upload_id"], "recording.wav", recording[start:start + (1 << 20)], start,
                        len(recording))[0] == 200
        status, body = http("POST", f"{hub.url}/api/uploads/{state['upload_id']}/finish", {}, token=pc)
        assert status == 422 and "damaged" in body["error"]
        assert store_is_clean(settings)
        # A session.json that is not what a call writes.
        (folder / "session.json").write_text('{"trainee": 5}')
        from voicesim.upload import HubRefused

        with pytest.raises(HubRefused, match="422"):
            push_folder(folder, hub.url, pc)
        _, listing = http("GET", hub.url + "/api/sessions", token=trainer_token(hub.url))
    assert listing == []
    assert store_is_clean(settings)


def test_an_interrupted_upload_resumes_from_the_hubs_offset(room, real_session, tmp_path):
    settings, token = room
    folder = copy_session(real_session, tmp_path, "20261130-100000-late-delivery-sam")
    files = _manifest(folder)
    recording = (folder / "recording.wav").read_bytes()
    with ThreadedHub(settings) as hub:
        pc = enrol(hub.url, token, "sam")
        _, state = _start(hub.url, pc, folder.name, files)
        _put(hub.url, pc, state["upload_id"], "recording.wav", recording[: 1 << 20], 0, len(recording))
        _, again = _start(hub.url, pc, folder.name, files)
        assert again["upload_id"] == state["upload_id"] and again["offsets"]["recording.wav"] == 1 << 20
        session_id = push_folder(folder, hub.url, pc)
        assert push_folder(folder, hub.url, pc) == session_id  # idempotent
        stored = settings.store / "sessions" / session_id / "recording.wav"
        assert stored.read_bytes() == recording
        _, listing = http("GET", hub.url + "/api/sessions", token=pc)
    assert [row["id"] for row in listing] == [session_id]


def test_login_attempts_are_rate_limited(room):
    settings, _ = room
    with ThreadedHub(settings) as hub:
        statuses = [http("POST", hub.url + "/api/login", {"name": "anna", "password": f"guess{n}"})[0] for n in range(12)]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]


def test_open_only_on_this_pcs_loopback():
    from voicesim.hub.auth import needs_auth

    assert [needs_auth(h) for h in ("127.0.0.1", "::1", "localhost")] == [False] * 3
    assert all(needs_auth(h) for h in ("0.0.0.0", "::", "127.0.0.2", "192.168.1.10"))


def test_a_pc_token_stores_at_most_its_limit(room, real_session, tmp_path):
    from dataclasses import replace

    from voicesim.hub.schema import Limits
    from voicesim.upload import HubRefused

    settings, token = room
    settings = replace(settings, limits=Limits(max_sessions_per_token=1, uploads_per_minute=2))
    first = copy_session(real_session, tmp_path, "20261130-100000-late-delivery-sam")
    second = copy_session(real_session, tmp_path, "20261130-110000-late-delivery-sam")
    with ThreadedHub(settings) as hub:
        pc = enrol(hub.url, token, "sam")
        push_folder(first, hub.url, pc)
        with pytest.raises(HubRefused, match="403.*ask the trainer"):
            push_folder(second, hub.url, pc)
        # Third start within the minute: over the rate, a retryable 429 (the outbox keeps the call).
        status, body = _start(hub.url, pc, second.name, _manifest(second))
        assert status == 429 and "too many uploads" in body["error"]
    assert not any((settings.store / "staging").iterdir())
    assert len(list((settings.store / "sessions").iterdir())) == 1


def test_a_restart_sweeps_what_a_crash_left_half_made(room, real_session, tmp_path):
    settings, token = room
    folder = copy_session(real_session, tmp_path, "20261130-100000-late-delivery-sam")
    with ThreadedHub(settings) as hub:
        pc = enrol(hub.url, token, "sam")
        session_id = push_folder(folder, hub.url, pc)
    # As if the hub died mid-upload and between moving a session into place and indexing it.
    (settings.store / "staging" / "f00d").mkdir()
    shutil.copytree(settings.store / "sessions" / session_id, settings.store / "sessions" / "beef")
    with ThreadedHub(settings) as hub:
        _, listing = http("GET", hub.url + "/api/sessions", token=pc)
    assert [row["id"] for row in listing] == [session_id]
    assert [p.name for p in (settings.store / "sessions").iterdir()] == [session_id]
    assert not any((settings.store / "staging").iterdir())


DESK_PAGES = ("/", "/index.html", "/packs.html", "/calibration.html", "/sessions.csv", "/trainees/sam.html")


def test_off_localhost_no_desk_page_works_without_a_sign_in(room, real_session, tmp_path):
    settings, token = room
    folder = copy_session(real_session, tmp_path, "20261130-100000-late-delivery-sam")
    with ThreadedHub(settings) as hub:
        call_id = push_folder(folder, hub.url, enrol(hub.url, token, "sam"))
        call_pages = (f"/calls/{call_id}.html", f"/calls/{call_id}.wav")
        for path in (*DESK_PAGES, *call_pages):
            for cookie in (None, "voicesim_hub=login_made-up", f"voicesim_hub={token}"):  # a room token opens no page
                status, _, headers = page(hub.url + path, cookie=cookie)
                assert status == 303 and headers["location"].startswith("/login?next="), (path, cookie, status)
        verdict = {"check": "apology", "met": "false", "by": "mallory"}  # "by" is the signed-in trainer on the hub
        assert page(f"{hub.url}/calls/{call_id}/verdict", form=verdict, origin=hub.url)[0] == 401
        trainer = sign_in(hub.url)
        assert page(hub.url + call_pages[0], cookie=trainer)[0] == 200
        # Cross-site posts are refused even though the browser would carry the cookie.
        for origin in ("http://evil.example", None):
            assert page(f"{hub.url}/calls/{call_id}/verdict", form=verdict, cookie=trainer, origin=origin)[0] == 403
        assert not (settings.store / "sessions" / call_id / "trainer.json").exists()
        status, _, headers = page(f"{hub.url}/calls/{call_id}/verdict", form=verdict, cookie=trainer, origin=hub.url)
        assert status == 303 and headers["location"].endswith(f"{call_id}.html#assessment")
        bad_password = page(f"{hub.url}/login", form={"name": "anna", "password": "guess"}, origin=hub.url)
        away = page(f"{hub.url}/login", form={"name": "anna", "password": "s3cret-trainer", "next": "//evil.example/"},
                    origin=hub.url)
        signed_out = page(hub.url + "/logout", form={}, cookie=trainer, origin=hub.url)
        after = page(hub.url + "/", cookie=trainer)  # the old cookie no longer opens anything
    judged = json.loads((settings.store / "sessions" / call_id / "trainer.json").read_text())
    assert "anna" in json.dumps(judged) and "mallory" not in json.dumps(judged)
    assert after[0] == 303
    assert bad_password[0] == 401 and "set-cookie" not in bad_password[2]
    assert away[0] == 303 and away[2]["location"] == "/"  # a sign-in never sends the trainer off the hub
    assert signed_out[0] == 303 and 'voicesim_hub=""' in signed_out[2]["set-cookie"]


def test_a_trainee_opens_only_their_own_call_pages_and_recordings(room, real_session, tmp_path):
    settings, token = room
    markup = "<script>alert(1)</script>"
    sam_call = copy_session(real_session, tmp_path / "sam", "20261130-100000-late-delivery-sam")
    kim_call = copy_session(real_session, tmp_path / "kim", "20261130-100000-late-delivery-kim", trainee=markup)
    with ThreadedHub(settings) as hub:
        sam = enrol(hub.url, token, "sam")
        sam_id, kim_id = push_folder(sam_call, hub.url, sam), push_folder(kim_call, hub.url, enrol(hub.url, token, "kim"))
        by_cookie = sign_in(hub.url, token=sam)  # a trainee signs in with their PC's token
        for who in ({"token": sam}, {"cookie": by_cookie}):
            assert page(f"{hub.url}/calls/{sam_id}.html", **who)[0] == 200
            assert page(f"{hub.url}/calls/{sam_id}.wav", **who)[0] == 200
            assert page(f"{hub.url}/calls/{kim_id}.html", **who)[0] == 404
            assert page(f"{hub.url}/calls/{kim_id}.wav", **who)[0] == 404
            listed = page(f"{hub.url}/sessions.csv", **who)[1]
            assert sam_id in listed and kim_id not in listed
        # A trainee judges nothing, not even their own call.
        verdict = {"check": "apology", "met": "true", "by": "sam"}
        assert page(f"{hub.url}/calls/{sam_id}/verdict", form=verdict, cookie=by_cookie, origin=hub.url)[0] == 403
        assert http("POST", f"{hub.url}/api/sessions/{kim_id}/share", {"shared": True}, token=trainer_token(hub.url))[0] == 200
        status, shared, _ = page(f"{hub.url}/calls/{kim_id}.html", cookie=by_cookie)
        index = page(f"{hub.url}/", token=sam)[1]
    assert status == 200 and html.escape(markup, quote=False) in shared and markup not in shared
    assert markup not in index and "&lt;script&gt;" in index
    assert not (settings.store / "sessions" / sam_id / "trainer.json").exists()


def test_review_refuses_an_address_off_this_pc_and_points_at_the_hub(tmp_path, capsys):
    assert main(["review", "--sessions-dir", str(tmp_path), "--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("voicesim: error: ") and "voicesim hub --host 0.0.0.0" in err and err.count("\n") == 1
