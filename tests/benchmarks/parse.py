"""Benchmark: parse_feed's fast path (lxml) against feedparser, on the real feeds of the corpus.

    python -m tests.benchmarks.parse [--repeat 3]

Reads every file of ../shared/corpus/feeds/real (RSS, Atom and JSON Feed) and prints MB, seconds
and MB/s, each the best of `--repeat` runs over the same bodies in the same process, for:
the fast path alone on the files it accepts; parse_feed end to end over all files (fast path,
feedparser for what it declines, jsonfeed for JSON); the feedparser path (parse_syndication, and
jsonfeed for JSON) over all files, the baseline; and parse_feed's speed-up over the baseline.
Also where parse_feed's time goes on the accepted files: lxml, the field rules, and building
the Articles (normalize's text extraction, canonical URLs and hashes, shared with feedparser's
path); and "incremental (one new item)": the poll benchmark's RSS templates with one new item
each, parsed in full and with the memo of the body before (ms per feed, memo bytes).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import ParseError
from monitor.parse import parse_feed
from monitor.parse.fast import _parse_xml, _xml_body, parse_fast
from monitor.parse.feed_reader import FeedReader
from monitor.parse.jsonfeed import is_json_feed, parse_json_feed
from monitor.parse.syndication import parse_syndication, parsed_feed

REPO = Path(__file__).resolve().parents[2]
CORPUS_FEEDS = REPO.parent / "shared" / "corpus" / "feeds" / "real"
URL = "https://example.com/feed"
TARGET_MB_PER_S = 30.0


@dataclass(frozen=True)
class Timing:
    label: str
    files: int
    size: int  # bytes
    seconds: float

    @property
    def mb(self) -> float:
        return self.size / 1e6

    @property
    def mb_per_s(self) -> float:
        return self.mb / self.seconds if self.seconds else float("inf")


def load_bodies() -> list[bytes]:
    paths = sorted(p for p in CORPUS_FEEDS.rglob("*") if p.is_file())
    return [p.read_bytes() for p in paths if p.suffix not in {".md", ".tsv"}]


def best_time(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def each(bodies: list[bytes], parse: Callable[[bytes], object]) -> Callable[[], None]:
    def run() -> None:
        for body in bodies:
            with contextlib.suppress(ParseError):
                parse(body)

    return run


def baseline(body: bytes) -> object:
    """The path parse_feed took before the fast path: feedparser for RSS/Atom."""
    if is_json_feed(body, None):
        return parse_json_feed(body, feed_id="bench", url=URL)
    return parse_syndication(body, feed_id="bench", url=URL, content_type=None)


def fast_only(body: bytes) -> object:
    return parse_fast(body, feed_id="bench", url=URL)


def end_to_end(body: bytes) -> object:
    return parse_feed(body, feed_id="bench", url=URL)


def lxml_only(body: bytes) -> object:
    """The fast path's gate and XML parse, without its field rules or the Articles."""
    gated = _xml_body(body)
    return _parse_xml(gated[0]) if gated is not None else None


def measure(
    label: str, bodies: list[bytes], parse: Callable[[bytes], object], repeat: int
) -> Timing:
    seconds = best_time(each(bodies, parse), repeat)
    return Timing(label, len(bodies), sum(map(len, bodies)), seconds)


def fast_path_stages(accepted: list[bytes], repeat: int) -> list[Timing]:
    """The fast path's field rules, then the Articles built from their result, timed apart."""
    parsed = []
    for body in accepted:
        gated = _xml_body(body)
        assert gated is not None
        parsed.append(_parse_xml(gated[0]))
    readers: list[FeedReader] = []

    def read() -> None:
        readers.clear()
        for root, declarations in parsed:
            reader = FeedReader(URL, declarations)
            reader.read(root)
            readers.append(reader)

    def build() -> None:
        for r in readers:
            result = {"feed": r.feed, "entries": r.entries}
            parsed_feed(result, r.version, r.entries, None, feed_id="bench", url=URL)

    size = sum(map(len, accepted))
    return [
        Timing("  its field rules", len(accepted), size, best_time(read, repeat)),
        Timing("  its Articles (normalize)", len(accepted), size, best_time(build, repeat)),
    ]


