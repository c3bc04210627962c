"""Tone of voice from the audio of one reply: pace, loudness, pitch, pauses, fillers.

Pure numpy/scipy: takes an :class:`~voicesim.audio.Audio` and the recognized
words with their timings, returns :class:`ToneMetrics`. No I/O, no globals.

>>> import numpy as np
>>> from voicesim.audio import Audio, block_levels_dbfs
>>> t = np.arange(16000) / 16000
>>> hum = Audio((0.1 * np.sin(2 * np.pi * 120 * t)).astype(np.float32))
>>> m = measure_tone(hum, [])
>>> round(m.pitch_median_hz), round(m.loudness_dbfs, 1)
(120, -23.0)
>>> measure_tone(Audio.silence(1.0), []).speech_found
False

Conventions: dBFS is ``20*log10(rms)`` with full scale = 1.0, so a full-scale
sine reads -3.0 dBFS RMS and 0.0 dBFS peak.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from scipy import fft as sp_fft
from scipy.ndimage import median_filter

from voicesim.audio import Audio, block_levels_dbfs
from voicesim.transcript import Word

BLOCK_S = 0.02
"""Short-term loudness block and pitch hop: 20 ms, short enough to follow syllables."""
PITCH_FRAME_S = 0.04
"""Pitch analysis window: 40 ms holds two periods of a 50 Hz voice."""
PITCH_RATE = 8000
"""Sample rate of the pitch tracker: telephone band, half the work of 16 kHz."""
F0_MIN_HZ = 60.0
"""Lowest voice pitch searched (deep male voices go to about 65 Hz)."""
F0_MAX_HZ = 500.0
"""Highest voice pitch searched (raised female and child voices)."""
YIN_THRESHOLD = 0.15
"""YIN aperiodicity below which a frame counts as voiced (de Cheveigné & Kawahara use 0.1–0.15)."""
DIP_MARGIN = 0.01
"""A dip counts as the period only if it is within this of the deepest dip (see _first_dip)."""
CLEAR_DIP = 0.04
"""A dip this deep is a period however deep later ones are (quantized lags make those vary)."""
SILENCE_DBFS = -50.0
"""Blocks quieter than this are silence: a headset at normal gain puts speech at -35..-15 dBFS."""
DYNAMIC_RANGE_DB = 40.0
"""Blocks more than this below the loudest block are background, not speech."""
MIN_VOICED_S = 0.15
"""Less voiced time than this is a click or a cough, not speech."""
MIN_VOICED_SHARE = 0.10
"""Speech is 30–60 % voiced; noise that passes the level gate is nearly never voiced."""
PAUSE_MIN_S = 0.3
"""A gap between words longer than this is a pause (shorter gaps are articulation)."""
FINAL_SPAN_S = 0.4
"""The final rise or fall is measured over the last 0.4 s of voicing: about one stressed syllable."""
RISING_END_SEMITONES = 2.0
"""A final rise of at least 2 semitones is heard as question intonation."""

_VOWEL_GROUPS = re.compile(r"[aeiouyäöüéèáàâêîôû]+")
_TOKEN_STRIP = re.compile(r"[^\w'’-]+")


@dataclass(frozen=True)
class ToneMetrics:
    """How the reply sounded; every measured field is None when no speech was found."""

    speech_found: bool
    """False for silence, noise or clicks: then the numbers below are None."""
    reason: str = ""
    """Why no speech was found, or why a group of fields is missing; empty when all was measured."""
    words_per_minute: float | None = None
    """Recognized words over the span from the first word's start to the last word's end."""
    syllables_per_second: float | None = None
    """Syllables (vowel groups of the recognized words) over the same span."""
    loudness_dbfs: float | None = None
    """RMS level over the speech blocks, dBFS."""
    peak_dbfs: float | None = None
    """Highest sample magnitude, dBFS."""
    loudness_variability_db: float | None = None
    """Standard deviation of the 20 ms block levels over speech, dB."""
    pitch_median_hz: float | None = None
    """Median F0 over voiced frames."""
    pitch_range_semitones: float | None = None
    """Spread of F0 from its 10th to its 90th percentile, in semitones."""
    final_pitch_change_semitones: float | None = None
    """Rise (+) or fall (-) of F0 over the last 0.4 s of voicing."""
    rising_end: bool | None = None
    """True when the reply ends on a rise, a cue for a question; None when not measurable."""
    delay_before_first_word_s: float | None = None
    """Time from the start of the audio to the first recognized word."""
    pause_count: int | None = None
    """Gaps longer than 0.3 s between recognized words."""
    pause_total_s: float | None = None
    """Sum of those gaps."""
    longest_pause_s: float | None = None
    """The longest of those gaps; 0 when there was none."""
    filler_count: int = 0
    """Filler words (uh, um, äh…) among the recognized words."""
    filler_ratio: float = 0.0
    """filler_count over all recognized words; 0 when there are none."""
    voiced_s: float = 0.0
    """Voiced time found in the audio (what the speech decision rests on)."""
    timed_words: int = 0
    """Recognized words with timings: what the rate and pauses rest on."""


@dataclass(frozen=True)
class _PitchTrack:
    """F0 per voiced frame and the frame's time."""

    times_s: np.ndarray
    f0_hz: np.ndarray
    active_frames: int
    """Frames loud enough to be speech (voiced or not)."""


