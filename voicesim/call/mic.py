"""Where the live call hears the trainee: microphone chunks in order, and the clock they arrive on.

The live loop asks a :class:`Microphone` for the next chunk and for the time instead
of reading a queue and ``time.monotonic()`` itself. So the same loop runs on a headset
in real time (:class:`StreamMicrophone`: the line's input stream on its own thread,
the wall clock) and on a line driven by a manual clock, where a whole call's decisions
take milliseconds (tests/lines.py).
"""

from __future__ import annotations

import queue
import time
from collections import deque
from typing import Protocol

import numpy as np

from voicesim.audio import SAMPLE_RATE
from voicesim.errors import VoicesimError


class Microphone(Protocol):
    """The trainee's audio for the live loop, and the call's clock."""

    received: int
    """Samples delivered so far (a threaded microphone runs ahead of what was read)."""

    def open(self) -> None:
        """Start delivering chunks."""

    def read(self) -> np.ndarray | None:
        """The next int16 16 kHz chunk, or None when none came within a short wait.

        Raises AudioDeviceLostError (or another VoicesimError) when the device is gone."""

    def now(self) -> float:
        """The call's clock, in seconds."""

    def arrived_at(self, stream_pos: int) -> float | None:
        """When (on :meth:`now`'s clock) the sample at `stream_pos` arrived; None when no longer known."""

    def close(self) -> None:
        """Stop delivering; never raises (the device may be gone already)."""


class StreamMicrophone:
    """A line's input stream (a PortAudio capture) read on a thread of its own, on the wall clock."""

    wait_s = 0.05
    """How long :meth:`read` waits for a chunk before letting the loop look at playback and the device."""

    def __init__(self, line) -> None:
        self._line = line
        self._stream = None
        self._chunks: queue.Queue[np.ndarray] = queue.Queue()
        self.received = 0
        self._arrivals: deque[tuple[int, float]] = deque(maxlen=500)
        """(stream sample at the end of a chunk, wall time it arrived): maps stream time to wall time."""

    def open(self) -> None:
        self._stream = self._line.open_input_stream(self._on_chunk)
        self._stream.__enter__()

    # microphone thread
    def _on_chunk(self, chunk: np.ndarray) -> None:
        self.received += len(chunk)
        self._arrivals.append((self.received, time.monotonic()))
        self._chunks.put(chunk)

    def read(self) -> np.ndarray | None:
        try:
            return self._chunks.get(timeout=self.wait_s)
        except queue.Empty:
            self._stream.raise_if_lost()
            if not self._stream.alive:
                raise VoicesimError("the microphone stream ended unexpectedly; check the input device") from None
            return None

    def now(self) -> float:
        return time.monotonic()

    def arrived_at(self, stream_pos: int) -> float | None:
        # A snapshot: the microphone thread appends while we look (list() copies under the GIL).
        for end, at in list(self._arrivals):
            if end >= stream_pos:
                return at - (end - stream_pos) / SAMPLE_RATE
        return None

    def close(self) -> None:
        if self._stream is None:
            return
        self._stream.error = None  # handled already; closing must not raise it again
        self._stream.close()
        self._stream = None