def incremental_one_new_item(repeat: int) -> list[str]:
    """The RSS templates of the poll benchmark, each with one new item: parse_feed in full, and
    with the memo of the body before the item (`monitor.parse.incremental`)."""
    from tests.benchmarks.poll import feed_templates, with_new_item

    templates = feed_templates()
    memos = [parse_feed(body, feed_id="bench", url=URL).item_memo for body in templates]
    edited = [with_new_item(body, n, 1) for n, body in enumerate(templates)]
    pairs = list(zip(edited, memos, strict=True))

    def full() -> None:
        for body in edited:
            parse_feed(body, feed_id="bench", url=URL)

    def incremental() -> None:
        for body, memo in pairs:
            parse_feed(body, feed_id="bench", url=URL, memo=memo)

    def incremental_with_memo() -> None:
        for body, memo in pairs:
            if memo is not None:
                parse_feed(body, feed_id="bench", url=URL, memo=memo)

    results = [parse_feed(b, feed_id="bench", url=URL, memo=m) for b, m in pairs]
    skipped, articles = sum(r.skipped_items for r in results), sum(len(r.articles) for r in results)
    with_memo = [len(m) for m in memos if m is not None]
    count = len(templates)
    full_ms = best_time(full, repeat) / count * 1e3
    incremental_ms = best_time(incremental, repeat) / count * 1e3
    with_memo_ms = best_time(incremental_with_memo, repeat) / len(with_memo) * 1e3
    return [
        f"incremental (one new item), {count} RSS templates, ms per feed (best of {repeat}):",
        f"  full parse_feed {full_ms:.2f} ms, with the memo {incremental_ms:.2f} ms "
        f"({full_ms / incremental_ms:.1f}x); {with_memo_ms:.2f} ms on the feeds with a memo",
        f"  memo for {len(with_memo)}/{count} feeds, {sum(with_memo) / len(with_memo):.0f} bytes "
        f"on average (max {max(with_memo)}); items skipped "
        f"{skipped}, articles {articles}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measure (best kept)")
    args = parser.parse_args()
    bodies = load_bodies()
    xml = [b for b in bodies if not is_json_feed(b, None)]
    accepted = [b for b in xml if fast_only(b) is not None]
    json = [b for b in bodies if is_json_feed(b, None)]
    timings = [
        measure("fast path, accepted files", accepted, fast_only, args.repeat),
        measure("  its checks and lxml", accepted, lxml_only, args.repeat),
        *fast_path_stages(accepted, args.repeat),
        measure("parse_feed, all files", bodies, end_to_end, args.repeat),
        measure("  its JSON Feed files", json, end_to_end, args.repeat),
        measure("feedparser path, all files", bodies, baseline, args.repeat),
        measure("parse_feed, RSS/Atom files", xml, end_to_end, args.repeat),
        measure("feedparser, RSS/Atom files", xml, baseline, args.repeat),
    ]
    print(f"corpus: {CORPUS_FEEDS}")
    print(
        f"fast path accepts {len(accepted)}/{len(xml)} RSS/Atom files, "
        f"{sum(map(len, accepted)) / sum(map(len, xml)):.1%} of their bytes"
    )
    print(f"{'':30} {'files':>5} {'MB':>7} {'seconds':>8} {'MB/s':>7}  (best of {args.repeat})")
    for t in timings:
        print(f"{t.label:30} {t.files:5} {t.mb:7.2f} {t.seconds:8.3f} {t.mb_per_s:7.1f}")
    by_label = {t.label: t for t in timings}
    ours, theirs = by_label["parse_feed, all files"], by_label["feedparser path, all files"]
    xml_ours, xml_theirs = (
        by_label["parse_feed, RSS/Atom files"],
        by_label["feedparser, RSS/Atom files"],
    )
    print(
        f"ratio parse_feed / feedparser path: {ours.mb_per_s / theirs.mb_per_s:.1f}x all files, "
        f"{xml_ours.mb_per_s / xml_theirs.mb_per_s:.1f}x RSS/Atom"
    )
    verdict = "met" if ours.mb_per_s >= TARGET_MB_PER_S else "NOT met"
    print(f"target {TARGET_MB_PER_S:.0f} MB/s end to end: {verdict}")
    print("\n".join(incremental_one_new_item(args.repeat)))


if __name__ == "__main__":
    main()
