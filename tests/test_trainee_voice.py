"""The pre-rendered trainee replies: every text the tests speak is there, and Piper still renders them."""

from __future__ import annotations

import numpy as np
import trainee_voice as tv
from wer import word_error_rate

from voicesim.asr import transcribe

PIPER_TEXT = "I will send you a written confirmation today."
"""The one text rendered live (at length_scale 1.0): short, so Piper's part of the run stays small."""


def test_every_text_the_tests_speak_is_rendered_and_indexed() -> None:
    requests, unresolved = tv.requests_in_tests()
    assert {where.split(":")[0] for where in unresolved} <= set(tv.CORPUS_SOURCES), unresolved
    wanted = {tv.reply_name(t, s): (t, s) for t, s in requests | tv.corpus_requests()}
    missing = sorted(f"{t!r} at {s}" for name, (t, s) in wanted.items() if not (tv.REPLIES_DIR / name).is_file())
    assert not missing, f"run {tv.MAKE}; missing: {missing}"
    assert tv.read_index() == wanted


def test_piper_renders_the_committed_reply_and_vosk_hears_it(en_model) -> None:
    live = tv.render(PIPER_TEXT)
    committed = tv.speak(PIPER_TEXT)
    assert committed.sample_rate == live.sample_rate == 16000
    assert len(live.samples) == len(committed.samples)
    # The WAV holds 16-bit samples: equal up to that rounding, plus slack for onnxruntime's float sums.
    rms_diff = float(np.sqrt(np.mean((live.samples - committed.samples) ** 2)))
    rms = float(np.sqrt(np.mean(committed.samples**2)))
    assert rms_diff < 0.01 * rms, (rms_diff, rms)
    heard = transcribe(committed, "en", en_model).text
    assert word_error_rate(PIPER_TEXT, heard) <= 0.15, heard
