"""The match stage: rules compiled once into one matcher that finds which rules an article meets.

`compile_rules(RuleSet)` validates and compiles (`checks` holds its judgement of rules as written,
for config to report with the rest); `Matcher.match(ArticleText, feed_id=...)` returns
the matching rules with their terms, actors, snippets and score; `Matcher.explain` says why a
rule does or does not match. See `text` for normalisation, `terms` for the term syntax and
`query` for the query language.
"""

from __future__ import annotations

from monitor.match.compile import compile_rules
from monitor.match.explain import Condition, Explanation
from monitor.match.matcher import ArticleText, Matcher
from monitor.match.query import parse_query
from monitor.match.terms import RuleError, term_problem
from monitor.match.text import NormalizedText, normalize

__all__ = [
    "ArticleText",
    "Condition",
    "Explanation",
    "Matcher",
    "NormalizedText",
    "RuleError",
    "compile_rules",
    "normalize",
    "parse_query",
    "term_problem",
]
