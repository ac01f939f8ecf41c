"""When a feed turns unhealthy, as the README states it: the 3rd failure in a row at least 15
minutes after it last worked, or the 3rd failure in a row of a feed that never worked."""

from __future__ import annotations

from datetime import timedelta

from monitor.models import FeedStatus
from tests import test_pipeline
from tests.feedserver import FeedServer, status
from tests.test_pipeline import MakeHarness

harness_factory = test_pipeline.harness_factory  # the fixture, shared


async def test_a_feed_that_never_worked_is_unhealthy_at_its_third_failure_however_soon(
    feed_server: FeedServer, harness_factory: MakeHarness
) -> None:
    url = feed_server.url("/typo.xml")
    feed_server.script("/typo.xml", *[status(404)] * 4)
    h = await harness_factory({"typo": url})
    statuses = []
    for _ in range(3):  # three failures within two minutes, as the backoff spaces them
        await h.service.poll_all()
        feed = await h.feed("typo")
        statuses.append((feed.status, feed.error_count))
        assert feed.next_poll_at is not None
        h.clock.now = feed.next_poll_at
    last_poll = (await h.feed("typo")).last_poll_at
    assert last_poll is not None and last_poll - test_pipeline.START <= timedelta(minutes=3)
    assert statuses == [
        (FeedStatus.ERROR, 1),
        (FeedStatus.ERROR, 2),
        (FeedStatus.UNHEALTHY, 3),
    ]
