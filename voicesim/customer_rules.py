"""The customer's anger rule table (data/customer_rules.toml), and the anger levels and call stages it names.

Its own module because both the scenario loader (which checks a scenario's anger and
lines against it) and the customer (who follows it) need it.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from voicesim.errors import VoicesimError

ANGER_LEVELS = ("calm", "annoyed", "angry")
"""Anger levels a scenario writes lines for, lowest first; their ranges are in data/customer_rules.toml."""
STAGES = ("opening", "details", "solution", "closing")
"""Stages of a call, in order."""
RULES_FILE = "customer_rules.toml"
DELTAS = (
    "apology", "understanding", "targeted_question", "written_agreement", "proposal",
    "not_personal_failed", "calm_tone_failed", "barge_in", "silence", "slow_response", "no_progress",
)  # fmt: skip
"""Rules of the table's [deltas], in the order they are applied and reported."""


@dataclass(frozen=True)
class CustomerRules:
    """The anger rule table (data/customer_rules.toml)."""

    max_anger: int
    """Anger reaching this ends the call: the customer hangs up."""
    low_anger: int
    """At or below this, an agreement in the closing stage resolves the call."""
    default_turn_limit: int
    max_calming_per_turn: int
    slow_response_s: float
    levels: dict[str, int]
    """Anger level name -> lowest anger of that level."""
    deltas: dict[str, int]
    """Rule name (see DELTAS) -> change of anger when it fires."""
    question_advances_until: str
    agreement_from: str
    clear_solution_in: str
    proposals: dict[str, tuple[str, ...]]
    """Language -> phrases that make a reply a concrete offer ("would that work for you")."""

    def level(self, anger: int) -> str:
        """The anger level whose lines the customer speaks at this anger."""
        return max((low, name) for name, low in self.levels.items() if low <= anger)[1]


def read_rule_file(path: str | None, name: str, what: str) -> tuple[Any, dict[str, Any]]:
    """(source, parsed table) of ``path`` or the packaged data/<name>; VoicesimError says which file failed."""
    source = Path(path) if path else resources.files("voicesim") / "data" / name
    try:
        return source, tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise VoicesimError(f"cannot read {what} {source}: {exc}") from exc


@functools.lru_cache(maxsize=4)
def load_rules(path: str | None = None) -> CustomerRules:
    """The anger rule table; ``path`` defaults to the packaged data/customer_rules.toml."""
    source, data = read_rule_file(path, RULES_FILE, "the customer rule table")
    try:
        return _rules_from(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise VoicesimError(f"customer rule table {source} is incomplete or wrong: {exc}; compare it with scenarios/README.md") from exc


def _rules_from(data: dict[str, Any]) -> CustomerRules:
    levels = {name: int(data["levels"][name]) for name in ANGER_LEVELS}
    if levels[ANGER_LEVELS[0]] != 0 or list(levels.values()) != sorted(set(levels.values())):
        raise ValueError("[levels] must start at 0 and rise strictly")
    deltas = {rule: int(data["deltas"][rule]) for rule in DELTAS}
    stages = {key: str(data["stages"][key]) for key in ("question_advances_until", "agreement_from", "clear_solution_in")}
    for key, stage in stages.items():
        if stage not in STAGES:
            raise ValueError(f"stages.{key} = '{stage}' is not one of {', '.join(STAGES)}")
    return CustomerRules(
        max_anger=int(data["max_anger"]),
        low_anger=int(data["low_anger"]),
        default_turn_limit=int(data["default_turn_limit"]),
        max_calming_per_turn=int(data["max_calming_per_turn"]),
        slow_response_s=float(data["slow_response_s"]),
        levels=levels,
        deltas=deltas,
        proposals={lang: tuple(p.lower() for p in phrases) for lang, phrases in data.get("proposals", {}).items()},
        **stages,
    )
