"""One customer line, rendered by pyttsx3 on espeak-ng in a process of its own.

:mod:`voicesim.tts` starts this module ahead of time, so espeak-ng is already loaded
when a line arrives. It reads one JSON request from stdin, writes a 16-bit WAV at
espeak-ng's 22050 Hz and exits; problems leave as one line on stderr, exit code 3::

    $ echo '{"text": "Hello there", "voice": "en-us+m3", "variant": "m3", "rate": 160,
    ...      "pitch": 50, "range": 50, "volume": 1.0, "wav": "/tmp/hello.wav"}' | python -m voicesim.tts_worker

Why a fresh process per line rather than one long-lived engine:

- espeak-ng keeps hidden state between utterances (the pitch-flutter position in
  wavegen.c is a static that is never reset), so a long-lived engine speaks the same
  text slightly differently each time; a fresh process gives byte-identical audio.
- pyttsx3's run loop is not re-entrant and espeak-ng cannot be initialised twice in
  one process; here each process initialises once and runs the loop once, away from
  the caller's threads.
- espeak-ng runs in synchronous mode (see :func:`_make_synchronous`), so one process speaks
  one line on one thread, in the order the settings were made.

Only the standard library and pyttsx3 are imported, to keep the start cheap (~50 ms).
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import threading

LIBRARY_ENV = "VOICESIM_ESPEAK_LIBRARY"
"""Environment variable naming the libespeak-ng shared library to use instead of the system's."""

PITCH_RANGE = {"value": 50}
"""espeak-ng pitch range 0-100 for the line being spoken; pyttsx3 has no property for it."""

EXIT_PROBLEM = 3
"""Exit code when the line could not be rendered; stderr then holds one line saying why."""

LINE_TIMEOUT_S = 60.0
"""Longest espeak-ng may speak one line before the worker gives up."""

INSTALL_HINT = "install it with `sudo apt-get install espeak-ng`"


class LineProblem(Exception):
    """Why the line could not be rendered, as one line for the user."""


def main() -> int:
    try:
        engine = start_engine()
        request = sys.stdin.readline()
        if not request.strip():
            return 0  # the parent closed a spare worker it did not need
        render(engine, json.loads(request))
    except LineProblem as exc:
        print(exc, file=sys.stderr, flush=True)
        return EXIT_PROBLEM
    return 0


def start_engine():
    """pyttsx3's espeak engine, on the library named by VOICESIM_ESPEAK_LIBRARY if set."""
    library = os.environ.get(LIBRARY_ENV)
    preloaded = _preload(library) if library else None
    try:
        import pyttsx3
        from pyttsx3.drivers import _espeak

        _make_synchronous(_espeak)
        engine = pyttsx3.init("espeak")
    except (ImportError, OSError, RuntimeError) as exc:
        raise LineProblem(f"espeak-ng is not usable: pyttsx3 cannot load libespeak-ng.so.1 ({exc}); {INSTALL_HINT}") from None
    if preloaded is not None and _espeak.dll._handle != preloaded._handle:
        raise LineProblem(
            f"{LIBRARY_ENV}={library} loaded, but pyttsx3 opened another libespeak-ng; "
            "point it at a library whose soname is libespeak-ng.so.1, or unset it"
        )
    return engine


def _make_synchronous(espeak) -> None:
    """Run espeak-ng in AUDIO_OUTPUT_SYNCHRONOUS mode under pyttsx3, which asks for RETRIEVAL.

    Why: in RETRIEVAL mode espeak-ng speaks on a thread of its own and applies rate,
    pitch and volume from a queue on that thread, while a voice change runs at once on
    the caller's; the two threads race over espeak-ng's unlocked globals, and on a
    loaded machine the same line now and then came out with other pauses (2 of 48
    same-seed scripted calls differed in a customer line's length by 0.2 s). In
    SYNCHRONOUS mode every call runs on the calling thread, in the order made.

    espeak-ng sends its end-of-message event only from the speaking thread, so in this
    mode the line ends without it; pyttsx3's driver writes the WAV and ends its loop on
    that event, so it is delivered here once Synth has returned with the whole line.
    """
    initialize, synth = espeak.Initialize, espeak.Synth

    def initialize_synchronous(_output, *args, **kwargs):
        return initialize(espeak.AUDIO_OUTPUT_SYNCHRONOUS, *args, **kwargs)

    def synth_then_end(*args, **kwargs):
        # Set here, after pyttsx3 has applied the voice, which resets the range to the voice's own.
        espeak.SetParameter(espeak.RANGE, PITCH_RANGE["value"], 0)
        synth(*args, **kwargs)
        events = (espeak.EVENT * 2)()
        events[0].type = espeak.EVENT_MSG_TERMINATED
        events[1].type = espeak.EVENT_LIST_TERMINATED
        espeak.SynthCallback(None, 0, events)

    espeak.Initialize, espeak.Synth = initialize_synchronous, synth_then_end


def _preload(library: str) -> ctypes.CDLL:
    """Load `library` first: pyttsx3's later dlopen("libespeak-ng.so.1") then finds it by soname."""
    try:
        return ctypes.CDLL(library)
    except OSError as exc:
        raise LineProblem(
            f"cannot load the espeak-ng library {library} named by {LIBRARY_ENV} ({exc}); "
            f"unset {LIBRARY_ENV} to use the system's, or {INSTALL_HINT}"
        ) from None


def render(engine, request: dict) -> None:
    """Speak request["text"] into the WAV file request["wav"] with the requested voice."""
    errors: list[Exception] = []
    finished = threading.Event()
    engine.connect("error", lambda exception, **_: errors.append(exception))
    engine.connect("finished-utterance", lambda **_: finished.set())
    # pyttsx3 queues these and applies them in order when the loop starts.
    engine.setProperty("voice", request["voice"])
    engine.setProperty("pitch", request["pitch"])
    engine.setProperty("rate", request["rate"])
    engine.setProperty("volume", request["volume"])
    PITCH_RANGE["value"] = int(request.get("range", 50))
    engine.save_to_file(request["text"], request["wav"])
    engine.runAndWait()
    # The driver sends finished-utterance once it has written the WAV; in synchronous mode
    # that happens before runAndWait returns, the wait guards a pyttsx3 that behaves otherwise.
    if not errors and not finished.wait(LINE_TIMEOUT_S):
        raise LineProblem(f"espeak-ng did not finish speaking within {LINE_TIMEOUT_S:.0f} s; check `espeak-ng 'hello'` works")
    if errors:
        raise LineProblem(f"espeak-ng refused voice {request['voice']!r} or its settings ({errors[0]}); list voices with `espeak-ng --voices`")
    _check_variant(engine.getProperty("voice"), request)
    if not os.path.exists(request["wav"]):
        raise LineProblem(f"espeak-ng produced no audio for {request['text']!r}")


def _check_variant(current: str | None, request: dict) -> None:
    """espeak-ng silently ignores an unknown variant, so compare with the voice it chose."""
    variant = request["variant"]
    if variant and not (current or "").endswith(f"+{variant}"):
        raise LineProblem(
            f"espeak-ng has no voice variant {variant!r} (it spoke as {current!r}); "
            "list variants with `espeak-ng --voices=variant`"
        )


if __name__ == "__main__":
    raise SystemExit(main())
