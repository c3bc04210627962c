"""Format checks for the labelled check corpora (tests/corpus/checks_<lang>.tsv).

A broken row (wrong field count, a label that is not 0/1, a duplicate id, an unknown split or
scenario) fails here, before the learned layer trains on it. Run with -s to see the label
counts per split.
"""

import csv
import tomllib
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
HEADER = [
    "id",
    "split",
    "scenario",
    "text",
    "understanding",
    "not_personal",
    "targeted_question",
    "written_agreement",
    "apology",
    "note",
]
CHECKS = HEADER[4:9]
SPLITS = {"train", "dev", "test"}


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def _scenario_ids(lang: str) -> set[str]:
    ids = {"any"}
    for toml in (ROOT / "scenarios" / lang).glob("*.toml"):
        ids.add(tomllib.loads(toml.read_text(encoding="utf-8"))["id"])
    return ids


def _corpus(lang: str) -> Path:
    path = CORPUS / f"checks_{lang}.tsv"
    if not path.exists():
        pytest.skip(f"{path.name} is not written yet")
    return path


@pytest.mark.parametrize("lang", ["en", "de"])
def test_rows_are_well_formed(lang: str) -> None:
    rows = _rows(_corpus(lang))
    assert rows[0] == HEADER
    scenarios = _scenario_ids(lang)
    ids: set[str] = set()
    for n, row in enumerate(rows[1:], start=2):
        where = f"checks_{lang}.tsv line {n}"
        assert len(row) == len(HEADER), (
            f"{where}: {len(row)} fields, expected {len(HEADER)}"
        )
        rid, split, scenario, text, *labels, _note = row
        assert rid not in ids, f"{where}: duplicate id {rid}"
        ids.add(rid)
        assert split in SPLITS, f"{where}: split {split!r} not in {sorted(SPLITS)}"
        assert scenario in scenarios, f"{where}: unknown scenario {scenario!r}"
        assert text.strip(), f"{where}: empty text"
        assert all(v in ("0", "1") for v in labels), (
            f"{where}: labels {labels} must be 0/1"
        )


@pytest.mark.parametrize("lang", ["en", "de"])
def test_no_reply_is_in_two_splits(lang: str) -> None:
    splits_of: dict[str, set[str]] = {}
    for row in _rows(_corpus(lang))[1:]:
        splits_of.setdefault(row[3].strip().lower(), set()).add(row[1])
    leaked = [text for text, splits in splits_of.items() if len(splits) > 1]
    assert not leaked, f"the same reply is in more than one split: {leaked[:3]}"


@pytest.mark.parametrize("lang", ["en", "de"])
def test_every_split_has_both_labels_for_every_check(lang: str) -> None:
    counts: Counter[tuple[str, str, str]] = Counter()
    for row in _rows(_corpus(lang))[1:]:
        for check, value in zip(CHECKS, row[4:9], strict=True):
            counts[row[1], check, value] += 1
    print(f"\nchecks_{lang}.tsv label counts (1/0):")
    for split in ("train", "dev", "test"):
        cells = ", ".join(
            f"{c} {counts[split, c, '1']}/{counts[split, c, '0']}" for c in CHECKS
        )
        print(f"  {split:5}: {cells}")
    for split in SPLITS:
        for check in CHECKS:
            for value in ("0", "1"):
                assert counts[split, check, value], (
                    f"{split} has no {check}={value} row"
                )
