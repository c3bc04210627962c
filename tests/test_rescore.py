"""Rescoring recorded pack sessions: beside the original, never over it; skip, damage, determinism."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from pack_calls import pack_run
from wer import word_error_rate

from voicesim.cli import main
from voicesim.rescore import ASSESSMENTS, ORIGINAL, newest_assessment, scorer_for


@pytest.fixture(scope="module")
def rescored(tmp_path_factory):
    """A copy of the shared pack sessions, rescored once in this process (--jobs 1)."""
    sessions = tmp_path_factory.mktemp("rescore") / "sessions"
    shutil.copytree(pack_run().sessions, sessions)
    before = {p: p.read_bytes() for p in sessions.glob("*/*") if p.is_file()}
    assert main(["rescore", "--sessions-dir", str(sessions), "--jobs", "1", "--asr", "vosk"]) == 0
    return sessions, before


def answered(sessions: Path) -> list[Path]:
    return sorted(p.parent for p in sessions.glob("*/session.json") if json.loads(p.read_text())["turns"])


def files_of(folder: Path) -> list[Path]:
    return sorted((folder / ASSESSMENTS).glob("*.json"))


def without_created_at(path: Path) -> dict:
    body = json.loads(path.read_text(encoding="utf-8"))
    assert body.pop("created_at")
    return body


def test_rescore_writes_beside_the_original_and_changes_nothing_recorded(rescored):
    sessions, before = rescored
    version = scorer_for("en", "vosk").version
    folders = answered(sessions)
    assert len(folders) == 5
    for folder in folders:
        assert [p.name for p in files_of(folder)] == [f"{version}.json"]
    assert all(path.read_bytes() == raw for path, raw in before.items())  # session.json, recording.wav untouched
    assert not list(sessions.glob(f"*/{ASSESSMENTS}/.*"))  # no temp file left behind


def test_rescored_file_has_the_contract_shape_and_hears_what_the_call_heard(rescored):
    sessions, _ = rescored
    folder = answered(sessions)[0]
    body = json.loads(files_of(folder)[0].read_text(encoding="utf-8"))
    assert set(body) == {"scorer_version", "created_at", "asr", "turns", "assessment", "overall"}
    assert body["asr"] == {"engine": "vosk", "model": "vosk-model-small-en-us-0.15"}
    assert body["overall"] == body["assessment"]["overall"]
    session = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert set(body["assessment"]) == set(session["assessment"])
    assert [t["index"] for t in body["turns"]] == [t["index"] for t in session["turns"]]
    for new, old in zip(body["turns"], session["turns"], strict=True):
        # The same reply cut from the recording (as 16-bit samples, from millisecond-rounded times): Vosk
        # hears nearly the same words, starting where the call heard them on the recording's clock.
        # With the second pass on, "trainee" holds Whisper's words; Vosk's are kept as "heard_live".
        heard = old.get("heard_live") or old["trainee"]
        assert word_error_rate(heard["text"], new["transcript"]) <= 0.15
        assert new["words"][0]["start_s"] == pytest.approx(heard["words"][0]["start_s"], abs=0.031)
        assert set(new["scorecard"]["checks"]) == set(old["scorecard"]["checks"])


def test_newest_assessment_names_its_scorer(rescored):
    sessions, _ = rescored
    folder = answered(sessions)[0]
    assessment, made_by = newest_assessment(folder)
    assert made_by == scorer_for("en", "vosk").version and assessment["overall"] == json.loads(
        files_of(folder)[0].read_text())["overall"]
    never = next(p.parent for p in sessions.glob("*/session.json") if not (p.parent / ASSESSMENTS).exists())
    assert newest_assessment(never)[1] == ORIGINAL


def test_pack_status_says_which_scores_are_rescored(rescored, capsys):
    sessions, _ = rescored
    capsys.readouterr()
    assert main(["pack", "status", str(pack_run().pack_file), "--sessions-dir", str(sessions), "--json"]) == 0
    cells = json.loads(capsys.readouterr().out)["trainees"]["ana"]
    assert {c["scorer_version"] for c in cells} == {scorer_for("en", "vosk").version}
    assert main(["pack", "status", str(pack_run().pack_file), "--sessions-dir", str(sessions)]) == 0
    assert f"* rescored by {scorer_for('en', 'vosk').version}" in capsys.readouterr().out


def test_existing_files_are_skipped(rescored, capsys):
    sessions, _ = rescored
    stamps = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in sessions.glob(f"*/{ASSESSMENTS}/*.json")}
    capsys.readouterr()
    assert main(["rescore", "--sessions-dir", str(sessions), "--jobs", "1", "--asr", "vosk"]) == 0
    assert capsys.readouterr().out.startswith("rescored 0 sessions, skipped 5 already rescored, 0 damaged")
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in stamps} == stamps


def test_rescoring_twice_gives_the_same_file_apart_from_created_at(rescored, tmp_path, capsys):
    sessions, _ = rescored
    again = tmp_path / "again"
    shutil.copytree(sessions, again)
    for folder in answered(again):
        shutil.rmtree(folder / ASSESSMENTS)
    # In two worker processes this time: parallel and in-process rescoring must agree too.
    assert main(["rescore", "--sessions-dir", str(again), "--jobs", "2", "--asr", "vosk"]) == 0
    assert "rescored 5 sessions" in capsys.readouterr().out
    for first, second in zip(answered(sessions), answered(again), strict=True):
        [a], [b] = files_of(first), files_of(second)
        assert without_created_at(a) == without_created_at(b)
        assert a.read_bytes().replace(json.dumps(json.loads(a.read_text())["created_at"]).encode(), b"") == \
            b.read_bytes().replace(json.dumps(json.loads(b.read_text())["created_at"]).encode(), b"")


def test_damaged_sessions_are_skipped_with_one_warning_each(rescored, tmp_path, capsys):
    sessions, _ = rescored
    damaged = tmp_path / "damaged"
    shutil.copytree(sessions, damaged)
    folders = answered(damaged)
    for folder in folders:
        shutil.rmtree(folder / ASSESSMENTS)
    first, second, *_ = folders
    (first / "recording.wav").unlink()
    (second / "session.json").write_text("{ not json", encoding="utf-8")
    capsys.readouterr()
    assert main(["rescore", "--sessions-dir", str(damaged), "--jobs", "1", "--asr", "vosk"]) == 0
    out = capsys.readouterr()
    warnings = [line for line in out.err.splitlines() if line.startswith("voicesim: warning:")]
    assert len(warnings) == 2 and any(str(first) in w for w in warnings) and any(str(second) in w for w in warnings)
    assert out.out.startswith("rescored 3 sessions, skipped 0 already rescored, 2 damaged")
    assert not (first / ASSESSMENTS).exists() and not (second / ASSESSMENTS).exists()


def test_filters_pick_the_sessions(rescored, tmp_path, capsys):
    sessions, _ = rescored
    picked = tmp_path / "picked"
    shutil.copytree(sessions, picked)
    for folder in answered(picked):
        shutil.rmtree(folder / ASSESSMENTS)
    capsys.readouterr()
    assert main(["rescore", "--sessions-dir", str(picked), "--trainee", "cara", "--pack", "test-week", "--jobs", "1",
                 "--asr", "vosk"]) == 0
    assert capsys.readouterr().out.startswith("rescored 1 sessions")
    assert [json.loads((f / "session.json").read_text())["trainee"] for f in answered(picked) if files_of(f)] == ["cara"]


def test_whisper_without_the_second_pass_is_one_line(rescored, capsys, monkeypatch):
    sessions, _ = rescored
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # as on a PC without the [whisper] extra
    capsys.readouterr()
    assert main(["rescore", "--sessions-dir", str(sessions), "--asr", "whisper"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("voicesim: error: --asr whisper: the second pass")


@pytest.mark.skipif(importlib.util.find_spec("voicesim.second_pass") is None or importlib.util.find_spec("faster_whisper") is None,
                    reason="the second pass (faster-whisper) is not installed")
def test_whisper_rescores_as_its_own_scorer_beside_vosk(rescored, tmp_path, capsys):
    sessions, _ = rescored
    both = tmp_path / "both"
    shutil.copytree(sessions, both)
    capsys.readouterr()
    assert main(["rescore", "--sessions-dir", str(both), "--trainee", "cara", "--asr", "whisper", "--jobs", "1"]) == 0
    assert capsys.readouterr().out.startswith("rescored 1 sessions")
    [folder] = [f for f in answered(both) if json.loads((f / "session.json").read_text())["trainee"] == "cara"]
    whisper = scorer_for("en", "whisper")
    assert [p.name for p in files_of(folder)] == sorted([f"{scorer_for('en', 'vosk').version}.json", f"{whisper.version}.json"])
    body = json.loads((folder / ASSESSMENTS / f"{whisper.version}.json").read_text(encoding="utf-8"))
    assert body["asr"]["engine"] == "whisper" and body["turns"][0]["transcript"]
    assert newest_assessment(folder)[1] == whisper.version


# --- on a Dask cluster (voicesim[cluster]) -----------------------------------------------------------

needs_dask = pytest.mark.skipif(importlib.util.find_spec("distributed") is None,
                                reason="Dask distributed is not installed: pip install -e '.[cluster]'")


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes of one thread each on this machine, as `dask worker` would run them."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=40) as local:
        yield local


def fresh_copy(sessions: Path, into: Path) -> Path:
    """The rescored sessions without their assessments: work for another run."""
    shutil.copytree(sessions, into)
    for folder in answered(into):
        shutil.rmtree(folder / ASSESSMENTS)
    return into


def same_bytes_apart_from_created_at(a: Path, b: Path) -> bool:
    stamp = json.dumps(json.loads(a.read_text())["created_at"]).encode()
    other = json.dumps(json.loads(b.read_text())["created_at"]).encode()
    return a.read_bytes().replace(stamp, b"") == b.read_bytes().replace(other, b"")


class KillABusyWorker(threading.Thread):
    """Once the first file is written, SIGKILL a worker that holds sessions, as a worker machine that dies."""

    def __init__(self, cluster, sessions: Path) -> None:
        from distributed import Client

        super().__init__(daemon=True)
        with Client(cluster.scheduler_address, set_as_default=False) as client:
            self.pids = client.run(os.getpid)
        self.scheduler, self.sessions = cluster.scheduler, sessions
        self.written_when_killed: int | None = None
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            written = len(list(self.sessions.glob(f"*/{ASSESSMENTS}/*.json")))
            busy = [a for a, w in list(self.scheduler.workers.items()) if w.processing and a in self.pids]
            if written and busy:
                os.kill(self.pids[busy[0]], signal.SIGKILL)
                self.written_when_killed = written
                return
            time.sleep(0.005)


@needs_dask
def test_a_two_worker_cluster_writes_the_files_the_local_run_writes_though_a_worker_dies(rescored, cluster, tmp_path,
                                                                                         capsys):
    sessions, _ = rescored
    remote = fresh_copy(sessions, tmp_path / "remote")
    killer = KillABusyWorker(cluster, remote)
    killer.start()
    capsys.readouterr()
    try:
        assert main(["rescore", "--sessions-dir", str(remote), "--cluster", cluster.scheduler_address, "--asr", "vosk"]) == 0
    finally:
        killer.done.set()
        killer.join()
    assert capsys.readouterr().out.startswith("rescored 5 sessions, skipped 0 already rescored, 0 damaged")
    # The worker died holding sessions mid-run; the scheduler gave them to the other one, and nothing was lost.
    assert killer.written_when_killed is not None and killer.written_when_killed < 5
    for local, there in zip(answered(sessions), answered(remote), strict=True):
        [a], [b] = files_of(local), files_of(there)
        assert a.name == b.name and same_bytes_apart_from_created_at(a, b)
    assert not list(remote.glob(f"*/{ASSESSMENTS}/.*"))  # no temp file left behind
    # A worker keeps its model for its next session and run (loaded once, at this scorer version).
    from distributed import Client

    with Client(cluster.scheduler_address, set_as_default=False) as client:
        loaded = client.run(lambda: {lang: ear.version for lang, ear in __import__("voicesim.rescore").rescore._EARS.items()})
    assert {v for ears in loaded.values() for v in ears.values()} == {scorer_for("en", "vosk").version}


@needs_dask
def test_a_bad_cluster_address_is_one_line(rescored, tmp_path, capsys, monkeypatch):
    sessions, _ = rescored
    remote = fresh_copy(sessions, tmp_path / "remote")
    monkeypatch.setattr("voicesim.cluster.CONNECT_TIMEOUT_S", 1.0)
    for address, said in (("tcp://127.0.0.1:1", "cannot reach the Dask scheduler at 'tcp://127.0.0.1:1'"),
                          ("not an address", "--cluster 'not an address' is not a scheduler address")):
        capsys.readouterr()
        assert main(["rescore", "--sessions-dir", str(remote), "--cluster", address, "--asr", "vosk"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith(f"voicesim: error: {said}"), err
        assert [line for line in err if "Traceback" in line or "error" in line] == [err[-1]]
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=False, protocol="tcp", dashboard_address=":0", silence_logs=40) as empty:
        assert main(["rescore", "--sessions-dir", str(remote), "--cluster", empty.scheduler_address, "--asr", "vosk"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"voicesim: error: the Dask scheduler at {empty.scheduler_address} has no workers"), err
    assert not list(remote.glob(f"*/{ASSESSMENTS}"))


def test_cluster_without_dask_is_one_line(rescored, capsys, monkeypatch):
    sessions, _ = rescored
    monkeypatch.setitem(sys.modules, "distributed", None)  # as on a PC without the [cluster] extra
    capsys.readouterr()
    assert main(["rescore", "--sessions-dir", str(fresh_copy(sessions, sessions.parent / "nodask")),
                 "--cluster", "tcp://127.0.0.1:8786", "--asr", "vosk"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("voicesim: error: --cluster needs Dask distributed") and "voicesim[cluster]" in err[-1]
