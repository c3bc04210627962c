"""Background rendering of the customer's likely next lines, so an answer starts as soon as the turn ends."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import replace

from voicesim.call.setup import CallSetup
from voicesim.call.turn import fork, score
from voicesim.call.voice import customer_voice, texts
from voicesim.customer import Customer, TurnEvents
from voicesim.transcript import Transcript

PREFETCH_EVERY_S = 0.25
"""Least time between two background guesses at the customer's answer."""


class Prefetcher:
    """Renders the customer's next lines in the background, so answers start at once.

    Two sources: every line of the scenario, warmed in order from the call's start
    (:meth:`warm`); and a guess at the coming answer from the live partial transcript,
    scored (text only) on a copy of the customer with and without a calm-tone slip
    (:meth:`guess`), for lines the warm-up has not reached yet.
    """

    def __init__(self, setup: CallSetup) -> None:
        self.setup = setup
        self._jobs: queue.Queue[tuple[Customer, str, TurnEvents] | None] = queue.Queue(maxsize=1)
        self._done: set[str] = set()
        self._closed = threading.Event()
        self.idle = threading.Event()
        """Set while nobody needs the CPU much (the customer is talking): warm at full speed."""
        self._thread = threading.Thread(target=self._work, name="voicesim-prefetch", daemon=True)
        self._thread.start()
        self._last = 0.0

    def guess(self, customer: Customer, partial: str, events: TurnEvents, now: float) -> None:
        """Offer the latest partial (`now` on the call's clock); dropped when a guess is still being worked on."""
        if not partial or now - self._last < PREFETCH_EVERY_S:
            return
        self._last = now
        try:
            self._jobs.put_nowait((fork(customer), partial, events))
        except queue.Full:
            pass

    def warm(self, lines: Sequence[str]) -> None:
        """Render these lines in a background thread of their own, in order, until closed."""
        def work() -> None:
            for text in lines:
                if self._closed.is_set():
                    return
                began = time.monotonic()
                try:
                    self._render(text)
                except Exception:  # a line that fails now is rendered (or reported) when it is needed
                    continue
                if not self.idle.is_set():
                    # The trainee is speaking: a third of the time at most, so the recognizer
                    # keeps up with the microphone and the guesses get rendered first.
                    self._closed.wait(2 * (time.monotonic() - began))

        threading.Thread(target=work, name="voicesim-warm", daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        try:
            self._jobs.put_nowait(None)
        except queue.Full:
            pass

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            customer, partial, events = job
            try:
                for text in self._candidates(customer, partial, events):
                    self._render(text)
            except Exception:  # a guess that fails costs only the cache hit, never the call
                continue

    def _candidates(self, customer: Customer, partial: str, events: TurnEvents) -> list[str]:
        card = score(self.setup, Transcript.from_text(partial), None, events.interrupted, events.response_delay_s)
        lines = list(texts(fork(customer).react(card, events)))
        calm = card.checks.get("calm_tone")
        if calm is not None and calm.passed:
            slipped = replace(card, checks={**card.checks, "calm_tone": replace(calm, passed=False)})
            lines += texts(fork(customer).react(slipped, events))
        return lines

    def _render(self, text: str) -> None:
        if text in self._done:
            return
        self._done.add(text)
        customer_voice(self.setup, (text,))
