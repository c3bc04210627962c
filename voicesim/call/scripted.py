"""A call with the trainee's turns from recordings: no device, no clock, the same files give the same session."""

from __future__ import annotations

import os
from collections.abc import Sequence

from voicesim.audio import Audio
from voicesim.call.rehear import Rehearer, announce
from voicesim.call.setup import CallResult, CallSetup, finish_call
from voicesim.call.turn import Reply, answer_turn
from voicesim.call.voice import customer_voice, texts
from voicesim.customer import Customer
from voicesim.liveview import LiveView
from voicesim.session import CustomerSpeech, Outcome, SessionStore, round_s
from voicesim.turns import speech_bounds


def run_scripted(setup: CallSetup, replies: Sequence[str | os.PathLike | Audio], store: SessionStore,
                 view: LiveView | None = None) -> CallResult:
    """The call with the trainee's turns from recordings; customer audio goes into the session recording.

    When the replies run out before the customer ends the call, the outcome is
    turn_limit: the script's turns are used up. The second pass hears each reply right
    after its turn, on this thread, so the same files give the same session.
    """
    from voicesim.asr import transcribe
    from voicesim.audiofile import load_audio, probe_audio

    view = view or LiveView(tty=False)
    # Check every reply's header first, so a bad file is reported before a session folder
    # exists, but decode each only when its turn comes: most calls end before the last.
    for r in replies:
        if not isinstance(r, Audio):
            probe_audio(r)
    audios = (r if isinstance(r, Audio) else load_audio(r) for r in replies)
    customer = Customer(setup.scenario, seed=setup.seed)
    announce(setup, view)
    rehearer = Rehearer(setup, background=False)
    with store.create(setup.meta("scripted")) as session:
        try:
            opening = customer.opening()
            view.customer(opening.text)
            heard = CustomerSpeech(opening.text, *session.recording.add_customer(customer_voice(setup, texts(opening)).samples))
            outcome = Outcome.TURN_LIMIT
            for index, audio in enumerate(audios, 1):
                offset = session.recording.position_s
                session.recording.add_trainee(audio.samples)
                bounds = speech_bounds(audio.samples)
                transcript = transcribe(audio, setup.lang, setup.model)
                reply = Reply(transcript, audio, offset, silent=bounds is None or not transcript.words,
                              response_delay_s=round_s(bounds[0]) if bounds else None)
                view.trainee(transcript.text)
                turn = answer_turn(setup, customer, index, heard, reply)
                reaction = turn.customer_answer
                view.turn_result(turn.scorecard)
                view.customer(reaction.text)
                heard = CustomerSpeech(reaction.text, *session.recording.add_customer(customer_voice(setup, texts(reaction)).samples))
                session.add_turn(turn)
                rehearer.submit(turn, audio)
                if reaction.ended:
                    outcome = Outcome(reaction.outcome) if reaction.outcome else outcome
                    break
        except KeyboardInterrupt:
            return finish_call(setup, session, view, Outcome.INTERRUPTED, rehearer=rehearer, wait_s=0.0)
        return finish_call(setup, session, view, outcome, rehearer=rehearer)
