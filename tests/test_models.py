"""Model installer: real downloads from a loopback HTTP server, real archives, the real CLI.

Archives are built by the tests, either model-shaped and small or from the real
installed English model; a manifest written per test points the installer at
the loopback server through $VOICESIM_MANIFEST, and $VOICESIM_MODELS_DIR gives
every test its own store. The CLI runs in-process (tests/cli_runner.py), except where
two processes race for the same store.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
import zipfile
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cli_runner import run_cli

from voicesim.models import (
    MODEL_PATH_ENV,
    fetch_model,
    list_models,
    load_manifest,
    missing_model_files,
    resolve_model_path,
    store_dir,
)

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "voicesim"]
NAME = "vosk-model-test-0.1"
PREFIX = f"{NAME}/"

FAKE_MODEL = {
    "README": b"model-shaped test data, not a real model\n",
    "am/final.mdl": b"acoustic model bytes " * 50,
    "conf/model.conf": b"--min-active=200\n",
    "conf/mfcc.conf": b"--use-energy=false\n",
    "graph/HCLr.fst": b"hclr " * 100,
    "graph/Gr.fst": b"gr " * 100,
    "graph/disambig_tid.int": b"1\n2\n",
}


# ---------------------------------------------------------------- helpers


class ArchiveServer:
    """Serves fixed bytes per path on 127.0.0.1 and counts GET requests per path."""

    def __init__(self, chunk_delay_s: float = 0.0) -> None:
        self.files: dict[str, bytes] = {}
        self.claimed_length: dict[str, int] = {}
        """Content-Length to announce instead of the real one, to cut a download short."""
        self.hits: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server.hits[self.path] += 1
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(server.claimed_length.get(self.path, len(body))))
                self.end_headers()
                for start in range(0, len(body), 64 * 1024):
                    self.wfile.write(body[start:start + 64 * 1024])
                    time.sleep(chunk_delay_s)  # lets concurrent fetches overlap

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval: shutdown() waits up to one interval (0.5 s by default) per test.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def serve(self, path: str, body: bytes) -> str:
        self.files[path] = body
        return self.url(path)


@pytest.fixture
def server():
    srv = ArchiveServer()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


def make_zip(files: dict[str, bytes], prefix: str = PREFIX, symlinks: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for rel, data in files.items():
            zf.writestr(prefix + rel, data)
        for rel, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(prefix + rel)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_manifest(tmp_path: Path, sources: list[dict], name: str = NAME) -> Path:
    """A one-model manifest for language 'en' with the given sources."""
    lines = [
        "[[model]]", f'name = "{name}"', 'lang = "en"', 'language = "English"',
        'version = "0.1"', 'size = "1 kB"', "required = true",
    ]
    for src in sources:
        lines += ["[[model.source]]"] + [f"{key} = {json.dumps(value)}" for key, value in src.items()]
    path = tmp_path / "manifest.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def zip_source(url: str, body: bytes, prefix: str = PREFIX, kind: str = "zip") -> dict:
    return {"url": url, "sha256": sha256(body), "kind": kind, "prefix": prefix}


def cli_env(manifest: Path | None, store: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != MODEL_PATH_ENV}
    env.update(VOICESIM_MODELS_DIR=str(store), PYTHONPATH=str(REPO), no_proxy="127.0.0.1", NO_PROXY="127.0.0.1")
    if manifest is not None:
        env["VOICESIM_MANIFEST"] = str(manifest)
    env.update(extra)
    return env


def in_process(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Give this process the manifest, store and proxy settings of ``env`` (cheaper than a CLI run)."""
    monkeypatch.delenv(MODEL_PATH_ENV, raising=False)
    for key in ("VOICESIM_MANIFEST", "VOICESIM_MODELS_DIR", "no_proxy", "NO_PROXY"):
        if key in env:
            monkeypatch.setenv(key, env[key])


