"""The practice call: customer, voice, line, ASR, scoring and session, turn by turn.

Two ways to run the same call:

* :func:`run_live` on any :class:`~voicesim.headset.Line` that streams a microphone
  (the :class:`~voicesim.headset.Headset`): turn-taking by voice (:mod:`voicesim.turns`),
  barge-in, silence prompts, live partial transcript.
* :func:`run_scripted` with the trainee's replies as recordings, one per turn: no
  device, no clock, the same files give the same session.json (apart from timestamps).

>>> from voicesim.call import CallSetup, run_scripted
>>> from voicesim.session import SessionStore
>>> setup = CallSetup.prepare("late-delivery", lang="en", seed=1, trainee="sam")   # doctest: +SKIP
>>> result = run_scripted(setup, ["reply1.wav", "reply2.wav"], SessionStore("/tmp/s"))  # doctest: +SKIP
>>> result.outcome, result.turns                                                    # doctest: +SKIP
(<Outcome.RESOLVED: 'resolved'>, 2)

The modules, in the order a call uses them:

========== ==========================================================================
setup      CallSetup (scenario, model, language pack) and CallResult; finishing a call
voice      the customer's lines rendered as heard on the phone
turn       one answered turn, shared by both modes: score -> customer reacts -> TurnRecord
scripted   run_scripted: replies from files
mic        Microphone: where the live loop hears the trainee, and its clock
live       LiveCall / run_live: turn-taking on a streaming line
prefetch   Prefetcher: the customer's likely next lines rendered in the background
rehear     Rehearer: each reply heard again by Whisper for the turn's final words (second pass)
========== ==========================================================================
"""

from voicesim.call.live import LiveCall, run_live
from voicesim.call.scripted import run_scripted
from voicesim.call.setup import CallResult, CallSetup

__all__ = ["CallResult", "CallSetup", "LiveCall", "run_live", "run_scripted"]
