"""Vosk speech models: where they live, whether a folder is one, and fetching them.

Models are pinned in ``models/manifest.toml`` (``$VOICESIM_MANIFEST`` overrides)
and installed once into the store, ``~/.cache/voicesim/models/<name>``
(``$VOICESIM_MODELS_DIR`` overrides). An install downloads the archive, checks
its SHA-256, unpacks only the model folder into a scratch folder in the store,
checks that Vosk will find what it needs there, and then renames it into place,
so a folder in the store is always a complete model.

>>> from voicesim.models import fetch_model, resolve_model_path
>>> fetch_model("en", progress=False).path.name   # downloads only the first time
'vosk-model-small-en-us-0.15'
>>> resolve_model_path("en") == fetch_model("en").path
True
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import TYPE_CHECKING

from voicesim.errors import VoicesimError
from voicesim.resources import bundled_folder

if TYPE_CHECKING:
    import zipfile

MANIFEST_ENV = "VOICESIM_MANIFEST"
STORE_ENV = "VOICESIM_MODELS_DIR"
MODEL_PATH_ENV = "VOSK_MODEL_PATH"
DEFAULT_MANIFEST = bundled_folder("models") / "manifest.toml"
DOWNLOAD_TIMEOUT_S = 30.0
"""Seconds a connect or a single read may stall before the source counts as failed."""

_CHUNK = 256 * 1024
_SCRATCH_KINDS = ("download", "unpack", "old")
"""Scratch names in the store are ``.<name>.<kind>-<random>``; only a fetch holding the lock uses them."""
_ARCHIVE_KINDS = ("aar", "zip")
_REQUIRED_FILES = ("am/final.mdl", "conf/model.conf", "conf/mfcc.conf")
_SPLIT_GRAPH = ("graph/HCLr.fst", "graph/Gr.fst", "graph/disambig_tid.int")
_IVECTOR_FILES = (
    "ivector/final.dubm",
    "ivector/final.mat",
    "ivector/global_cmvn.stats",
    "ivector/online_cmvn.conf",
    "ivector/splice.conf",
)


@dataclass(frozen=True)
class ModelSource:
    """One place a model archive can be downloaded from."""

    url: str
    sha256: str
    """Expected SHA-256 of the archive (hex); empty means unverifiable, so never used."""
    kind: str
    """``"aar"`` or ``"zip"``; an AAR is a zip file too."""
    prefix: str
    """Folder inside the archive that holds the model, ending in ``/``."""
    bytes: int | None = None
    """Archive size, for the progress bar when the server sends no length."""


@dataclass(frozen=True)
class ModelSpec:
    """A model as pinned in the manifest."""

    name: str
    """Folder name in the store, e.g. ``vosk-model-small-en-us-0.15``."""
    lang: str
    """Language code the CLI takes, e.g. ``en``."""
    language: str
    """Language name for messages, e.g. ``English``."""
    version: str
    size: str
    """Download size for people, e.g. ``40 MB``."""
    required: bool
    """Whether ``voicesim doctor`` fails without it."""
    sources: tuple[ModelSource, ...]
    """Tried in order until one downloads, verifies and unpacks."""


@dataclass(frozen=True)
class ModelInfo:
    """A manifest model and where it is installed, as ``voicesim models list`` shows it."""

    name: str
    lang: str
    version: str
    size: str
    path: Path | None
    """The installed, complete model folder in the store; None when not installed."""


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch_model` did."""

    path: Path
    """The installed model folder."""
    source: str | None
    """URL the model was downloaded from; None when it was already installed."""
    failed: tuple[str, ...] = ()
    """``"<url>: <reason>"`` for each source that failed before the one used."""


class _SourceFailed(Exception):
    """This source cannot provide the model; the next one may."""


def store_dir() -> Path:
    """The folder models are installed in."""
    override = os.environ.get(STORE_ENV)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "voicesim" / "models"


def manifest_path() -> Path:
    override = os.environ.get(MANIFEST_ENV)
    return Path(override).expanduser() if override else DEFAULT_MANIFEST


