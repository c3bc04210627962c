"""What every scripts/bench_* shares: one pinned core, medians, the load, its BENCHMARKS.md section.

Import it before numpy or vosk: it re-executes the script under the project's .venv,
pins it to one core and sets the BLAS/OpenMP pools to one thread, so the figures are
per core whatever the machine has.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv"
BENCHMARKS = REPO / "BENCHMARKS.md"
BENCH_CORE = 0

# Run under the project's .venv whatever python started us.
if Path(sys.prefix).resolve() != VENV.resolve() and (VENV / "bin" / "python").exists():
    os.execv(str(VENV / "bin" / "python"), [str(VENV / "bin" / "python"), *sys.argv])

os.sched_setaffinity(0, {BENCH_CORE})
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def medians(fn: Callable[[], object], runs: int, before: Callable[[], object] | None = None) -> tuple[float, float]:
    """Median (wall, CPU) seconds of `fn` over `runs` calls; `before` runs untimed ahead of each.

    CPU time is this process's, all threads: what the work costs whatever else the machine
    runs; wall time also counts the moments the core ran someone else.
    """
    wall, cpu = [], []
    for _ in range(runs):
        if before:
            before()
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def write_section(section: str, text: str, under: str | None = None) -> None:
    """Replace the `section` heading's part of BENCHMARKS.md (up to the next heading of its level or
    above: a '## ' part holds its '### ' parts), or add it: at the end of the `under` heading's part if
    given and present, else at the end of the file."""
    doc = BENCHMARKS.read_text(encoding="utf-8") if BENCHMARKS.exists() else "# Benchmarks\n"
    start = doc.find(section)
    if start >= 0:
        end = _part_end(doc, section, start)
    else:
        parent = doc.find(under) if under else -1
        start = end = _part_end(doc, under, parent) if parent >= 0 else len(doc)
    head, rest = doc[:start].rstrip("\n"), doc[end:].lstrip("\n")
    doc = (head + "\n\n" if head else "") + text.rstrip("\n") + "\n" + ("\n" + rest if rest else "")
    tmp = BENCHMARKS.with_name(f".{BENCHMARKS.name}.{os.getpid()}.tmp")
    tmp.write_text(doc, encoding="utf-8")
    tmp.replace(BENCHMARKS)


def _part_end(doc: str, heading: str, start: int) -> int:
    """Where the part of `doc` under `heading` (found at `start`) ends: the next heading of its level or above."""
    level = len(heading) - len(heading.lstrip("#"))
    following = re.compile(rf"^#{{1,{level}}} ", re.MULTILINE).search(doc, start + len(heading))
    return following.start() if following else len(doc)
