"""ASR on real speech and on Piper's trainee voice: word error rate, timings, streaming, turns."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from wer import corpus_word_error_rate, edit_distance, normalize_words, word_error_rate

from voicesim.asr import Final, Partial, Recognizer, load_model, transcribe
from voicesim.audio import Audio
from voicesim.audiofile import load_audio
from voicesim.errors import VoicesimError
from voicesim.transcript import Transcript

AGENT_REPLIES = Path(__file__).parent / "data" / "agent_replies_en.txt"

# Measured on vosk-model-small-en-us-0.15 when these tests were written; the bounds leave margin.
JFK_MAX_WER = 0.15  # measured 0.045 ("ask" heard as "as")
DIGITS_MAX_WER = 0.45  # measured 0.333 ("nine oh two one oh" heard as "nah no to i know")
PIPER_MAX_WER = 0.08  # measured 0.031 over 24 agent replies (Piper without sampling noise, Vosk without dither)

MIC_BLOCK = 320
"""Samples per chunk in the streaming tests: 20 ms, a typical PortAudio block."""


def agent_replies() -> list[str]:
    lines = AGENT_REPLIES.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def jfk(real_speech_dir: Path) -> Audio:
    return load_audio(real_speech_dir / "jfk.flac")


@pytest.fixture(scope="module")
def digits(real_speech_dir: Path) -> Audio:
    return load_audio(real_speech_dir / "vosk-digits.wav")


# Each recording is transcribed once per module: the machine is shared, Vosk is the slow part.
@pytest.fixture(scope="module")
def jfk_text(jfk: Audio, en_model) -> Transcript:
    return transcribe(jfk, model=en_model)


@pytest.fixture(scope="module")
def digits_text(digits: Audio, en_model) -> Transcript:
    return transcribe(digits, model=en_model)


def stream(rec: Recognizer, audio: Audio, block: int = MIC_BLOCK) -> list[Partial | Final]:
    pcm = audio.to_int16()
    events = [rec.feed(pcm[i : i + block]) for i in range(0, len(pcm), block)]
    return [e for e in events if e is not None]


@pytest.fixture(scope="module")
def jfk_streamed(jfk: Audio, en_model) -> tuple[list[Partial | Final], Transcript]:
    """jfk fed in 20 ms microphone blocks: the events on the way, then the finished turn."""
    rec = Recognizer(en_model)
    events = stream(rec, jfk)
    return events, rec.finish()


def words_of(transcript: Transcript) -> list[str]:
    return [w.word for w in transcript.words]


def starts_of(transcript: Transcript) -> list[float]:
    return [w.start_s for w in transcript.words]


def assert_timings_sane(transcript: Transcript) -> None:
    assert transcript.words and all(w.start_s is not None for w in transcript.words)
    ends = 0.0
    for w in transcript.words:
        assert 0.0 <= w.start_s <= w.end_s <= transcript.duration_s, w
        assert w.start_s >= ends - 1e-9, f"{w} starts before the previous word ended ({ends})"
        assert 0.0 <= w.conf <= 1.0
        ends = w.end_s


# --- real human speech ---------------------------------------------------------------


def test_jfk_word_error_rate(jfk_text: Transcript, real_speech_references: dict[str, str]) -> None:
    assert word_error_rate(real_speech_references["jfk.flac"], jfk_text.text) <= JFK_MAX_WER


def test_digits_word_error_rate(digits_text: Transcript, real_speech_references: dict[str, str]) -> None:
    assert word_error_rate(real_speech_references["vosk-digits.wav"], digits_text.text) <= DIGITS_MAX_WER


@pytest.mark.parametrize("name", ["jfk", "digits"])
def test_word_timings_are_monotonic_and_inside_the_audio(name: str, request) -> None:
    audio, result = request.getfixturevalue(name), request.getfixturevalue(f"{name}_text")
    assert result.duration_s == pytest.approx(audio.duration_s, abs=0.001)
    assert_timings_sane(result)


def test_same_audio_gives_identical_transcript(digits: Audio, digits_text: Transcript, en_model) -> None:
    assert transcribe(digits, model=en_model) == digits_text


def test_a_used_recognizer_gives_what_a_new_one_gives(jfk: Audio, digits: Audio, jfk_text, en_model) -> None:
    """Vosk recognizers are pooled so their decoding graph stays built; the words and times must not notice."""
    from voicesim import asr

    asr._POOL._idle.pop(en_model, None)  # the next transcription starts from a new Vosk recognizer
    fresh = transcribe(jfk, model=en_model)
    [slot] = asr._POOL._idle[en_model]
    transcribe(digits, model=en_model)
    abandoned = Recognizer(en_model, partials=False)
    abandoned.feed(digits.to_int16()[: len(digits.samples) // 2])
    del abandoned  # dropped mid-turn: its half turn must not leak into the next one
    used = transcribe(jfk, model=en_model)
    assert asr._POOL._idle[en_model] == [slot] and slot.fed > 2 * len(jfk.samples)
    assert fresh == used == jfk_text


def test_silence_gives_no_words(en_model) -> None:
    result = transcribe(Audio.silence(2.0), model=en_model)
    assert (result.text, result.words, result.duration_s) == ("", (), 2.0)


# --- streaming -----------------------------------------------------------------------


def test_streaming_small_chunks_gives_the_same_words_as_whole_file(jfk_streamed, jfk_text: Transcript) -> None:
    _, live = jfk_streamed
    assert words_of(live) == words_of(jfk_text)
    assert starts_of(live) == pytest.approx(starts_of(jfk_text), abs=0.03)
    assert live.duration_s == jfk_text.duration_s


def test_partials_grow_into_the_final_words(jfk_streamed) -> None:
    events, live = jfk_streamed
    partials = [e for e in events if isinstance(e, Partial)]
    assert len(partials) >= 5
    last = partials[-1].text.split()
    assert last == live.text.split()[: len(last)]
    assert all(w.start_s is not None and w.start_s <= w.end_s for p in partials for w in p.words)


def test_closed_segments_are_the_start_of_the_turn(jfk_streamed) -> None:
    events, live = jfk_streamed
    closed = [w for e in events if isinstance(e, Final) for w in e.transcript.words]
    assert closed, "Vosk closed no segment at jfk's pauses"
    assert closed == list(live.words[: len(closed)])


def feed_all(rec: Recognizer, audio: Audio) -> None:
    """Feed in quarter-second chunks, as transcribe() does, without asking for partials."""
    pcm = audio.to_int16()
    for i in range(0, len(pcm), 4000):
        rec.feed(pcm[i : i + 4000])


def test_second_turn_times_count_from_its_own_start(jfk: Audio, digits: Audio, jfk_text, en_model) -> None:
    rec = Recognizer(en_model, partials=False)
    feed_all(rec, digits)
    rec.finish()
    feed_all(rec, jfk)
    second = rec.finish()
    assert words_of(second) == words_of(jfk_text)
    assert starts_of(second) == pytest.approx(starts_of(jfk_text), abs=0.03)
    assert second.duration_s == jfk_text.duration_s
    assert_timings_sane(second)


def test_a_turn_closed_mid_word_does_not_leak_into_the_next(jfk: Audio, digits: Audio, digits_text, en_model) -> None:
    rec = Recognizer(en_model, partials=False)
    # Half of jfk ends right as Vosk closes a segment ("as not"), with the start of the next
    # word still undecoded: the case where a plain FinalResult would leak it into the next turn.
    feed_all(rec, Audio(jfk.samples[: len(jfk.samples) // 2]))
    rec.finish()
    feed_all(rec, digits)
    next_turn = rec.finish()
    assert words_of(next_turn) == words_of(digits_text)
    assert starts_of(next_turn) == pytest.approx(starts_of(digits_text), abs=0.03)
    assert next_turn.duration_s == pytest.approx(digits.duration_s, abs=0.001)


def test_feed_takes_int16_float_and_bytes_alike(digits: Audio, en_model) -> None:
    first_words = Audio(digits.samples[: 3 * digits.sample_rate])
    texts = []
    for convert in (lambda a: a.to_int16(), lambda a: a.samples, lambda a: a.to_int16().tobytes()):
        rec = Recognizer(en_model, partials=False)
        rec.feed(convert(first_words))
        texts.append(rec.finish().text)
    assert texts[0] and texts.count(texts[0]) == 3


def test_feed_refuses_odd_byte_chunks(en_model) -> None:
    with pytest.raises(ValueError, match="odd number of bytes"):
        Recognizer(en_model).feed(b"\x00\x01\x02")


# --- Piper trainee voice round trip ----------------------------------------------------


@pytest.mark.slow
def test_piper_agent_replies_round_trip(en_model) -> None:
    from trainee_voice import speak

    replies = agent_replies()
    assert len(replies) >= 20
    pairs = [(text, transcribe(speak(text), model=en_model).text) for text in replies]
    wer = corpus_word_error_rate(pairs)
    print(f"Piper round trip: WER {wer:.3f} over {len(replies)} replies")
    assert wer <= PIPER_MAX_WER, [p for p in pairs if word_error_rate(*p) > 0]


# --- model loading ------------------------------------------------------------------


def test_load_model_is_cached_per_path(en_model) -> None:
    from voicesim.models import resolve_model_path

    path = resolve_model_path("en")
    assert load_model(path) is load_model(str(path)) is en_model


def test_load_model_names_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(VoicesimError, match=str(tmp_path / "gone")):
        load_model(tmp_path / "gone")


def german_model_path() -> Path:
    """VOSK_MODEL_PATH_DE, else the installed German model; skips when there is neither."""
    from voicesim.models import resolve_model_path

    if os.environ.get("VOSK_MODEL_PATH_DE"):
        return Path(os.environ["VOSK_MODEL_PATH_DE"])
    try:
        return resolve_model_path("de")
    except VoicesimError as exc:
        pytest.skip(f"no German Vosk model (set VOSK_MODEL_PATH_DE or run `voicesim models fetch de`): {exc}")


@pytest.mark.german_model
def test_german_reply_is_transcribed_with_the_german_model(tmp_path: Path) -> None:
    model = load_model(german_model_path())
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.fail("espeak-ng is not installed; scripts/setup installs it")
    text = "es tut mir leid das war unser fehler ich schicke ihnen eine schriftliche bestätigung"
    wav = tmp_path / "de.wav"
    subprocess.run([espeak, "-v", "de", "-s", "140", "-w", str(wav), text], check=True)
    result = transcribe(load_audio(wav), lang="de", model=model)
    # A loose bound, not a measured one: no German model could be installed where this was written.
    assert word_error_rate(text, result.text) <= 0.5, result.text


# --- no feature dither: nothing random, whatever else the process runs ------------------


def test_transcribe_json_is_byte_identical_while_another_thread_draws_from_libc_rand(
        real_speech_dir: Path, en_model) -> None:
    """onnxruntime (Piper), PortAudio and the desk run threads beside Vosk; a shared rand() must not reach it."""
    from cli_runner import run_cli

    libc = ctypes.CDLL(None)
    libc.rand.restype = ctypes.c_int

    def transcribe_beside_rand() -> str:
        stop = threading.Event()
        calls = [0]

        def draw() -> None:
            while not stop.is_set():
                for _ in range(1000):
                    libc.rand()
                calls[0] += 1000

        drawer = threading.Thread(target=draw, daemon=True)
        drawer.start()
        try:
            proc = run_cli("transcribe", str(real_speech_dir / "jfk.flac"), "--json")
        finally:
            stop.set()
            drawer.join()
        assert proc.returncode == 0, proc.stderr
        assert calls[0] > 0, "the rand() thread never ran during the transcription"
        return proc.stdout

    first, second = transcribe_beside_rand(), transcribe_beside_rand()
    assert first == second
    assert json.loads(first)["words"]


@pytest.fixture
def user_model(tmp_path: Path) -> Path:
    """A model folder of links to the installed English model's files, with its own conf/ to edit."""
    from voicesim.models import resolve_model_path

    real = resolve_model_path("en")
    folder = tmp_path / "user-model"
    for path in real.rglob("*"):
        if path.is_file():
            out = folder / path.relative_to(real)
            out.parent.mkdir(parents=True, exist_ok=True)
            if path.parent.name == "conf":
                shutil.copy(path, out)
            else:
                out.symlink_to(path)
    return folder


def snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every entry under `folder` with its mode, mtime and (for a small file) contents."""
    return {
        p.relative_to(folder).as_posix(): (p.lstat().st_mode, p.lstat().st_mtime_ns,
                                           p.read_bytes() if p.is_file() and p.stat().st_size < 4096 else b"")
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def overlay_store(user_model: Path, tmp_path: Path, monkeypatch) -> Path:
    """An empty model store for the overlays (set after user_model has found the installed model)."""
    store = tmp_path / "store"
    monkeypatch.setenv("VOICESIM_MODELS_DIR", str(store))
    return store


def test_the_loaded_model_reads_a_copy_of_mfcc_conf_with_dither_0(user_model: Path, overlay_store: Path) -> None:
    from voicesim.models import dither_free

    folder = user_model
    view = dither_free(folder)
    assert view.parent == overlay_store / ".overlays"
    conf = (view / "conf/mfcc.conf").read_text(encoding="utf-8")
    assert conf == (folder / "conf/mfcc.conf").read_text(encoding="utf-8").rstrip("\n") + "\n--dither=0\n"
    assert not (view / "conf/mfcc.conf").is_symlink()
    linked = sorted(p.relative_to(view).as_posix() for p in view.rglob("*") if p.is_symlink())
    originals = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert linked == [name for name in originals if name != "conf/mfcc.conf"]
    assert all((view / name).resolve() == (folder / name).resolve() for name in linked)


def test_a_changed_model_gets_a_new_overlay_and_the_old_one_goes(user_model: Path, overlay_store: Path) -> None:
    from voicesim.models import dither_free

    folder = user_model
    first = dither_free(folder)
    assert dither_free(folder) == first  # unchanged: the same view, not rebuilt
    conf = folder / "conf/mfcc.conf"
    conf.write_text(conf.read_text(encoding="utf-8") + "--dither=1.0\n", encoding="utf-8")
    second = dither_free(folder)
    assert second != first and not first.exists()
    assert (second / "conf/mfcc.conf").read_text(encoding="utf-8").endswith("--dither=1.0\n--dither=0\n")
    (folder / "am" / "extra.txt").write_text("a file the model gained", encoding="utf-8")
    third = dither_free(folder)
    assert third not in (first, second) and not second.exists() and (third / "am/extra.txt").is_symlink()


def test_a_deleted_overlay_is_recreated(user_model: Path, overlay_store: Path) -> None:
    from voicesim.models import dither_free

    folder = user_model
    view = dither_free(folder)
    shutil.rmtree(overlay_store / ".overlays")
    assert dither_free(folder) == view
    assert (view / "conf/mfcc.conf").read_text(encoding="utf-8").endswith("--dither=0\n")


def test_a_read_only_model_folder_loads_and_stays_untouched(user_model: Path, overlay_store: Path, digits: Audio,
                                                           digits_text: Transcript) -> None:
    folder = user_model
    dirs = [folder, *(p for p in folder.rglob("*") if p.is_dir() and not p.is_symlink())]
    for path in (*folder.rglob("*"), folder):
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~0o222)
    before = snapshot(folder)
    try:
        model = load_model(folder)
        assert transcribe(digits, model=model) == digits_text
        assert snapshot(folder) == before
    finally:
        for path in dirs:
            path.chmod(0o755)


def test_a_store_that_cannot_be_written_puts_the_overlay_in_a_private_temp_folder(
        user_model: Path, overlay_store: Path, tmp_path: Path, monkeypatch) -> None:
    import tempfile

    from voicesim.models import dither_free

    overlay_store.write_text("a file where the store folder should be", encoding="utf-8")  # mkdir fails, even for root
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    view = dither_free(user_model)
    assert view.parent.parent == tmp_path / "tmp" / f"voicesim-{os.getuid()}"
    assert (view.parent.parent.stat().st_mode & 0o777) == 0o700
    assert (view / "conf/mfcc.conf").read_text(encoding="utf-8").endswith("--dither=0\n")


@pytest.mark.parametrize(("layout", "conf"), [
    ({"am/final.mdl": "", "conf/model.conf": "", "conf/fbank.conf": "--num-mel-bins=80"}, "conf/fbank.conf"),
    ({"final.mdl": "", "mfcc.conf": "--use-energy=false\r\n"}, "mfcc.conf"),  # Vosk's old layout
])
def test_the_overlay_edits_the_feature_config_vosk_reads_in_each_layout(
        layout: dict[str, str], conf: str, tmp_path: Path, overlay_store: Path) -> None:
    from voicesim.models import dither_free

    folder = tmp_path / "layout"
    for name, text in layout.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    view = dither_free(folder)
    assert (view / conf).read_text(encoding="utf-8") == layout[conf].rstrip("\r\n") + "\n--dither=0\n"
    assert all((view / name).is_symlink() for name in layout if name != conf)


# --- word error rate (pure) -----------------------------------------------------------


def test_normalize_words_drops_case_and_punctuation_but_keeps_contractions() -> None:
    assert normalize_words("I\u2019m SORRY, that's our mistake!") == ["i'm", "sorry", "that's", "our", "mistake"]


@pytest.mark.parametrize(
    ("ref", "hyp", "edits"),
    [
        ("a b c", "a b c", 0),
        ("a b c", "a x c", 1),
        ("a b c", "a c", 1),
        ("a b c", "a b c d", 1),
        ("a b c", "", 3),
        ("", "a b", 2),
        ("one nine oh two", "one nah no to i", 4),
    ],
)
def test_edit_distance_counts_word_edits(ref: str, hyp: str, edits: int) -> None:
    assert edit_distance(ref.split(), hyp.split()) == edits


def test_word_error_rate_is_edits_over_reference_words() -> None:
    assert word_error_rate("Ask not what your country can do for you.", "as not what your country can do for you") == (
        pytest.approx(1 / 9)
    )
    assert word_error_rate("", "") == 0.0
    assert word_error_rate("", "noise") == 1.0


def test_corpus_wer_weighs_by_reference_length() -> None:
    pairs = [("a b c d e f g h i j", "a b c d e f g h i j"), ("k l", "x")]
    assert corpus_word_error_rate(pairs) == pytest.approx(2 / 12)
    assert np.mean([word_error_rate(*p) for p in pairs]) != pytest.approx(2 / 12)


def test_a_hang_up_while_a_recognizer_is_built_is_raised_after_it(en_model, monkeypatch):
    """SIGTERM half-way through vosk's __init__ used to leave a recognizer without its
    C handle, whose __del__ printed a traceback after the call's clean last line."""
    import signal

    import vosk

    from voicesim.asr import _POOL

    class HungUp(Exception):
        pass

    def hang_up(*_):
        raise HungUp

    built = vosk.KaldiRecognizer.__init__

    def signalled_init(self, *args):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while the recognizer is being built
        built(self, *args)

    previous = signal.signal(signal.SIGTERM, hang_up)
    monkeypatch.setattr(vosk.KaldiRecognizer, "__init__", signalled_init)
    try:
        with pytest.raises(HungUp) as raised:
            _POOL.take(en_model, 16000)
    finally:
        signal.signal(signal.SIGTERM, previous)
    # Raised from the line that hands the signal back, not from inside vosk's __init__.
    assert raised.traceback[-1].name == "hang_up"
    assert raised.traceback[-2].name == "_stop_signals_held"