def load_manifest(path: Path | None = None) -> dict[str, ModelSpec]:
    """Language code -> pinned model, in manifest order."""
    path = path or manifest_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VoicesimError(f"model manifest {path} not found; set {MANIFEST_ENV} to a manifest file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise VoicesimError(f"model manifest {path} cannot be read: {exc}") from None
    specs = {}
    for index, entry in enumerate(data.get("model", []), start=1):
        try:
            spec = _parse_spec(entry)
        except (KeyError, TypeError, ValueError) as exc:
            raise VoicesimError(f"model manifest {path}: model #{index} is invalid ({exc!s}); fix that entry") from None
        specs[spec.lang] = spec
    return specs


def _parse_spec(entry: dict) -> ModelSpec:
    sources = tuple(
        ModelSource(
            url=src["url"],
            sha256=str(src.get("sha256", "")).lower(),
            kind=src["kind"],
            prefix=src["prefix"].rstrip("/") + "/",
            bytes=src.get("bytes"),
        )
        for src in entry.get("source", [])
    )
    for src in sources:
        if src.kind not in _ARCHIVE_KINDS:
            raise ValueError(f"source {src.url} has kind {src.kind!r}, expected one of {', '.join(_ARCHIVE_KINDS)}")
    return ModelSpec(
        name=entry["name"],
        lang=entry["lang"],
        language=entry.get("language", entry["lang"]),
        version=str(entry["version"]),
        size=str(entry.get("size", "")),
        required=bool(entry.get("required", False)),
        sources=sources,
    )


def model_spec(lang: str, manifest: Path | None = None) -> ModelSpec:
    """The pinned model for ``lang``; a clear error for a language the manifest lacks."""
    specs = load_manifest(manifest)
    if lang not in specs:
        known = ", ".join(specs) or "none"
        raise VoicesimError(f"no Vosk model for language {lang!r} in {manifest or manifest_path()}; known: {known}")
    return specs[lang]


def missing_model_files(folder: Path) -> list[str]:
    """What Vosk needs from ``folder`` that is not there; empty for a loadable model.

    Mirrors Vosk's loader (``Model::ConfigureV2``/``ReadDataFiles``): the
    acoustic model and both configs; either one HCLG graph or the HCLr/Gr pair
    with its disambiguation table; the i-vector set only when ``final.ie`` is there.
    ``graph/words.txt`` is optional because the small models carry the words in Gr.fst.
    """
    def absent(names: tuple[str, ...]) -> list[str]:
        return [name for name in names if not (folder / name).is_file()]

    missing = absent(_REQUIRED_FILES)
    if not (folder / "graph/HCLG.fst").is_file():
        split = absent(_SPLIT_GRAPH)
        if len(split) == len(_SPLIT_GRAPH):
            missing.append("graph/HCLG.fst (or graph/HCLr.fst + graph/Gr.fst)")
        else:
            missing += split
    if (folder / "ivector/final.ie").is_file():
        missing += absent(_IVECTOR_FILES)
    return missing


def validate_model_dir(folder: Path, what: str, fix: str) -> Path:
    """Return ``folder`` if Vosk can load it, else raise naming it, what is missing and ``fix``.

    ``what`` says where the folder came from (e.g. ``--model folder``).
    """
    if not folder.exists():
        raise VoicesimError(f"{what} {folder} does not exist; {fix}")
    if not folder.is_dir():
        raise VoicesimError(f"{what} {folder} is a file, not a model folder; {fix}")
    missing = missing_model_files(folder)
    if missing:
        raise VoicesimError(f"{what} {folder} is not a Vosk model (missing {', '.join(missing)}); {fix}")
    return folder


def resolve_model_path(lang: str, override: str | os.PathLike | None = None) -> Path:
    """The model folder to use for ``lang``: ``override`` > ``$VOSK_MODEL_PATH`` > the store.

    Raises :class:`VoicesimError` naming the folder and what to do when it is
    missing or not a Vosk model.
    """
    hint = "point it at an unpacked Vosk model folder (the one holding am/ and conf/)"
    if override:
        return validate_model_dir(Path(override).expanduser(), "--model folder", hint)
    from_env = os.environ.get(MODEL_PATH_ENV)
    if from_env:
        return validate_model_dir(Path(from_env).expanduser(), f"{MODEL_PATH_ENV} folder", hint)
    spec = model_spec(lang)
    folder = store_dir() / spec.name
    fetch = f"voicesim models fetch {lang}"
    if not folder.exists():
        raise VoicesimError(
            f"no {spec.language} Vosk model at {folder}; run: {fetch} (or set {MODEL_PATH_ENV} or pass --model DIR)"
        )
    return validate_model_dir(folder, f"installed {spec.language} model", f"run: {fetch} --force")


def installed_path(spec: ModelSpec) -> Path | None:
    """The complete model folder for ``spec`` in the store, or None."""
    folder = store_dir() / spec.name
    return folder if folder.is_dir() and not missing_model_files(folder) else None


def list_models(manifest: Path | None = None) -> list[ModelInfo]:
    """Every manifest model with its installed folder (None when not installed)."""
    return [
        ModelInfo(spec.name, spec.lang, spec.version, spec.size, installed_path(spec))
        for spec in load_manifest(manifest).values()
    ]


def fetch_model(
    lang: str, progress: bool = True, *, force: bool = False, manifest: Path | None = None
) -> FetchResult:
    """Install the pinned model for ``lang`` into the store unless it is already there.

    Sources are tried in order; the result says which one was used. ``force``
    replaces an installed model. With ``progress`` a tqdm bar goes to stderr.
    """
    spec = model_spec(lang, manifest)
    store = store_dir()
    target = store / spec.name
    # Fast path without touching the network or the lock: scripts/setup runs this every time.
    if not force and installed_path(spec):
        return FetchResult(target, None)
    if target.exists() and not force:
        validate_model_dir(target, f"installed {spec.language} model", f"run: voicesim models fetch {lang} --force")
    with _store_lock(store, spec.name, progress):
        if not force and installed_path(spec):  # another fetch finished while we waited
            return FetchResult(target, None)
        _remove_leftovers(store, spec.name)
        failed: list[str] = []
        for source in spec.sources:
            try:
                _install(source, spec.name, target, progress)
            except _SourceFailed as exc:
                failed.append(f"{source.url}: {exc}")
                continue
            return FetchResult(target, source.url, tuple(failed))
    raise VoicesimError(
        f"download of the {spec.language} model {spec.name} failed ({'; '.join(failed) or 'no sources in manifest'}); "
        f"put an unpacked {spec.language} Vosk model at {target}, or set {MODEL_PATH_ENV} / pass --model DIR"
    )


@contextmanager
def _store_lock(store: Path, name: str, progress: bool) -> Iterator[None]:
    """Hold an exclusive lock per model so concurrent fetches install it once."""
    import fcntl

    try:
        store.mkdir(parents=True, exist_ok=True)
        handle = open(store / f".{name}.lock", "a")
    except OSError as exc:
        raise VoicesimError(f"cannot write to the model store {store} ({exc.strerror}); set {STORE_ENV} to a writable folder") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if progress:
                print(f"voicesim: waiting for another fetch of {name} to finish", file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_leftovers(store: Path, name: str) -> None:
    """Delete downloads and scratch folders a killed fetch left behind (we hold the lock)."""
    for kind in _SCRATCH_KINDS:
        for leftover in store.glob(f".{name}.{kind}-*"):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


def _install(source: ModelSource, name: str, target: Path, progress: bool) -> None:
    if not source.sha256:
        raise _SourceFailed("no sha256 pinned in the manifest, refusing to install an unverified archive")
    archive = _download(source, target.parent, name, progress)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.unpack-", dir=target.parent))
        try:
            _unpack(archive, source.prefix, staging)
            missing = missing_model_files(staging)
            if missing:
                raise _SourceFailed(f"{source.prefix} in the archive is not a Vosk model (missing {', '.join(missing)})")
            _move_into_place(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    finally:
        archive.unlink(missing_ok=True)


def _download(source: ModelSource, store: Path, name: str, progress: bool) -> Path:
    """Download ``source`` into a scratch file in the store; return it once its sha256 matches."""
    import http.client
    import urllib.error
    import urllib.request

    from tqdm import tqdm

    handle, part_name = tempfile.mkstemp(prefix=f".{name}.download-", suffix=".part", dir=store)
    part = Path(part_name)
    digest = hashlib.sha256()
    request = urllib.request.Request(source.url, headers={"User-Agent": "voicesim"})
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
            announced = int(response.headers.get("Content-Length") or 0)
            received = 0
            with tqdm(total=announced or source.bytes, desc=name, unit="B", unit_scale=True, unit_divisor=1024,
                      file=sys.stderr, disable=not progress, leave=False) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        if announced and received != announced:  # http.client does not always notice a cut connection
            raise _SourceFailed(f"download interrupted after {received} of {announced} bytes; download discarded")
        if digest.hexdigest() != source.sha256:
            raise _SourceFailed(
                f"checksum mismatch (got sha256 {digest.hexdigest()}, manifest pins {source.sha256}); download discarded"
            )
        return part
    except BaseException as exc:
        part.unlink(missing_ok=True)
        if isinstance(exc, urllib.error.HTTPError):
            raise _SourceFailed(f"HTTP {exc.code} {exc.reason}") from None
        if isinstance(exc, urllib.error.URLError):
            raise _SourceFailed(f"cannot connect ({exc.reason})") from None
        if isinstance(exc, (OSError, http.client.HTTPException)):  # timeouts, resets, truncation, disk full
            raise _SourceFailed(f"download interrupted ({exc!r})") from None
        raise


def _unpack(archive: Path, prefix: str, dest: Path) -> None:
    """Unpack the members under ``prefix`` into ``dest``, refusing any unsafe member."""
    import zipfile
    import zlib

    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            for member in members:
                _check_member(member)
            chosen = [m for m in members if m.filename.startswith(prefix) and m.filename != prefix]
            if not chosen:
                raise _SourceFailed(f"the archive has nothing under {prefix}")
            for member in chosen:
                out = dest / member.filename[len(prefix):]
                if member.is_dir():
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(out, "xb") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise _SourceFailed(f"the archive is damaged ({exc})") from None
    except OSError as exc:
        raise _SourceFailed(f"cannot unpack into {dest} ({exc})") from None


def _check_member(member: zipfile.ZipInfo) -> None:
    """Refuse absolute paths, ``..`` and symlinks: a model never needs them, an attack does."""
    name = member.filename
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive or ".." in parts:
        raise _SourceFailed(f"unsafe path {name!r} in the archive (absolute or with '..'); refusing to unpack")
    if stat.S_ISLNK(member.external_attr >> 16):
        raise _SourceFailed(f"archive member {name!r} is a symlink; refusing to unpack")


def _move_into_place(staging: Path, target: Path) -> None:
    """Rename the checked model into place in one step; a forced replace parks the old one first."""
    staging.chmod(0o755)  # mkdtemp makes it private; a model folder is ordinary data
    parking = None
    try:
        if target.exists():
            parking = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.rename(target, parking / "model")
        os.rename(staging, target)
    except OSError as exc:
        if parking is not None and (parking / "model").exists() and not target.exists():
            os.rename(parking / "model", target)  # put the old model back rather than leave none
        raise VoicesimError(f"cannot move the unpacked model into {target} ({exc.strerror}); check that folder") from None
    if parking is not None:
        shutil.rmtree(parking, ignore_errors=True)


# ---------------------------------------------------------------- dither-free overlays

OVERLAYS_DIR = ".overlays"
"""Folder in the store holding dither-free views of model folders; safe to delete at any time."""
_NO_DITHER = "--dither=0"
_OVERLAY_SOURCE = ".source"
"""File in an overlay naming the model folder it views (Vosk ignores it)."""


def dither_free(folder: Path) -> Path:
    """A view of the model ``folder`` whose feature extraction adds no dither; ``folder`` is not touched.

    Why: Kaldi dithers every feature frame with noise from the C library's global
    rand(), which any thread in the process (onnxruntime, PortAudio callbacks, …) may
    also draw from, so the same audio would not give the same confidences. Vosk reads
    feature options only from the model's ``mfcc.conf`` (or ``fbank.conf``); the view
    is ``<store>/.overlays/<name>-<hash>/`` (in the temp dir when the store is read-only),
    symlinks to every file of ``folder`` except that config, which is a copy ending in
    ``--dither=0`` (the last value Kaldi reads wins). The hash covers the folder's path,
    its file list with sizes and times, and the config's text, so a changed model gets a
    fresh view; a deleted view is rebuilt.
    """
    folder = folder.resolve()
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    conf = _feature_conf(folder)
    if conf is None:
        return folder  # Vosk will refuse it anyway and say why
    digest = hashlib.sha256(str(folder).encode())
    for path in files:
        info = path.stat()
        digest.update(f"\0{path.relative_to(folder)}\0{info.st_size}\0{info.st_mtime_ns}".encode())
    digest.update(conf.read_bytes())
    name = f"{folder.name}-{digest.hexdigest()[:16]}"
    failures = []
    for overlays, shared_parent in _overlay_roots():
        try:
            if shared_parent:
                _own_private_dir(overlays.parent)
            target = _build_overlay(overlays / name, folder, files, conf)
        except OSError as exc:
            failures.append(f"{overlays}: {exc.strerror or exc}")
            continue
        _remove_stale_overlays(overlays, folder.name, keep=target)
        return target
    raise VoicesimError(
        f"cannot write a dither-free view of the model {folder} ({'; '.join(failures)}); "
        f"set {STORE_ENV} to a writable folder"
    )


def _overlay_roots() -> list[tuple[Path, bool]]:
    """Where overlays go, and whether that folder's parent is shared with other users.

    The store first; when it is read-only, a private folder in the temp dir.
    """
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return [(store_dir() / OVERLAYS_DIR, False),
            (Path(tempfile.gettempdir()) / f"voicesim-{uid}" / OVERLAYS_DIR, True)]


def _own_private_dir(path: Path) -> None:
    """Make ``path`` ours alone, or refuse it: in a shared temp dir another user could plant a config."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
        raise PermissionError(errno.EPERM, "not a folder of this user's own", str(path))


def _build_overlay(target: Path, folder: Path, files: list[Path], conf: Path) -> Path:
    """``target`` as a complete view of ``folder``, built aside and renamed into place in one step."""
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.build-", dir=target.parent))
    try:
        _fill_overlay(staging, folder, files, conf)
        staging.chmod(0o755)
        os.rename(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not target.is_dir():  # else another process built the same view first; theirs is as good
            raise
    return target


def _feature_conf(folder: Path) -> Path | None:
    """The feature config Vosk reads for ``folder`` (``Model::ConfigureV1/V2``, ``ReadDataFiles``)."""
    v2 = (folder / "am/final.mdl").is_file() and (folder / "conf/model.conf").is_file()
    base = folder / "conf" if v2 else folder
    return next((c for c in (base / "mfcc.conf", base / "fbank.conf") if c.is_file()), None)


def _fill_overlay(staging: Path, folder: Path, files: list[Path], conf: Path) -> None:
    (staging / _OVERLAY_SOURCE).write_text(str(folder), encoding="utf-8")
    for path in files:
        out = staging / path.relative_to(folder)
        out.parent.mkdir(parents=True, exist_ok=True)
        if path == conf:
            out.write_bytes(path.read_bytes().rstrip(b"\r\n") + f"\n{_NO_DITHER}\n".encode())
        else:
            out.symlink_to(path)


def _remove_stale_overlays(overlays: Path, name: str, keep: Path) -> None:
    """Drop views of an earlier state of the same folder, and views whose model is gone.

    A Vosk model reads its files once while it loads, so a process still using a
    removed view is not disturbed.
    """
    source = (keep / _OVERLAY_SOURCE).read_text(encoding="utf-8")
    for old in overlays.glob(f"{name}-*"):
        if old == keep or not old.is_dir() or old.is_symlink():
            continue
        try:
            viewed = (old / _OVERLAY_SOURCE).read_text(encoding="utf-8")
        except OSError:
            viewed = ""  # half-built by a killed process, or not ours
        if viewed and (viewed == source or not Path(viewed).is_dir()):
            shutil.rmtree(old, ignore_errors=True)
