"""Word error rate: how far a transcript is from a reference, in words.

>>> word_error_rate("Ask not what your country can do for you.", "as not what your country can do for you")
0.1111111111111111
>>> corpus_word_error_rate([("I'm sorry.", "i'm sorry"), ("Thank you", "thank")])
0.25

Pure functions: text in, numbers out. Both sides are normalized the way Vosk writes
text (lower case, no punctuation, apostrophes inside words kept), so only the words
count, not how they were typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})
# A word is letters/digits, optionally joined by inner apostrophes: "don't", "customer's".
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_SAME_WORD = {"oh": "zero"}
"""Words that count as one: a digit 0 is said "oh" or "zero", and an engine cannot know which the reference wrote."""


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation; hyphens split words ("e-mail" -> "e", "mail"); "oh" counts as "zero"."""
    return [_SAME_WORD.get(w, w) for w in _WORD.findall(text.lower().translate(_APOSTROPHES))]


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Fewest substitutions, deletions and insertions turning `reference` into `hypothesis`."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            current.append(
                min(
                    previous[j] + 1,  # reference word deleted
                    current[j - 1] + 1,  # hypothesis word inserted
                    previous[j - 1] + (ref_word != hyp_word),  # match or substitution
                )
            )
        previous = current
    return previous[-1]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word edits, reference word count) after normalizing both texts."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    return edit_distance(ref, hyp), len(ref)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word edits divided by reference words; an empty reference scores 0.0 only against nothing."""
    return corpus_word_error_rate([(reference, hypothesis)])


def corpus_word_error_rate(pairs: Iterable[tuple[str, str]]) -> float:
    """Aggregate WER over (reference, hypothesis) pairs: total edits / total reference words."""
    edits = words = 0
    for reference, hypothesis in pairs:
        e, n = word_errors(reference, hypothesis)
        edits, words = edits + e, words + n
    if words == 0:
        return 0.0 if edits == 0 else 1.0
    return edits / words
