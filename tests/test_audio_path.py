"""Audio path: corpus replies spoken by Piper, heard by Vosk, scored; the verdicts must agree
with the typed text's on at least 90 % per check.

The agreement table is printed (``pytest -s``) and written by ``scripts/bench_scoring``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

from voicesim.scorecard import CHECK_IDS

CORPUS = Path(__file__).resolve().parent / "corpus" / "replies_en.tsv"
REPLIES = 40
"""How many replies are spoken: every n-th row of the corpus in id order, so the pick is fixed."""
CALM_LENGTH_SCALE = 1.7
"""Piper's length_scale for a calm trainee: joe reads these replies at a median 232 wpm at 1.0,
far over the calm band; at 1.7 the median is about 155 wpm (measured from the audio's span)."""
MIN_AGREEMENT = 0.90


@dataclass(frozen=True)
class Agreement:
    """How often the spoken reply's verdict matched the typed one's, per check."""

    replies: int
    agreed: dict[str, int]
    """Check id -> number of replies with the same pass/fail on both paths."""
    disagreements: tuple[str, ...]
    """'check id: reply id (typed -> spoken) heard as "..."' lines, for the failure message."""

    def share(self, check_id: str) -> float:
        return self.agreed[check_id] / self.replies

    def table(self) -> str:
        lines = [f"audio path vs text path, {self.replies} English replies (Piper -> Vosk):"]
        lines += [f"  {cid:<18} {self.agreed[cid]:>3}/{self.replies}  {100 * self.share(cid):5.1f} %" for cid in CHECK_IDS]
        return "\n".join(lines)


def pick_replies(count: int = REPLIES) -> list[dict[str, str]]:
    with open(CORPUS, newline="", encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f, delimiter="\t"), key=lambda r: r["id"])
    step = len(rows) / count
    return [rows[int(i * step)] for i in range(count)]


def audio_path_agreement(rows: list[dict[str, str]], model, length_scale: float = CALM_LENGTH_SCALE) -> Agreement:
    """Score each reply typed and spoken; count agreeing verdicts per check."""
    from trainee_voice import speak

    from voicesim.asr import transcribe
    from voicesim.language import load_language
    from voicesim.scoring import score_reply
    from voicesim.transcript import Transcript

    pack = load_language("en")
    agreed = dict.fromkeys(CHECK_IDS, 0)
    misses = []
    for row in rows:
        typed = score_reply(Transcript.from_text(row["text"]), pack)
        audio = speak(row["text"], length_scale)
        heard = transcribe(audio, "en", model)
        spoken = score_reply(heard, pack, audio=audio)
        for cid in CHECK_IDS:
            a, b = typed.checks[cid].passed, spoken.checks[cid].passed
            if a == b:
                agreed[cid] += 1
            else:
                why = spoken.checks[cid].reason if cid == "calm_tone" else ""
                misses.append(f'{cid}: {row["id"]} ({a} -> {b}) heard as "{heard.text}" {why}')
    return Agreement(len(rows), agreed, tuple(misses))


@pytest.fixture(scope="module")
def agreement(en_model) -> Agreement:
    result = audio_path_agreement(pick_replies(), en_model)
    print("\n" + result.table())
    return result


def test_pick_is_fixed_and_large_enough():
    rows = pick_replies()
    assert len(rows) == REPLIES >= 40
    assert len({r["id"] for r in rows}) == REPLIES
    assert rows == pick_replies()


@pytest.mark.slow
@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_spoken_verdicts_agree_with_typed(agreement, check_id):
    misses = "\n".join(m for m in agreement.disagreements if m.startswith(check_id + ":"))
    assert agreement.share(check_id) >= MIN_AGREEMENT, f"{agreement.table()}\n{misses}"
