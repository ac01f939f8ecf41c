"""What the match stage says about rules as written, for config to report with its own problems.

Config does not import match: the wiring (`cli.common.load`, the service's reload) passes this
module to `load_config` as its `RuleChecks`. The compiler makes the same checks, so that a rule
set built without config gets the same message for the same fault.
"""

from __future__ import annotations

from monitor.match.terms import term_problem
from monitor.models import ActorLists, TermLists

__all__ = ["NO_CONDITION", "condition_problem", "term_problem"]

NO_CONDITION = "the rule has no condition: give keywords, actors or a query"


def condition_problem(keywords: TermLists, actors: ActorLists, query: str | None) -> str | None:
    """Why a rule with these lists and query can match nothing at all, or None."""
    if query is None and not keywords and not actors:
        return NO_CONDITION
    return None
