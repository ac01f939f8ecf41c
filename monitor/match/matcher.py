"""The compiled matcher: one scan of an article's fields, then only the candidate rules evaluated.

`ArticleScan` (`scan.py`) finds which literals hit where; `candidates` picks the rules whose two
triggers both hit; `evaluate.py` checks each candidate's conditions and builds the report of a
rule that holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from monitor.match.compiled import FIELD_NAMES, CompiledRule, CompiledRules
from monitor.match.evaluate import plain_score, report, rule_holds, rule_score
from monitor.match.scan import ArticleScan, ArticleText
from monitor.match.terms import RuleError
from monitor.models import RuleMatch

if TYPE_CHECKING:
    from monitor.match.explain import Explanation

__all__ = ["ArticleText", "Matcher"]


class Matcher:
    """Every rule of a configuration, compiled: `match` an article, `explain` one rule on it."""

    def __init__(self, compiled: CompiledRules) -> None:
        self._compiled = compiled

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self._compiled.rules)

    def rule_feeds(self, rule_id: str) -> tuple[str, ...]:
        """The `feeds:` of a rule as written (ids and `tag:NAME`); empty when it watches every
        feed. Raises RuleError for a rule id the configuration does not have."""
        index = self._compiled.by_id.get(rule_id)
        if index is None:
            raise RuleError(f'unknown rule "{rule_id}"')
        return self._compiled.rules[index].feeds

    def watches(self, rule_id: str, *, feed_id: str, feed_tags: Sequence[str] = ()) -> bool:
        """Whether a rule's `feeds:` let it match articles of this feed."""
        index = self._compiled.by_id.get(rule_id)
        if index is None:
            raise RuleError(f'unknown rule "{rule_id}"')
        return self._compiled.rules[index].feed_allowed(feed_id, feed_tags)

    def __len__(self) -> int:
        return len(self._compiled.rules)

    def __repr__(self) -> str:
        return f"<Matcher {len(self)} rules, {len(self._compiled.literals)} literals>"

    def match(
        self, article: ArticleText, *, feed_id: str | None, feed_tags: Sequence[str] = ()
    ) -> list[RuleMatch]:
        """The rules the article matches, in rule order, with what matched and the score.

        `feed_id` None: an article from no feed in particular, whose rules' `feeds:` are not
        checked (`test-rule` without `--feed`)."""
        scan, found = self._decide(article, feed_id, feed_tags)
        return [report(rule, scan, score) for rule, score in found]

    def matching(
        self, article: ArticleText, *, feed_id: str | None, feed_tags: Sequence[str] = ()
    ) -> list[str]:
        """The ids of the rules `match` would return, without building snippets and mentions."""
        return [rule.id for rule, _ in self._decide(article, feed_id, feed_tags)[1]]

    def _decide(
        self, article: ArticleText, feed_id: str | None, feed_tags: Sequence[str]
    ) -> tuple[ArticleScan, list[tuple[CompiledRule, float]]]:
        scan = ArticleScan(self._compiled, article)
        rules = self._compiled.rules
        fast = not scan.hidden  # the plain checks assume every hit of a name counts
        found: list[tuple[CompiledRule, float]] = []
        for index in scan.candidates():
            rule = rules[index]
            if rule.feeds and feed_id is not None and not rule.feed_allowed(feed_id, feed_tags):
                continue
            if rule.plain is not None and fast:
                score = plain_score(rule, scan)
                if score is None:
                    continue
            elif rule_holds(rule, scan):
                score = rule_score(rule, scan)
            else:
                continue
            if rule.min_score is None or score >= rule.min_score:
                found.append((rule, score))
        return scan, found

    def explain(
        self,
        article: ArticleText,
        rule_id: str,
        *,
        feed_id: str | None,
        feed_tags: Sequence[str] = (),
    ) -> Explanation:
        """Which conditions of one rule hold on the article and which fail, in words;
        `feed_id` None leaves `feeds:` unchecked, as `match` does.

        Raises RuleError for a rule id the configuration does not have.
        """
        from monitor.match.explain import explain_rule

        index = self._compiled.by_id.get(rule_id)
        if index is None:
            raise RuleError(f'unknown rule "{rule_id}"')
        scan = ArticleScan(self._compiled, article, range(len(FIELD_NAMES)))
        return explain_rule(self._compiled.rules[index], scan, feed_id, tuple(feed_tags))
