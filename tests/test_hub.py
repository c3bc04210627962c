"""The training-room hub end to end: real scripted calls on three trainee PCs upload to a real hub
(uvicorn on a loopback socket, real HTTP), on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

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
    """One real scripted call on this PC's sessions folder; returns the --json result."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["practice", "--replies", *map(str, DEMO), "--sessions-dir", str(pc / "sessions"),
                     "--trainee", trainee, "--json", *hub_args])
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


def trainer_token(url: str) -> str:
    status, body = http("POST", f"{url}/api/login", {"name": "anna", "password": "s3cret-trainer"})
    assert status == 200, body
    return body["token"]


@pytest.mark.slow
def test_three_pcs_and_a_restart_every_call_arrives_once(room, tmp_path, monkeypatch, capsys):
    settings, token = room
    trainees = ("sam", "<b>kim</b>", "lee")
    pcs = [tmp_path / f"pc{n}" for n in (1, 2, 3)]
    with ThreadedHub(settings) as hub:
        url = hub.url
        first = practice(pcs[0], trainees[0], "--hub", url, "--hub-token", token)
    # The hub is down: the call still completes and waits in the outbox.
    second = practice(pcs[1], trainees[1], "--hub", url, "--hub-token", token)
    assert "kept in the outbox" in capsys.readouterr().err
    assert outbox(pcs[1] / "sessions") == [Path(second["session_dir"])]
    port = int(url.rsplit(":", 1)[1])
    with ThreadedHub(HubSettings(settings.host, port, settings.db, settings.store)):
        # The third PC reads its hub from a config file, as scripts/practice would.
        config = tmp_path / "pc3-config.toml"
        config.write_text(f'[hub]\nurl = "{url}"\ntoken = "{token}"\n')
        monkeypatch.setenv("VOICESIM_CONFIG", str(config))
        third = practice(pcs[2], trainees[2])
        monkeypatch.delenv("VOICESIM_CONFIG")
        assert main(["sessions", "push", "--sessions-dir", str(pcs[1] / "sessions"), "--hub", url, "--hub-token", token]) == 0
        # Pushing again, and re-marking an uploaded call as pending, stores nothing twice.
        marker = Path(first["session_dir"]) / "upload.json"
        marker.write_text('{"state": "pending"}')
        assert main(["sessions", "push", "--sessions-dir", str(pcs[0] / "sessions"), "--hub", url, "--hub-token", token]) == 0
        status, listing = http("GET", f"{url}/api/sessions", token=trainer_token(url))
        stored = {row["folder_name"]: row for row in listing}
        files = {p.name for row in listing for p in (settings.store / "sessions" / row["id"]).iterdir()}
    assert sorted(stored) == sorted(Path(r["session_dir"]).name for r in (first, second, third))
    assert len(listing) == 3
    assert {row["trainee"] for row in listing} == set(trainees)  # markup stays text
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
