"""What the trainee said: words with timings, as Vosk returns them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Word:
    """One recognized word."""

    word: str
    start_s: float | None = None
    """Start time in seconds from the start of the reply; None for typed text."""
    end_s: float | None = None
    """End time in seconds; None for typed text."""
    conf: float = 1.0
    """Recognizer confidence 0–1; 1.0 for typed text."""


@dataclass(frozen=True)
class Transcript:
    """A whole reply."""

    text: str
    """The text as recognized or typed (ASR text is lower case, no punctuation)."""
    words: tuple[Word, ...] = ()
    duration_s: float | None = None
    """Length of the audio the words came from; None for typed text."""

    @classmethod
    def from_text(cls, text: str) -> Transcript:
        """A typed reply: words split on white space, no timings."""
        return cls(text=text, words=tuple(Word(w) for w in text.split()))

    def to_json_dict(self) -> dict:
        return {
            "text": self.text,
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "words": [
                {"word": w.word, "start_s": w.start_s, "end_s": w.end_s, "conf": w.conf}
                for w in self.words
            ],
        }
