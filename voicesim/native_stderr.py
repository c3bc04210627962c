"""Keeps PortAudio's and ALSA's C-level chatter off stderr while sound streams are open.

Debian's PortAudio prints ``Expression '...' failed in pa_linux_alsa.c`` lines straight
to the C stderr when a device vanishes, and ALSA's pulse plugin prints ``ALSA lib ...
underrun occurred``; either would break the CLI's one-line error. While the filter runs,
file descriptor 2 goes through a pipe whose reader forwards every other line.
VOICESIM_AUDIO_DEBUG=1 turns it off.

>>> native_stderr.start()    # doctest: +SKIP
>>> native_stderr.stop()     # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import os
import sys
import threading


class NativeStderrFilter:
    """Drops the lines starting with :attr:`NOISE` from file descriptor 2 between start() and stop()."""

    NOISE = (b"Expression '", b"ALSA lib ")

    def __init__(self) -> None:
        self._saved: int | None = None
        """A copy of the real stderr while filtering."""
        self._pump: threading.Thread | None = None

    def start(self) -> None:
        """Route fd 2 through the filter (nothing if already running or VOICESIM_AUDIO_DEBUG is set)."""
        if os.environ.get("VOICESIM_AUDIO_DEBUG") or self._saved is not None:
            return
        sys.stderr.flush()
        self._saved = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        # The pump owns a copy of the real stderr: a child process started meanwhile may keep
        # the pipe open after stop(), and its output must still get through.
        self._pump = threading.Thread(target=self._forward, args=(read_end, os.dup(self._saved)),
                                      name="voicesim-stderr", daemon=True)
        self._pump.start()

    def stop(self) -> None:
        """Give fd 2 back, after forwarding what is still in the pipe."""
        if self._saved is None:
            return
        sys.stderr.flush()
        os.dup2(self._saved, 2)  # closes our write end of the pipe: the pump reads to EOF
        os.close(self._saved)
        self._saved = None
        if self._pump is not None:
            self._pump.join(timeout=1.0)
            self._pump = None

    @classmethod
    def _forward(cls, read_end: int, real: int) -> None:
        pending = b""
        while chunk := os.read(read_end, 65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            _write_all(real, b"".join(line + b"\n" for line in lines if not line.startswith(cls.NOISE)))
        _write_all(real, pending)
        os.close(read_end)
        os.close(real)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


native_stderr = NativeStderrFilter()
"""The one filter of this process (there is one file descriptor 2)."""
atexit.register(native_stderr.stop)  # restore fd 2 (and forward what is queued) before exit
