"""Where voicesim's bundled files are: in the installed package, or in the source checkout.

The trainer-facing folders ``scenarios/`` and ``models/`` sit at the top of the repository;
a wheel carries them (one copy, mapped by pyproject.toml's package-dir) as
``voicesim/scenarios/`` and ``voicesim/model_manifest/``. Package data under
``voicesim/data/`` is in the same place either way.

>>> bundled_folder("scenarios").joinpath("en", "late-delivery.toml").is_file()
True
>>> data_file("voices.toml").is_file()
True
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

IN_WHEEL = {"scenarios": "scenarios", "models": "model_manifest"}
"""Top-level folder of the checkout -> its name inside the installed package."""


def bundled_folder(name: str) -> Path:
    """The top-level folder `name` ('scenarios' or 'models'), wherever this install keeps it."""
    package = Path(str(resources.files("voicesim")))
    installed = package / IN_WHEEL[name]
    # A wheel holds it inside the package; a checkout (editable install, PYTHONPATH) beside it.
    return installed if installed.is_dir() else package.parent / name


def data_file(*parts: str) -> Path:
    """A file or folder under voicesim/data/, e.g. ``data_file("demo", "late-delivery")``."""
    return Path(str(resources.files("voicesim").joinpath("data", *parts)))
