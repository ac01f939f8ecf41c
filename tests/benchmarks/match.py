"""Benchmark: the compiled matcher against a naive loop of one regular expression per rule.

    python -m tests.benchmarks.match [--articles 1000] [--seed 7]

Articles come from the real feeds of ../shared/corpus (parsed with `parse_feed`). Rule sets of
10, 100, 1,000 and 10,000 rules are generated from the corpus's own words (so that some match):
2-6 terms each, a third with a phrase (a word pair seen in the corpus), actors mixed in (200
actors of 2-4 names each, some part of another), some `all` and `none` lists and some queries
(see `make_rule`); words found in more than 2% of the articles are not used.
The baseline compiles, per rule, one Python `re` alternation of its terms and its actors' names
with \\b boundaries (case-insensitive) and searches the article's text with each rule in turn; it
runs on fewer articles at the larger sizes (the table says on how many).
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import ParseError
from monitor.match import ArticleText, Matcher, compile_rules
from monitor.match.scan import ArticleScan
from monitor.match.text import fold, normalize
from monitor.models import ActorLists, ActorSpec, RuleSet, RuleSpec, TermLists, TermSpec
from monitor.parse import parse_feed

REPO = Path(__file__).resolve().parents[2]
CORPUS_FEEDS = REPO.parent / "shared" / "corpus" / "feeds" / "real"
SIZES = (10, 100, 1_000, 10_000)
BASELINE_ARTICLES = {10: 1000, 100: 1000, 1_000: 200, 10_000: 40}
ACTORS = 200
STOP_WORD_SHARE = 0.02
TARGET_MS = 0.3
TARGET_GROWTH = 2.0
MEASURED_MATCHES = 0.5  # matches per article below which a report's cost is not shown


def load_articles(limit: int, seed: int) -> list[ArticleText]:
    """Up to `limit` articles with some text, from every corpus feed that parses."""
    articles: list[ArticleText] = []
    for path in sorted(CORPUS_FEEDS.rglob("*")):
        if not path.is_file() or path.suffix in {".md", ".tsv"}:
            continue
        try:
            parsed = parse_feed(path.read_bytes(), feed_id="bench", url=path.as_uri())
        except ParseError:
            continue
        articles += [ArticleText.from_article(a) for a in parsed.articles if a.title]
    random.Random(seed).shuffle(articles)
    return articles[:limit]


@dataclass(frozen=True)
class Vocabulary:
    words: list[str]  # folded words of 4+ letters seen in the corpus, stop words left out
    pairs: list[str]  # word pairs seen next to each other in two articles or more
    names: list[str]  # capitalised words, as written


def vocabulary(articles: list[ArticleText]) -> Vocabulary:
    """Words to write rules with. Words in more than 2% of the articles (the, that, said, ...)
    are left out: nobody watches for those."""
    documents: Counter[str] = Counter()
    pairs: Counter[str] = Counter()
    names: Counter[str] = Counter()
    for article in articles:
        text = f"{article.title} {article.summary} {article.content}"
        folded = fold(text).split()
        documents.update({w for w in folded if len(w) >= 4 and not w.isdigit()})
        pairs.update(f"{a} {b}" for a, b in itertools.pairwise(folded) if len(a + b) > 7)
        names.update(re.findall(r"\b[A-Z][a-z]{3,}\b", text))
    common = len(articles) * STOP_WORD_SHARE
    return Vocabulary(
        words=sorted(w for w, n in documents.items() if n <= common),
        pairs=sorted(p for p, n in pairs.items() if 2 <= n <= common),
        names=sorted(w for w, n in names.items() if 2 <= n <= common),
    )


def make_actors(vocab: Vocabulary, rng: random.Random) -> tuple[ActorSpec, ...]:
    actors = []
    for i in range(ACTORS):
        names = rng.sample(vocab.names, rng.randint(2, 4))
        part_of = (f"actor{rng.randrange(i)}",) if i > 10 and rng.random() < 0.15 else ()
        actors.append(ActorSpec(f"actor{i}", "other", tuple(map(TermSpec, names)), part_of))
    return tuple(actors)


def make_rule(index: int, vocab: Vocabulary, rng: random.Random) -> RuleSpec:
    """Rules shaped like watch rules: mostly two conditions, like the example rule.

    By index modulo 20: 0-7 actors any (two actors) + keywords any, 8-11 keywords all (one
    term) + any (the rest), 12-13 keywords all (two terms), 14-15 a NEAR query, 16-17 a query
    with OR and AND NOT, 18 keywords any alone, 19 actors all (one actor) + keywords any.
    Every third rule has a phrase, every fifth a `none` term.
    """
    terms = rng.sample(vocab.words, rng.randint(2, 6))
    if index % 3 == 0:
        terms[0] = rng.choice(vocab.pairs)
    specs = tuple(TermSpec(t) for t in terms)
    none = (TermSpec(rng.choice(vocab.words)),) if index % 5 == 2 else ()
    rule_id, kind = f"rule{index}", index % 20
    actor = f"actor{rng.randrange(ACTORS)}"
    if kind <= 7 or kind == 19:
        actors = ActorLists(any=(actor, f"actor{rng.randrange(ACTORS)}"))
        actors = actors if kind <= 7 else ActorLists(all=(actor,))
        return RuleSpec(rule_id, keywords=TermLists(any=specs, none=none), actors=actors)
    if kind <= 13:
        split = 1 if kind <= 11 else 2
        keywords = TermLists(all=specs[:split], any=specs[split:], none=none)
        return RuleSpec(rule_id, keywords=keywords)
    if kind <= 15:
        return RuleSpec(rule_id, query=f'"{terms[0]}" NEAR/5 "{terms[1]}"')
    if kind <= 17:
        excluded = rng.choice(vocab.words)
        query = f'("{terms[0]}" OR "{terms[1]}") AND "{terms[-1]}" AND NOT "{excluded}"'
        return RuleSpec(rule_id, query=query)
    return RuleSpec(rule_id, keywords=TermLists(any=specs, none=none))


def rule_terms(rule: RuleSpec, actors: dict[str, ActorSpec]) -> list[str]:
    """What the baseline searches for: the rule's positive terms and its actors' names."""
    found = [t.text for t in (*rule.keywords.any, *rule.keywords.all)]
    found += re.findall(r'"([^"]+)"', rule.query or "")
    for actor_id in (*rule.actors.any, *rule.actors.all):
        found += [name.text for name in actors[actor_id].names]
    return found


def baseline_patterns(ruleset: RuleSet) -> list[re.Pattern[str]]:
    actors = {actor.id: actor for actor in ruleset.actors}
    patterns = []
    for rule in ruleset.rules:
        terms = sorted(rule_terms(rule, actors), key=len, reverse=True)
        alternation = "|".join(r"\W+".join(map(re.escape, t.split())) for t in terms)
        patterns.append(re.compile(rf"\b(?:{alternation})\b", re.IGNORECASE))
    return patterns


def time_matcher(matcher: Matcher, articles: list[ArticleText]) -> tuple[float, float, float]:
    """(ms per article with `match`, ms per article with `matching`, matches per article).

    `matching` decides which rules match without building snippets and mentions: the engine's
    own cost, apart from the report of each match. Each time is the best of three passes.
    """
    best_match = best_decide = float("inf")
    matches = 0
    for _ in range(3):
        start = time.perf_counter()
        matches = sum(len(matcher.match(a, feed_id="bench")) for a in articles)
        best_match = min(best_match, time.perf_counter() - start)
        start = time.perf_counter()
        for article in articles:
            matcher.matching(article, feed_id="bench")
        best_decide = min(best_decide, time.perf_counter() - start)
    per_article = 1000 / len(articles)
    return best_match * per_article, best_decide * per_article, matches / len(articles)


def time_scan(matcher: Matcher, articles: list[ArticleText]) -> tuple[float, float]:
    """(ms per article of the scan, ms per article of the bare automaton), best of three.

    The scan is what every article costs before any rule is looked at: each field normalised,
    the automaton run over it, the hit masks built (`ArticleScan`). The bare automaton is
    pyahocorasick's `iter` alone over the already normalised fields.
    """
    compiled = matcher._compiled  # the benchmark looks inside: these parts have no API
    texts = [
        normalize(article.field_text(field)).text
        for article in articles
        for field in compiled.fields
        if article.field_text(field)
    ]
    automata = [a for a in (compiled.folded, compiled.cased) if a is not None]
    best_scan = best_bare = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for article in articles:
            ArticleScan(compiled, article)
        best_scan = min(best_scan, time.perf_counter() - start)
        start = time.perf_counter()
        for automaton in automata:
            for text in texts:
                list(automaton.iter(text))
        best_bare = min(best_bare, time.perf_counter() - start)
    per_article = 1000 / len(articles)
    return best_scan * per_article, best_bare * per_article


def time_baseline(patterns: list[re.Pattern[str]], articles: list[ArticleText]) -> float:
    texts = [f"{a.title}\n{a.summary}\n{a.content}" for a in articles]
    start = time.perf_counter()
    for text in texts:
        _ = [p for p in patterns if p.search(text)]
    return (time.perf_counter() - start) * 1000 / len(texts)


@dataclass(frozen=True)
class Row:
    rules: int
    compile_s: float
    ms: float
    decide_ms: float
    matches: float
    scan_ms: float
    automaton_ms: float
    baseline_ms: float
    baseline_articles: int

    @property
    def report_ms(self) -> float:
        """ms per match for its report (snippets, mentions): what `match` adds to deciding."""
        return (self.ms - self.decide_ms) / self.matches if self.matches else 0.0

    @property
    def shown_report_ms(self) -> str:
        """report_ms, or "-" where there are too few matches for the difference to mean much."""
        return f"{self.report_ms:.4f}" if self.matches >= MEASURED_MATCHES else "-"


def run(articles: list[ArticleText], seed: int) -> list[Row]:
    rng = random.Random(seed)
    vocab = vocabulary(articles)
    actors = make_actors(vocab, rng)
    rows = []
    for size in SIZES:
        ruleset = RuleSet(actors=actors, rules=tuple(make_rule(i, vocab, rng) for i in range(size)))
        start = time.perf_counter()
        matcher = compile_rules(ruleset)
        compile_s = time.perf_counter() - start
        ms, decide_ms, matches = time_matcher(matcher, articles)
        scan_ms, automaton_ms = time_scan(matcher, articles)
        sample = articles[: BASELINE_ARTICLES[size]]
        baseline = time_baseline(baseline_patterns(ruleset), sample)
        times = (ms, decide_ms, matches, scan_ms, automaton_ms)
        rows.append(Row(size, compile_s, *times, baseline, len(sample)))
        print(f"  {size} rules done", file=sys.stderr, flush=True)
    return rows


def print_table(rows: list[Row], articles: int) -> bool:
    print(f"{articles} articles from {CORPUS_FEEDS}")
    print(
        f"{'rules':>6} {'compile s':>9} {'ms/article':>10} {'decide ms':>9} {'scan ms':>8} "
        f"{'bare AC':>8} {'matches':>8} {'ms/report':>9} "
        f"{'naive ms':>9} {'(on N)':>6} {'speed-up':>8}"
    )
    for r in rows:
        print(
            f"{r.rules:>6} {r.compile_s:>9.3f} {r.ms:>10.4f} {r.decide_ms:>9.4f} {r.scan_ms:>8.4f} "
            f"{r.automaton_ms:>8.4f} {r.matches:>8.2f} {r.shown_report_ms:>9} "
            f"{r.baseline_ms:>9.3f} {r.baseline_articles:>6} {r.baseline_ms / r.ms:>7.0f}x"
        )
    print("ms/article: Matcher.match (reports with snippets and mentions); decide ms: which rules")
    print("match, without the reports (Matcher.matching); scan ms: normalising the fields, the")
    print("automaton and the hit masks, before any rule (ArticleScan); bare AC: pyahocorasick's")
    print("iter alone on the normalised fields; matches: per article; ms/report: (match - decide)")
    print("per match; naive: one `re` per rule, on the first N articles.")
    last, first = rows[-1], rows[0]
    met = True
    for label, low, high in (
        ("match", first.ms, last.ms),
        ("decide", first.decide_ms, last.decide_ms),
    ):
        growth = high / low
        ok = high <= TARGET_MS and growth <= TARGET_GROWTH
        met = met and ok
        print(
            f"{label}: {high:.4f} ms/article at {last.rules} rules (target <= {TARGET_MS}), "
            f"{growth:.2f}x the cost at {first.rules} rules (target <= {TARGET_GROWTH}x): "
            + ("met" if ok else "MISSED")
        )
    floor = last.scan_ms + last.matches * last.report_ms
    print(
        f"at {last.rules} rules, the scan and the reports alone take {last.scan_ms:.4f} + "
        f"{last.matches:.2f} x {last.report_ms:.4f} = {floor:.4f} ms/article, "
        f"{floor / first.ms:.2f}x the whole cost at {first.rules} rules"
    )
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if not CORPUS_FEEDS.is_dir():
        sys.exit(f"no corpus at {CORPUS_FEEDS}")
    articles = load_articles(args.articles, args.seed)
    chars = statistics.mean(len(a.title) + len(a.summary) + len(a.content) for a in articles)
    print(f"mean article text: {chars:.0f} characters", file=sys.stderr)
    rows = run(articles, args.seed)
    return 0 if print_table(rows, len(articles)) else 1


if __name__ == "__main__":
    sys.exit(main())