def voicesim(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return run_cli(*args, env=env, clean_env=True)


def assert_one_error_line(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    assert proc.returncode != 0, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("voicesim: error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def tree(folder: Path) -> dict[str, str]:
    """Relative file path -> sha256 of its bytes, for every file under ``folder``."""
    return {p.relative_to(folder).as_posix(): sha256(p.read_bytes()) for p in folder.rglob("*") if p.is_file()}


def store_entries(store: Path) -> list[str]:
    """What is in the store besides lock files: scratch leftovers would show up here."""
    return sorted(p.name for p in store.iterdir() if not p.name.endswith(".lock")) if store.exists() else []


# ---------------------------------------------------------------- fetch


def test_fetch_installs_the_model_and_a_second_fetch_downloads_nothing(server, store, tmp_path):
    body = make_zip(FAKE_MODEL)
    manifest = write_manifest(tmp_path, [zip_source(server.serve("/m.zip", body), body)])
    env = cli_env(manifest, store)

    first = voicesim("models", "fetch", "en", env=env)
    assert first.returncode == 0, first.stderr
    assert f"installed at {store / NAME}" in first.stdout
    assert server.hits["/m.zip"] == 1
    assert store_entries(store) == [NAME]  # no .part file, no scratch folder left
    assert tree(store / NAME) == {rel: sha256(data) for rel, data in FAKE_MODEL.items()}

    second = voicesim("models", "fetch", "en", env=env)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().splitlines() == [f"model en: already installed at {store / NAME}"]
    assert second.stderr == ""
    assert server.hits["/m.zip"] == 1


def test_fetch_force_replaces_an_installed_model(server, store, tmp_path, monkeypatch):
    body = make_zip(FAKE_MODEL)
    in_process(monkeypatch, cli_env(write_manifest(tmp_path, [zip_source(server.serve("/m.zip", body), body)]), store))
    assert fetch_model("en", progress=False).source is not None
    (store / NAME / "stray-file").write_text("left by hand")

    forced = fetch_model("en", progress=False, force=True)
    assert forced.path == store / NAME and forced.source is not None
    assert server.hits["/m.zip"] == 2
    assert not (store / NAME / "stray-file").exists()
    assert store_entries(store) == [NAME]


def test_checksum_mismatch_is_one_error_line_and_leaves_no_partial_file(server, store, tmp_path):
    body = make_zip(FAKE_MODEL)
    source = zip_source(server.serve("/m.zip", body), body)
    source["sha256"] = sha256(b"something else")
    env = cli_env(write_manifest(tmp_path, [source]), store)

    proc = voicesim("models", "fetch", "en", env=env)
    assert_one_error_line(proc, "checksum mismatch", sha256(body), "download discarded")
    assert server.hits["/m.zip"] == 1
    assert store_entries(store) == []


@pytest.mark.parametrize(
    "hostile, reason",
    [
        ({"names": {f"{PREFIX}../../escaped.txt": b"x"}}, "unsafe path"),
        ({"names": {"/tmp/voicesim-escaped.txt": b"x"}}, "unsafe path"),
        ({"symlinks": {"graph/Gr.fst": "/etc/passwd"}}, "symlink"),
    ],
    ids=["dot-dot", "absolute", "symlink"],
)
def test_archive_escaping_the_store_is_rejected(server, store, tmp_path, hostile, reason):
    files = {rel: data for rel, data in FAKE_MODEL.items() if rel not in hostile.get("symlinks", {})}
    body = make_zip(files, symlinks=hostile.get("symlinks"))
    if "names" in hostile:
        buf = io.BytesIO(body)
        with zipfile.ZipFile(buf, "a") as zf:
            for name, data in hostile["names"].items():
                zf.writestr(zipfile.ZipInfo(name), data)  # ZipInfo keeps the name as given
        body = buf.getvalue()
    env = cli_env(write_manifest(tmp_path, [zip_source(server.serve("/evil.zip", body), body)]), store)

    assert_one_error_line(voicesim("models", "fetch", "en", env=env), reason, "refusing to unpack")
    assert store_entries(store) == []
    assert not (tmp_path / "escaped.txt").exists()
    assert not Path("/tmp/voicesim-escaped.txt").exists()


def test_truncated_download_is_one_error_line_and_leaves_no_partial_file(server, store, tmp_path):
    body = make_zip(FAKE_MODEL)
    url = server.serve("/m.zip", body[: len(body) // 2])
    server.claimed_length["/m.zip"] = len(body)  # the connection closes half way
    env = cli_env(write_manifest(tmp_path, [zip_source(url, body)]), store)

    assert_one_error_line(voicesim("models", "fetch", "en", env=env), "download interrupted")
    assert store_entries(store) == []


def test_leftovers_of_a_killed_fetch_are_cleaned_up(server, store, tmp_path, monkeypatch):
    body = make_zip(FAKE_MODEL)
    in_process(monkeypatch, cli_env(write_manifest(tmp_path, [zip_source(server.serve("/m.zip", body), body)]), store))
    (store / f".{NAME}.unpack-k1ll3d" / "am").mkdir(parents=True)
    (store / f".{NAME}.download-k1ll3d.part").write_bytes(body[:100])

    assert fetch_model("en", progress=False).source is not None
    assert store_entries(store) == [NAME]


def test_falls_back_to_the_second_source_when_the_first_404s(server, store, tmp_path):
    body = make_zip(FAKE_MODEL)
    missing = zip_source(server.url("/gone.aar"), body, prefix="assets/model/", kind="aar")
    good = zip_source(server.serve("/m.zip", body), body)
    env = cli_env(write_manifest(tmp_path, [missing, good]), store)

    proc = voicesim("models", "fetch", "en", "--quiet", env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"from {good['url']}" in proc.stdout
    assert "HTTP 404" in proc.stdout
    assert (server.hits["/gone.aar"], server.hits["/m.zip"]) == (1, 1)
    assert not missing_model_files(store / NAME)


def test_source_without_pinned_sha256_is_refused_before_downloading(server, store, tmp_path):
    body = make_zip(FAKE_MODEL)
    source = zip_source(server.serve("/m.zip", body), body)
    source["sha256"] = ""
    env = cli_env(write_manifest(tmp_path, [source]), store)

    assert_one_error_line(voicesim("models", "fetch", "en", env=env), "refusing to install an unverified archive")
    assert server.hits["/m.zip"] == 0
    assert store_entries(store) == []


def test_unreachable_source_says_where_to_put_the_model(store, tmp_path):
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = {"url": f"http://127.0.0.1:{port}/m.zip", "sha256": "0" * 64, "kind": "zip", "prefix": PREFIX}
    env = cli_env(write_manifest(tmp_path, [source]), store)

    line = assert_one_error_line(voicesim("models", "fetch", "en", env=env), "download of the English model")
    assert f"put an unpacked English Vosk model at {store / NAME}" in line
    assert "VOSK_MODEL_PATH" in line and "--model" in line


def test_archive_without_a_complete_model_installs_nothing(server, store, tmp_path):
    partial = {rel: data for rel, data in FAKE_MODEL.items() if not rel.startswith("conf/")}
    body = make_zip(partial)
    env = cli_env(write_manifest(tmp_path, [zip_source(server.serve("/m.zip", body), body)]), store)

    assert_one_error_line(voicesim("models", "fetch", "en", env=env), "conf/model.conf", "conf/mfcc.conf")
    assert store_entries(store) == []


def test_incomplete_folder_in_the_store_asks_for_force(server, store, tmp_path, monkeypatch):
    body = make_zip(FAKE_MODEL)
    env = cli_env(write_manifest(tmp_path, [zip_source(server.serve("/m.zip", body), body)]), store)
    (store / NAME / "am").mkdir(parents=True)

    assert_one_error_line(voicesim("models", "fetch", "en", env=env), str(store / NAME), "--force")
    assert server.hits["/m.zip"] == 0
    in_process(monkeypatch, env)
    assert fetch_model("en", progress=False, force=True).source is not None
    assert not missing_model_files(store / NAME)


def test_concurrent_fetches_download_and_install_once(store, tmp_path):
    srv = ArchiveServer(chunk_delay_s=0.02)
    srv.thread.start()
    try:
        body = make_zip({**FAKE_MODEL, "am/final.mdl": bytes(range(256)) * 2048})  # ~0.5 MB, a few chunks
        env = cli_env(write_manifest(tmp_path, [zip_source(srv.serve("/m.zip", body), body)]), store)
        cmd = [*CLI, "models", "fetch", "en", "--quiet"]
        procs = [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        outputs = [p.communicate(timeout=120) for p in procs]
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert srv.hits["/m.zip"] == 1
    assert sum("already installed" in out for out, _ in outputs) == 1
    assert store_entries(store) == [NAME]
    assert not missing_model_files(store / NAME)


def test_unknown_language_is_one_error_line(store):
    proc = voicesim("models", "fetch", "xx", env=cli_env(None, store))
    assert_one_error_line(proc, "'xx'", "known: en, de")


def test_list_shows_installed_path_after_fetch(server, store, tmp_path, monkeypatch):
    body = make_zip(FAKE_MODEL)
    env = cli_env(write_manifest(tmp_path, [zip_source(server.serve("/m.zip", body), body)]), store)
    in_process(monkeypatch, env)

    assert [m.path for m in list_models()] == [None]
    fetch_model("en", progress=False)
    listed = json.loads(voicesim("models", "list", "--json", env=env).stdout)
    assert listed == [{"lang": "en", "name": NAME, "version": "0.1", "size": "1 kB", "path": str(store / NAME)}]
    assert list_models()[0].path == store / NAME


# ---------------------------------------------------------------- resolving and validating


def test_model_option_pointing_at_a_non_model_is_one_clear_line(store, tmp_path):
    not_a_model = tmp_path / "holiday-photos"
    not_a_model.mkdir()
    proc = voicesim("models", "path", "en", "--model", str(not_a_model), env=cli_env(None, store))
    assert_one_error_line(proc, f"--model folder {not_a_model}", "missing am/final.mdl")


def test_vosk_model_path_pointing_at_a_non_model_is_one_clear_line(store, tmp_path):
    env = cli_env(None, store, VOSK_MODEL_PATH=str(tmp_path / "nowhere"))
    assert_one_error_line(voicesim("models", "path", "en", env=env), f"VOSK_MODEL_PATH folder {tmp_path / 'nowhere'}",
                          "does not exist")


def test_override_beats_environment_beats_store(tmp_path, monkeypatch):
    def make_model(folder: Path) -> Path:
        for rel, data in FAKE_MODEL.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(data)
        return folder

    monkeypatch.setenv("VOICESIM_MODELS_DIR", str(tmp_path / "store"))
    installed = make_model(tmp_path / "store" / load_manifest()["en"].name)
    from_env = make_model(tmp_path / "env-model")
    override = make_model(tmp_path / "override-model")

    monkeypatch.delenv(MODEL_PATH_ENV, raising=False)
    assert resolve_model_path("en") == installed
    monkeypatch.setenv(MODEL_PATH_ENV, str(from_env))
    assert resolve_model_path("en") == from_env
    assert resolve_model_path("en", str(override)) == override


def test_missing_files_follow_what_vosk_loads(tmp_path):
    folder = tmp_path / "m"
    for rel in ("am/final.mdl", "conf/model.conf", "conf/mfcc.conf", "graph/HCLG.fst"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(b"x")
    assert missing_model_files(folder) == []  # a full HCLG graph needs no HCLr/Gr pair

    (folder / "ivector").mkdir()
    (folder / "ivector/final.ie").write_bytes(b"x")
    assert "ivector/final.dubm" in missing_model_files(folder)  # i-vectors are all or nothing

    (folder / "graph/HCLG.fst").unlink()
    assert "graph/HCLG.fst (or graph/HCLr.fst + graph/Gr.fst)" in missing_model_files(folder)


# ---------------------------------------------------------------- the real English model


@pytest.fixture(scope="module")
def real_english_model() -> Path:
    """The English model in the store, as scripts/setup installs it."""
    folder = store_dir() / load_manifest()["en"].name
    if not folder.is_dir():
        pytest.fail(f"the English model is not installed at {folder}; run scripts/setup")
    return folder


def test_real_english_model_resolves_validates_and_decodes(real_english_model, en_model, monkeypatch):
    import vosk

    monkeypatch.delenv(MODEL_PATH_ENV, raising=False)
    assert resolve_model_path("en") == real_english_model
    assert missing_model_files(real_english_model) == []
    recognizer = vosk.KaldiRecognizer(en_model, 16000)
    recognizer.AcceptWaveform(bytes(3200))  # 0.1 s of silence: the model Vosk loaded really decodes
    assert json.loads(recognizer.FinalResult())["text"] == ""


def test_real_model_round_trips_through_an_aar_shaped_archive(real_english_model, server, store, tmp_path, monkeypatch):
    files = {p.relative_to(real_english_model).as_posix(): p.read_bytes()
             for p in real_english_model.rglob("*") if p.is_file()}
    body = make_zip(files, prefix="assets/model-en-us/")
    source = zip_source(server.serve("/vosk-model-en.aar", body), body, prefix="assets/model-en-us/", kind="aar")
    in_process(monkeypatch, cli_env(write_manifest(tmp_path, [source], name=real_english_model.name), store))

    assert fetch_model("en", progress=False).source == source["url"]
    assert tree(store / real_english_model.name) == tree(real_english_model)
