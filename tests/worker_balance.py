"""Hands test files to the pytest-xdist workers heaviest first, and files that share a costly fixture to one worker.

scripts/test runs ``-n auto --dist loadfile``: each worker takes a whole file at a time, so
module fixtures are built once. xdist's own order is by the number of tests in a file, which
put the files with a few slow tests (a real-time call, the hub's real calls) last, where one
worker ran them alone while the other had finished. Here the longest files go first and the
short ones fill in at the end, so the workers end together; and files that read one
per-process cache (``pack_calls.pack_run``, the ``desk_sessions`` fixture) run on the same
worker, which builds it once instead of each worker building it.

Only the order and the grouping change: every test runs, in its own file's order. Other
``--dist`` modes and ``-n 0`` are left alone. Refresh ``SECONDS`` from
``scripts/test --durations=0`` (setup + call + teardown summed per file) when files grow.
"""

from __future__ import annotations

import pytest

SECONDS = {
    "tests/test_packs.py": 30,
    "tests/test_rescore.py": 37,
    "tests/test_practice_headset.py": 52,
    "tests/test_second_pass_call.py": 47,
    "tests/test_hub.py": 45,
    "tests/test_practice.py": 35,
    "tests/test_live_loop.py": 37,
    "tests/test_desk.py": 10,
    "tests/test_desk_browser.py": 17,
    "tests/test_audio_path.py": 28,
    "tests/test_second_pass.py": 26,
    "tests/test_headset.py": 26,
    "tests/test_robust_process.py": 13,
    "tests/test_asr.py": 25,
    "tests/test_voice.py": 16,
    "tests/test_assessment.py": 16,
    "tests/test_wheel.py": 14,
    "tests/test_score_cli.py": 11,
    "tests/test_robust_sessions.py": 6,
    "tests/test_turns.py": 8,
    "tests/test_learned.py": 7,
    "tests/test_transcribe_cli.py": 7,
    "tests/test_tts.py": 6,
    "tests/test_robust_audio.py": 4,
}
"""Seconds each slow file takes on the 2-core CI machine under load (--durations=0); files not listed are
quick and keep xdist's order after these."""

TOGETHER = {
    "tests/test_rescore.py": "tests/test_packs.py",
    "tests/test_desk_browser.py": "tests/test_desk.py",
}
"""File -> the file whose worker it runs on: both use a cache built once per process."""


def work_unit(path: str) -> str:
    """The unit a file is scheduled in: its own, or the one of the file it shares a cache with."""
    return TOGETHER.get(path, path)


def heaviest_first(units: dict[str, dict]) -> dict[str, dict]:
    """The work units by their files' summed SECONDS, longest first (a stable sort: ties keep xdist's order)."""
    cost = {unit: 0 for unit in units}
    for path, seconds in SECONDS.items():
        if work_unit(path) in cost:
            cost[work_unit(path)] += seconds
    return dict(sorted(units.items(), key=lambda item: -cost[item[0]]))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from collections import OrderedDict

    from xdist.scheduler import LoadFileScheduling

    class HeaviestFileFirst(LoadFileScheduling):
        """xdist's loadfile, with TOGETHER's files in one unit and the queue ordered by heaviest_first."""

        _ordered = False

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(super()._split_scope(nodeid))

        def _assign_work_unit(self, node) -> None:
            # schedule() fills the whole queue before the first assignment: order it then, once.
            if not self._ordered:
                self.workqueue = OrderedDict(heaviest_first(self.workqueue))
                self._ordered = True
            super()._assign_work_unit(node)

    return HeaviestFileFirst(config, log)
