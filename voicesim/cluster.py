"""Rescoring on a Dask distributed cluster: the sessions are heard on the workers, the files written here.

``voicesim rescore --cluster tcp://scheduler:8786`` hands each session to the cluster as
its folder's path, so the sessions folder must be on a filesystem every worker mounts at
the same path (the hub's store exported read-only, say). A worker loads each language's
model once, on its first session, and keeps it for the life of the worker. It writes
nothing: the body comes back to this process, which writes ``assessments/<version>.json``
exactly as the local run does. A worker that dies takes only unwritten work with it (the
scheduler hands its sessions to another worker), and a run that stops half-way is
resumed by running it again, as a local run is.

Why Dask distributed and not Ray: pure Python from PyPI (a few MB against Ray's ~70 MB
wheel), a scheduler and workers that start in a second or two on a small machine, and
``dask scheduler`` / ``dask worker ADDRESS`` are all an operator has to run.

>>> from voicesim.cluster import run_jobs_on_cluster
>>> run_jobs_on_cluster(jobs, scorers, "tcp://10.0.0.5:8786", summary, warn)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from voicesim.errors import VoicesimError
from voicesim.rescore import Job, Scorer, Summary, attempt, load_ears_once, scorer_for, settle

INSTALL_HINT = "install voicesim[cluster] (pip install 'voicesim[cluster]'; scripts/setup --test does) here and on every worker"
CONNECT_TIMEOUT_S = 10.0
"""How long to try the scheduler's address, and to wait for a first worker, before giving up."""
QUEUE_PER_THREAD = 2
"""Sessions in flight per worker thread: enough to keep every worker busy, little to cancel on Ctrl-C.

A worker process rescores one at a time (:data:`_ONE_AT_A_TIME`): run workers with ``--nthreads 1``."""


class WorkerMismatch(VoicesimError):
    """A worker would score differently, or cannot see the sessions: the run stops rather than mix results."""


def run_jobs_on_cluster(jobs: Sequence[Job], scorers: dict[str, Scorer], address: str, summary: Summary,
                        warn: Callable[[str], None], progress: Any = None) -> None:
    """Rescore `jobs` on the cluster at `address`, writing each file here as its result comes back."""
    distributed = _distributed()
    client = _connect(distributed, address)
    try:
        threads = sum(client.nthreads().values())
        queue, pending = list(jobs), {}
        running = distributed.as_completed(loop=client.loop)

        def top_up() -> None:
            while queue and len(pending) < QUEUE_PER_THREAD * max(threads, 1):
                job = queue.pop(0)
                future = client.submit(rescore_on_worker, job, scorers, pure=False)
                pending[future] = job
                running.add(future)

        top_up()
        for future in running:
            job = pending.pop(future)
            settle(job, _result(future, distributed, job.folder), summary, warn, progress)
            top_up()
    except (OSError, distributed.TimeoutError, distributed.CancelledError) as exc:
        # A client that cannot reach its scheduler again cancels what it still waits for.
        raise VoicesimError(f"lost the cluster at {address} after rescoring {summary.rescored} sessions "
                            f"({type(exc).__name__}: {str(exc)[:80]}); "
                            "what was written is complete: run the same command again to rescore the rest") from None
    finally:
        try:
            client.close(timeout=CONNECT_TIMEOUT_S)
        except (OSError, distributed.TimeoutError):
            pass  # the scheduler is gone already: nothing is left to tell it


def _distributed():
    try:
        import distributed
    except ImportError:
        raise VoicesimError(f"--cluster needs Dask distributed, which is not installed: {INSTALL_HINT}") from None
    # Its client logs a lost scheduler or a retry itself, some with a traceback; our one line says it. Its
    # config gives some loggers (distributed.client) their own level, so each one is set, not just the parent.
    for name in ["distributed", *(n for n in logging.root.manager.loggerDict if n.startswith("distributed."))]:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return distributed


def _connect(distributed, address: str):
    """A client of the scheduler at `address` with at least one worker; one clear line when there is none."""
    from distributed.comm import get_address_host_port

    try:
        # Checked before Client(): a client half-made from a malformed address hangs the exit for 20 s.
        get_address_host_port(address)
    except ValueError as exc:
        raise VoicesimError(f"--cluster {address!r} is not a scheduler address ({exc}); "
                            "give it as tcp://HOST:8786") from None
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, ValueError, TypeError, distributed.TimeoutError) as exc:
        raise VoicesimError(f"cannot reach the Dask scheduler at {address!r} ({str(exc).splitlines()[0][:120]}); "
                            "give its address as tcp://HOST:8786 and check that `dask scheduler` runs there") from None
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
    except (OSError, distributed.TimeoutError):
        client.close()
        raise VoicesimError(f"the Dask scheduler at {address} has no workers; start some with "
                            f"`dask worker {address}` on machines that see the sessions folder") from None
    return client


def _result(future, distributed, folder: Path) -> tuple[dict[str, Any], float] | str:
    """The worker's answer, or why the session could not be rescored (the workers kept dying on it)."""
    try:
        return future.result()
    except distributed.KilledWorker as exc:
        return f"the workers rescoring it died ({exc})"
    except (VoicesimError, OSError, distributed.TimeoutError, distributed.CancelledError):
        raise
    except Exception as exc:  # e.g. a worker without voicesim's extras: every session would fail the same way
        raise VoicesimError(f"a worker failed on {folder} ({type(exc).__name__}: {str(exc)[:120]}); "
                            f"check that every worker runs this voicesim with its extras: {INSTALL_HINT}") from None


# --- on a worker ----------------------------------------------------------------------------------

_ONE_AT_A_TIME = threading.Lock()
"""A worker process rescores one session at a time, however many threads it runs: the second pass limits
BLAS threads process-wide (a thread count changed mid-decode can change the words), and the models one
run's task loads must not be swapped by another run's task while it scores."""
_CHECKED: dict[tuple[str, str], Scorer] = {}
"""(language, scorer version) -> this worker's own scorer that scores as it (checked once per worker, not per
session). Keyed by language too: one Whisper model for two languages can make the same version string."""


def rescore_on_worker(job: Job, scorers: dict[str, Scorer]) -> tuple[dict[str, Any], float] | str:
    """Runs on a worker: one session's body and audio length, or what is wrong with the session."""
    if not job.folder.is_dir():
        raise WorkerMismatch(f"{job.folder} is not there on worker {socket.gethostname()}: the sessions folder must be "
                             "on a filesystem every worker mounts at the same path")
    with _ONE_AT_A_TIME:
        load_ears_once({lang: _same_scorer(lang, scorer) for lang, scorer in scorers.items()})
        return attempt(job)


def _same_scorer(lang: str, wanted: Scorer) -> Scorer:
    """The worker's own scorer for `lang` (its model may live at another path), if it scores as `wanted` does."""
    if (lang, wanted.version) in _CHECKED:
        return _CHECKED[lang, wanted.version]
    model = wanted.model_path if wanted.engine == "vosk" and wanted.model_path and Path(wanted.model_path).is_dir() else None
    mine = scorer_for(lang, wanted.engine, model)
    if mine.version != wanted.version:
        raise WorkerMismatch(f"worker {socket.gethostname()} would rescore '{lang}' as {mine.version}, not "
                             f"{wanted.version}: install the same voicesim and models on every worker")
    _CHECKED[lang, wanted.version] = mine
    return mine