def measure_tone(audio: Audio, words: Sequence[Word], fillers: Collection[str] = ()) -> ToneMetrics:
    """Measure the tone of one reply; `words` are the recognizer's, `fillers` the language pack's."""
    x = np.asarray(audio.samples, dtype=np.float32)
    rate = audio.sample_rate
    block = int(round(BLOCK_S * rate))
    n_blocks = len(x) // block
    filler_count, filler_ratio = filler_share([w.word for w in words], fillers)
    if n_blocks == 0:
        return ToneMetrics(False, "the audio is shorter than 20 ms", filler_count=filler_count, filler_ratio=filler_ratio)
    block_db = block_levels_dbfs(x[: n_blocks * block], block)
    active = _active_blocks(block_db)
    if not active.any():
        return ToneMetrics(
            False,
            f"no speech found: the audio stays below {SILENCE_DBFS:.0f} dBFS (silence)",
            filler_count=filler_count,
            filler_ratio=filler_ratio,
        )
    track = _pitch_track(x, rate, block, active)
    voiced_s = len(track.f0_hz) * BLOCK_S
    if voiced_s < MIN_VOICED_S or len(track.f0_hz) < MIN_VOICED_SHARE * track.active_frames:
        return ToneMetrics(
            False,
            f"no speech found: sound but no voice ({voiced_s:.2f} s voiced), e.g. noise or clicks",
            filler_count=filler_count,
            filler_ratio=filler_ratio,
            voiced_s=voiced_s,
        )
    loud = block_db[active]
    power = np.mean(np.power(10.0, loud / 10.0))
    peak = max(float(x.max()), -float(x.min()))  # no |x| copy of the whole reply
    timed = [w for w in words if w.start_s is not None and w.end_s is not None]
    pace = _pace(timed)
    final = _final_change(track)
    return ToneMetrics(
        speech_found=True,
        reason="" if pace else "no word timings: pace and pauses not measured",
        words_per_minute=pace.get("wpm"),
        syllables_per_second=pace.get("sps"),
        loudness_dbfs=float(10.0 * np.log10(power)),
        peak_dbfs=float(20.0 * np.log10(peak)),
        loudness_variability_db=float(np.std(loud)),
        pitch_median_hz=float(np.median(track.f0_hz)),
        pitch_range_semitones=_range_semitones(track.f0_hz),
        final_pitch_change_semitones=final,
        rising_end=None if final is None else final >= RISING_END_SEMITONES,
        delay_before_first_word_s=pace.get("delay"),
        pause_count=pace.get("pause_count"),
        pause_total_s=pace.get("pause_total"),
        longest_pause_s=pace.get("pause_longest"),
        filler_count=filler_count,
        filler_ratio=filler_ratio,
        voiced_s=voiced_s,
        timed_words=len(timed),
    )


def normalize_token(token: str) -> str:
    """Lower case without surrounding punctuation, so 'Um,' and 'um' match."""
    return _TOKEN_STRIP.sub("", token.lower())


def filler_share(tokens: Sequence[str], fillers: Collection[str]) -> tuple[int, float]:
    """Count filler words (single or multi-word, e.g. 'you know') and their share of all tokens."""
    norm = [t for t in (normalize_token(t) for t in tokens) if t]
    if not norm:
        return 0, 0.0
    singles = {f.lower() for f in fillers if len(f.split()) == 1}
    phrases = sorted({tuple(f.lower().split()) for f in fillers if len(f.split()) > 1}, key=len, reverse=True)
    count, i = 0, 0
    while i < len(norm):
        hit = next((len(p) for p in phrases if tuple(norm[i : i + len(p)]) == p), int(norm[i] in singles))
        count += hit
        i += max(hit, 1)
    return count, count / len(norm)


