"""One answered turn, the same in scripted and live calls: score the reply, let the customer react, record it."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from voicesim.audio import Audio
from voicesim.call.setup import CallSetup
from voicesim.customer import Customer, TurnEvents
from voicesim.scorecard import Scorecard
from voicesim.session import CustomerSpeech, SilencePrompt, TraineeSpeech, TurnRecord
from voicesim.transcript import Transcript


@dataclass(frozen=True)
class Reply:
    """The trainee's side of one turn, as the call heard it."""

    transcript: Transcript
    """Word times count from offset_s."""
    audio: Audio
    offset_s: float
    """Where the reply's audio starts on the recording's clock."""
    silent: bool
    """Nothing was said: the customer reacts to silence, not to words."""
    response_delay_s: float | None = None
    """From the end of the customer's line to the trainee's first speech; None when unknown."""
    interruptions: int = 0
    """Times the trainee talked over the customer in this turn."""
    silence_prompts: tuple[SilencePrompt, ...] = ()


def answer_turn(setup: CallSetup, customer: Customer, index: int, heard: CustomerSpeech, reply: Reply) -> TurnRecord:
    """Score `reply`, let `customer` react (its state moves on), and return the turn as recorded."""
    card = score(setup, reply.transcript, reply.audio, reply.interruptions, reply.response_delay_s)
    events = TurnEvents(interrupted=reply.interruptions, silent=reply.silent, response_delay_s=reply.response_delay_s)
    reaction = customer.react(card, events)
    return TurnRecord(
        index=index,
        customer=heard,
        trainee=TraineeSpeech(reply.transcript, reply.offset_s),
        scorecard=card,
        customer_answer=reaction,
        silence_prompts=reply.silence_prompts,
        response_delay_s=reply.response_delay_s,
        interruptions=reply.interruptions,
    )


def score(setup: CallSetup, transcript: Transcript, audio: Audio | None, interruptions: int,
          delay: float | None) -> Scorecard:
    """The reply's scorecard in the call's language."""
    from voicesim.scoring import score_reply

    return score_reply(transcript, setup.pack, audio=audio, interruptions=interruptions, response_delay_s=delay,
                       judge=setup.judge)


def fork(customer: Customer) -> Customer:
    """A copy of the customer to try a reaction on; the scenario and rules are shared, not copied."""
    return copy.deepcopy(customer, {id(customer.scenario): customer.scenario, id(customer.rules): customer.rules})
