"""What scripts/train_checks and scripts/eval_checklist share: the labelled corpora and their splits.

A corpus is a TSV with columns id, split, scenario, text, then one 0/1 column per text
check, then note (tests/corpus/checks_<lang>.tsv, see docs/labelling-guide.md). The older
tests/corpus/replies_<lang>.tsv has no split column; its ids give it: *-dNN (the lexicon
was tuned on them) -> train, *-hNN -> dev, *-xNN -> test.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from voicesim.errors import VoicesimError  # noqa: E402
from voicesim.language import TEXT_CHECK_IDS  # noqa: E402
from voicesim.learned import spoken_form  # noqa: E402

CORPUS = REPO / "tests" / "corpus"
SPLITS = ("train", "dev", "test")
_OLD_SPLIT = {"d": "train", "h": "dev", "x": "test"}
FORMS = ("typed", "heard")
"""A reply as written, and as Vosk writes it (lower case, no punctuation)."""


@dataclass(frozen=True)
class Row:
    """One labelled reply."""

    id: str
    split: str
    text: str
    labels: dict[str, bool]
    """Check id -> the trainer's verdict."""

    def form(self, form: str) -> str:
        return self.text if form == "typed" else spoken_form(self.text)


def default_paths(lang: str) -> list[Path]:
    """checks_<lang>.tsv and, while the new corpus is small, the older replies_<lang>.tsv."""
    return [p for p in (CORPUS / f"checks_{lang}.tsv", CORPUS / f"replies_{lang}.tsv") if p.exists()]


def load_rows(paths: list[Path]) -> list[Row]:
    """All rows of the given corpora; a broken row is an error naming file and line."""
    rows: list[Row] = []
    for path in paths:
        if not path.exists():
            raise VoicesimError(f"corpus {path} not found; give an existing TSV (see docs/labelling-guide.md)")
        with open(path, encoding="utf-8", newline="") as f:
            for line, rec in enumerate(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE), start=2):
                rows.append(_row(rec, path, line))
    return rows


def _row(rec: dict[str, str], path: Path, line: int) -> Row:
    split = rec.get("split") or _OLD_SPLIT.get(rec["id"].split("-")[-1][:1], "")
    bad = [c for c in TEXT_CHECK_IDS if rec.get(c) not in ("0", "1")]
    if split not in SPLITS or bad or not rec.get("text"):
        raise VoicesimError(f"{path}:{line}: needs a split (train/dev/test), a text and 0/1 labels; fix the row")
    return Row(rec["id"], split, rec["text"], {c: rec[c] == "1" for c in TEXT_CHECK_IDS})