def count_syllables(word: str) -> int:
    """Vowel groups of a word, at least one: close enough for en and de to compare speaking rates."""
    return max(1, len(_VOWEL_GROUPS.findall(word.lower())))


def _active_blocks(block_db: np.ndarray) -> np.ndarray:
    floor = max(SILENCE_DBFS, float(block_db.max()) - DYNAMIC_RANGE_DB)
    return block_db >= floor


def _pitch_track(x: np.ndarray, rate: int, hop: int, active: np.ndarray) -> _PitchTrack:
    """YIN (cumulative mean normalized difference) on the active 40 ms frames, one per 20 ms block.

    Runs at 8 kHz (telephone bandwidth holds every voice's harmonics) and only on loud
    frames, which keeps a 15 s reply within a few milliseconds.
    """
    x, rate, hop = _to_pitch_rate(x, rate, hop)
    frame = int(round(PITCH_FRAME_S * rate))
    max_lag = int(rate / F0_MIN_HZ)
    min_lag = int(rate / F0_MAX_HZ)
    window = frame - max_lag - 1  # so lag max_lag+1 (for the parabola) stays inside the frame
    x = np.pad(x, (0, frame))  # the last blocks still get a full frame
    starts = np.flatnonzero(active) * hop
    frames = np.lib.stride_tricks.sliding_window_view(x, frame)[starts]
    spec = sp_fft.rfft(frames, frame, axis=1, workers=1)
    head = sp_fft.rfft(frames[:, :window], frame, axis=1, workers=1)
    acf = sp_fft.irfft(spec * np.conj(head), frame, axis=1, workers=1)[:, : max_lag + 2]
    # sum of x[j]^2 for j in [start+lag, start+lag+window), from one running sum of the signal
    energy = np.concatenate(([0.0], np.cumsum(np.square(x, dtype=np.float64))))
    runs = np.lib.stride_tricks.sliding_window_view(energy, max_lag + 2)
    shifted = (runs[starts + window] - runs[starts]).astype(np.float32)
    diff = np.maximum(shifted[:, :1] + shifted - 2.0 * acf, 0.0)
    lag, depth = _first_dip(_cumulative_mean_normalized(diff), min_lag, max_lag)
    voiced = depth < YIN_THRESHOLD
    f0 = _fold_octave_jumps(rate / lag[voiced])
    times = (starts[voiced] + frame / 2) / rate
    return _PitchTrack(times_s=times, f0_hz=f0, active_frames=len(starts))


def _to_pitch_rate(x: np.ndarray, rate: int, hop: int) -> tuple[np.ndarray, int, int]:
    """Halve 16 kHz to 8 kHz through a [1, 2, 1]/4 low-pass: cheap, and it keeps aliasing below -15 dB."""
    if rate < 2 * PITCH_RATE:
        return x, rate, hop
    step = rate // PITCH_RATE
    y = 0.25 * x[0:-2:step] + 0.5 * x[1:-1:step] + 0.25 * x[2::step]
    return y.astype(np.float32), rate // step, hop // step


def _cumulative_mean_normalized(diff: np.ndarray) -> np.ndarray:
    out = diff.copy()
    out[:, 0] = 1.0
    taus = np.arange(1, diff.shape[1], dtype=diff.dtype)
    out[:, 1:] *= taus / np.maximum(np.cumsum(diff[:, 1:], axis=1), 1e-12)
    return out


