"""Server-side SVG for the desk: the recording's waveform, the customer's anger, principles over time.

Drawn on the server so pages (and the static export) need no charting library;
every label goes through :func:`html.escape`, numbers are formatted here.

>>> "<polyline" in anger_chart([7, 4, 3, 1], max_anger=10)
True
"""

from __future__ import annotations

import functools
from html import escape
from pathlib import Path

import numpy as np
from markupsafe import Markup

WAVE_WIDTH, WAVE_HEIGHT = 1000, 120
"""viewBox of the waveform: customer (left channel) on the top half, trainee (right) below."""


@functools.lru_cache(maxsize=64)
def _peaks(path: str, mtime_ns: int, buckets: int) -> tuple[np.ndarray, float] | None:
    import soundfile as sf

    try:
        info = sf.info(path)
        if not info.frames:
            return None
        size = -(-info.frames // buckets)
        peaks = []
        # 50 buckets per read: a long call's recording is never held in memory whole.
        for block in sf.blocks(path, blocksize=size * 50, dtype="float32", always_2d=True):
            n = -(-len(block) // size)
            padded = np.zeros((n * size, block.shape[1]), np.float32)
            padded[: len(block)] = np.abs(block)
            peaks.append(padded.reshape(n, size, -1).max(axis=1))
    except (OSError, RuntimeError, sf.LibsndfileError):
        return None
    return np.concatenate(peaks), info.frames / info.samplerate


def recording_info(path: Path, buckets: int = 500) -> tuple[np.ndarray, float] | None:
    """Per-bucket peak of each channel and the duration in seconds; None when the file can't be read."""
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return None
    return _peaks(str(path), mtime, buckets)


def waveform(peaks: np.ndarray, duration_s: float, marks: list[tuple[float, str]] = ()) -> Markup:
    """Both channels as mirrored bars, a flag per (seconds, text) mark; the playhead line is moved by call.js."""
    half = WAVE_HEIGHT / 2
    scale = max(float(peaks.max()), 1e-3)
    parts = []
    for channel, (mid, cls) in enumerate(((half / 2, "customer"), (half * 1.5, "trainee"))):
        if channel >= peaks.shape[1]:
            break
        step = WAVE_WIDTH / len(peaks)
        d = " ".join(f"M{i * step:.1f} {mid - h:.1f}V{mid + h:.1f}"
                     for i, p in enumerate(peaks[:, channel]) if (h := float(p) / scale * (half / 2 - 2)) > 0.3)
        parts.append(f'<path class="wave-{cls}" d="{d}" stroke-width="{max(step * 0.7, 0.5):.2f}"/>')
    return Markup(
        f'<svg id="waveform" viewBox="0 0 {WAVE_WIDTH} {WAVE_HEIGHT}" preserveAspectRatio="none" role="img" '
        'aria-label="waveform: customer above, trainee below">'
        f'<line x1="0" x2="{WAVE_WIDTH}" y1="{half}" y2="{half}" class="wave-split"/>{"".join(parts)}{_marks(marks, duration_s)}'
        f'<line id="playhead" x1="0" x2="0" y1="0" y2="{WAVE_HEIGHT}"/></svg>'
    )


def _marks(marks: list[tuple[float, str]], duration_s: float) -> str:
    out = []
    for at_s, text in marks:
        x = min(max(at_s / max(duration_s, 1e-3), 0), 1) * WAVE_WIDTH
        out.append(f'<g class="mark" data-t="{at_s:.3f}"><title>{escape(text)}</title>'
                   f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{WAVE_HEIGHT}"/>'
                   f'<path d="M{x:.1f} 0h8l-8 8z"/></g>')
    return "".join(out)


def anger_chart(anger: list[float], max_anger: float = 10, width: int = 360, height: int = 120) -> Markup:
    """The customer's anger from the start of the call through each reply."""
    if not anger:
        return Markup('<p class="muted">No replies, so no anger curve.</p>')
    pad = 24
    xs = [pad + i * (width - 2 * pad) / max(len(anger) - 1, 1) for i in range(len(anger))]
    ys = [height - pad - min(a, max_anger) / max_anger * (height - 2 * pad) for a in anger]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{"start" if i == 0 else f"after reply {i}"}: '
                   f'{a:g}</title></circle><text x="{x:.1f}" y="{height - 6}" class="axis">{"start" if i == 0 else i}</text>'
                   for i, (x, y, a) in enumerate(zip(xs, ys, anger, strict=True)))
    top = height - pad - (height - 2 * pad)
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="customer anger across the call">'
        f'<line x1="{pad}" x2="{width - pad}" y1="{top}" y2="{top}" class="grid"/>'
        f'<text x="2" y="{top + 4}" class="axis">{max_anger:g}</text>'
        f'<line x1="{pad}" x2="{width - pad}" y1="{height - pad}" y2="{height - pad}" class="grid"/>'
        f'<text x="2" y="{height - pad + 4}" class="axis">0</text>'
        f'<polyline points="{points}" class="anger"/>{dots}</svg>'
    )


def principle_over_time(points: list[tuple[str, bool | None, bool]], width: int = 260, height: int = 54) -> Markup:
    """One small multiple: a dot per call, up when met, down when not, hollow when not judged.

    `points` holds (tooltip, met, by_trainer); a trainer's verdict gets a ring.
    """
    if not points:
        return Markup('<p class="muted">no calls</p>')
    pad, left = 8, 30
    step = (width - left - pad) / max(len(points) - 1, 1)
    y = {True: pad + 4, False: height - pad - 4, None: height / 2}
    coords = [(left + i * step, y[met]) for i, (_, met, _) in enumerate(points)]
    line = " ".join(f"{x:.1f},{yy:.1f}" for (x, yy), (_, met, _) in zip(coords, points, strict=True) if met is not None)
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{yy:.1f}" r="3.5" class="{"met" if met else "unmet" if met is False else "none"}'
        f'{" trainer" if trainer else ""}"><title>{escape(tip)}</title></circle>'
        for (x, yy), (tip, met, trainer) in zip(coords, points, strict=True)
    )
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMid meet" role="img">'
        f'<text x="0" y="{pad + 7}" class="axis">met</text><text x="0" y="{height - pad}" class="axis">not</text>'
        f'<polyline points="{line}" class="trend"/>{dots}</svg>'
    )
