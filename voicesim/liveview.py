"""The call in the terminal: customer lines, the live transcript, a level meter, ticks per check.

Plain ANSI escapes and no extra dependency: the view is a few lines that scroll,
plus one status line redrawn in place (meter and partial transcript) when stdout
is a terminal. When it is not (a pipe, a log file, CI), only whole lines are
written, so the output reads as a plain transcript of the call.

>>> import io
>>> view = LiveView(io.StringIO(), tty=False)
>>> view.customer("Where is my parcel?")
>>> view.stream.getvalue()
'Customer: Where is my parcel?\\n'
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from voicesim.scorecard import CHECK_IDS, Scorecard

if TYPE_CHECKING:
    from voicesim.debrief import Debrief

CLEAR_LINE = "\r\x1b[2K"
BOLD, DIM, RED, GREEN, RESET = "\x1b[1m", "\x1b[2m", "\x1b[31m", "\x1b[32m", "\x1b[0m"
METER_WIDTH = 20
METER_FLOOR_DB = -60.0
"""Level shown as an empty meter; 0 dBFS fills it."""
SHORT_NAMES = {
    "understanding": "understanding",
    "not_personal": "not personal",
    "targeted_question": "question",
    "written_agreement": "in writing",
    "apology": "apology",
    "calm_tone": "calm tone",
}


def meter(dbfs: float, width: int = METER_WIDTH) -> str:
    """A bar for a level in dBFS, e.g. '[#######             ]'."""
    filled = int(round(width * min(max((dbfs - METER_FLOOR_DB) / -METER_FLOOR_DB, 0.0), 1.0)))
    return "[" + "#" * filled + " " * (width - filled) + "]"


def ticks(card: Scorecard, color: bool = False) -> str:
    """One line of ✓/✗ per check of a reply's scorecard."""
    parts = []
    for check_id in CHECK_IDS:
        result = card.checks.get(check_id)
        if result is None:
            continue
        mark = "✓" if result.passed else "✗"
        if color:
            mark = (GREEN if result.passed else RED) + mark + RESET
        parts.append(f"{mark} {SHORT_NAMES.get(check_id, check_id)}")
    return "  ".join(parts) + f"   ({card.overall}/100)"


class LiveView:
    """Writes the call as it happens; one instance per call."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self._status = ""

    def _line(self, text: str) -> None:
        self._clear_status()
        print(text, file=self.stream, flush=True)

    def _clear_status(self) -> None:
        if self.tty and self._status:
            self.stream.write(CLEAR_LINE)
            self._status = ""

    def notice(self, text: str) -> None:
        """A message about the call itself (no device, where the session is saved)."""
        self._line(text)

    def customer(self, text: str, interrupted: bool = False) -> None:
        label = f"{BOLD}Customer:{RESET}" if self.tty else "Customer:"
        self._line(f"{label} {text}" + (" [cut off]" if interrupted else ""))

    def false_start(self) -> None:
        """The customer began to answer in a pause and stopped: their mistake, not an interruption by the trainee."""
        label = f"{DIM}Customer:{RESET}" if self.tty else "Customer:"
        self._line(f"{label} (starts to answer, stops: you were not finished)")

    def listening(self, level_dbfs: float, partial: str) -> None:
        """Redraw the status line: level meter and what Vosk hears so far (terminal only)."""
        if not self.tty:
            return
        status = f"{DIM}You:{RESET} {meter(level_dbfs)} {partial}"
        if status != self._status:
            self.stream.write(CLEAR_LINE + status[:200])
            self.stream.flush()
            self._status = status

    def trainee(self, text: str) -> None:
        label = f"{BOLD}You:{RESET}" if self.tty else "You:"
        self._line(f"{label} {text or '(nothing recognized)'}")

    def turn_result(self, card: Scorecard, events: Sequence[str] = ()) -> None:
        """Ticks per check after a reply, plus what happened (barge-in, silence prompt)."""
        self._line("  " + ticks(card, color=self.tty) + "".join(f"  [{e}]" for e in events))

    def scorecard(self, debrief: Debrief) -> None:
        """The end of the call: outcome, the call's mark, and per principle its verdict and the reply that decided it."""
        from voicesim.debrief import MARKS, verdict_column, wording

        text = wording(debrief.lang)
        phrases, outcome = text["phrases"], text["outcomes"].get(debrief.outcome, debrief.outcome.replace("_", " "))
        overall = debrief.overall if debrief.overall is not None else "-"
        replies = debrief.notes[0].replies if debrief.notes else 0
        self._line("")
        self._line(phrases["ended"].format(outcome=outcome, overall=overall, n=replies))
        width = max((len(n.principle) for n in debrief.notes), default=0)
        for note in debrief.notes:
            mark = MARKS[note.met]
            if self.tty and note.met is not None:
                mark = (GREEN if note.met else RED) + mark + RESET
            self._line(f"  {mark} {note.principle:<{width}}  {verdict_column(note, phrases)}")

    def lines(self, lines: Sequence[str]) -> None:
        for text in lines:
            self._line(text)

    def close(self) -> None:
        self._clear_status()
        self.stream.flush()
