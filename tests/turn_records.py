"""Typed turn records for session-store tests: a reply scored for real, a real customer's reaction."""

from __future__ import annotations

import functools

from voicesim.session import CustomerSpeech, TraineeSpeech, TurnRecord


@functools.lru_cache(maxsize=64)
def typed_turn(index: int = 1, said: str = "i am sorry") -> TurnRecord:
    """A turn as a call records it (frozen, so one value can serve every test that asks for it)."""
    from voicesim.customer import Customer
    from voicesim.language import load_language
    from voicesim.scenario import find_scenario
    from voicesim.scoring import score_reply
    from voicesim.transcript import Transcript

    transcript = Transcript.from_text(said)
    card = score_reply(transcript, load_language("en"))
    reaction = Customer(find_scenario("late-delivery", "en")).react(card)
    return TurnRecord(index, CustomerSpeech("Where is it?", 0.0, 1.5), TraineeSpeech(transcript, 2.0), card, reaction)