def _first_dip(cmnd: np.ndarray, min_lag: int, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: the first dip about as deep as the deepest, refined by a parabola; depth 1 if none.

    Taking the first dip, not the deepest, keeps YIN off the octave below (the dip at two
    periods is as deep as the one at one period); requiring it to be nearly as deep as the
    deepest keeps it off the octave above, which voices with a strong second harmonic show.
    Depths are compared at the parabola's vertex, since a period is rarely a whole number of samples.
    Only the local minima (a few per frame) are refined, which keeps this cheap.
    """
    a, b, c = cmnd[:, min_lag - 1 : max_lag], cmnd[:, min_lag : max_lag + 1], cmnd[:, min_lag + 1 : max_lag + 2]
    rows, cols = np.nonzero((b < a) & (b <= c))  # row-major: each frame's minima in lag order
    va, vb, vc = a[rows, cols], b[rows, cols], c[rows, cols]
    curvature = np.maximum(va - 2.0 * vb + vc, 1e-12)  # > 0 at a strict minimum
    vertex = vb - (va - vc) ** 2 / (8.0 * curvature)
    deepest = np.full(len(cmnd), np.inf, dtype=vertex.dtype)
    np.minimum.at(deepest, rows, vertex)
    ok = (vb < YIN_THRESHOLD) & ((vertex <= deepest[rows] + DIP_MARGIN) | (vertex < CLEAR_DIP))
    rows, cols, va, vb, vc, curvature = rows[ok], cols[ok], va[ok], vb[ok], vc[ok], curvature[ok]
    frame_rows, first = np.unique(rows, return_index=True)
    lag = np.zeros(len(cmnd))
    depth = np.ones(len(cmnd), dtype=cmnd.dtype)
    shift = np.clip(0.5 * (va[first] - vc[first]) / curvature[first], -0.5, 0.5)
    lag[frame_rows] = cols[first] + min_lag + shift
    depth[frame_rows] = vb[first]
    return lag, depth


def _fold_octave_jumps(f0: np.ndarray) -> np.ndarray:
    """Move single frames an octave (or two) off their neighbours back in line.

    A voice glides; it does not jump an octave from one 20 ms frame to the next, but YIN
    does on frames with a weak fundamental. The local median of seven frames follows real
    rises and falls, so only the isolated jumps are folded.
    """
    if len(f0) < 3:
        return f0
    octaves = np.log2(f0)
    local = median_filter(octaves, size=7, mode="nearest")
    return np.power(2.0, octaves - np.round(octaves - local))


def _range_semitones(f0: np.ndarray) -> float:
    lo, hi = np.percentile(f0, [10, 90])
    return float(12.0 * np.log2(hi / lo))


def _final_change(track: _PitchTrack) -> float | None:
    """Least-squares rise over the last voiced 0.4 s, after dropping octave jumps."""
    if len(track.f0_hz) < 4:
        return None
    end = track.times_s[-1]
    tail = track.times_s >= end - FINAL_SPAN_S
    t, semis = track.times_s[tail], 12.0 * np.log2(track.f0_hz[tail])
    keep = np.abs(semis - np.median(semis)) < 5.0
    t, semis = t[keep], semis[keep]
    if len(t) < 4 or np.ptp(t) < 0.1:
        return None
    slope = np.polyfit(t, semis, 1)[0]
    return float(slope * np.ptp(t))


def final_pitch(audio: Audio) -> tuple[float | None, float] | None:
    """(rise in semitones over the last 0.4 s of voicing or None, last voiced F0 minus the median F0 in semitones).

    For the turn detector: a fall to low in the voice's range closes a statement; level or
    rising pitch before a pause usually promises more. None when too little is voiced.
    """
    x = np.asarray(audio.samples, dtype=np.float32)
    hop = int(round(BLOCK_S * audio.sample_rate))
    n = len(x) // hop
    if n == 0:
        return None
    track = _pitch_track(x[: n * hop], audio.sample_rate, hop, _active_blocks(block_levels_dbfs(x[: n * hop], hop)))
    if len(track.f0_hz) < 4:
        return None
    semis = 12.0 * np.log2(track.f0_hz)
    return _final_change(track), float(np.median(semis[-3:]) - np.median(semis))


def _pace(words: Sequence[Word]) -> dict[str, float | int]:
    """Rate, delay and pauses from word timings; empty when there are no timed words."""
    if not words:
        return {}
    span = max(words[-1].end_s - words[0].start_s, 0.2)  # one short word is not a rate of 600 wpm
    gaps = np.array([b.start_s - a.end_s for a, b in pairwise(words)], dtype=float)
    pauses = gaps[gaps > PAUSE_MIN_S]
    syllables = sum(count_syllables(w.word) for w in words)
    return {
        "wpm": len(words) / span * 60.0,
        "sps": syllables / span,
        "delay": float(words[0].start_s),
        "pause_count": int(len(pauses)),
        "pause_total": float(pauses.sum()),
        "pause_longest": float(pauses.max()) if len(pauses) else 0.0,
    }
