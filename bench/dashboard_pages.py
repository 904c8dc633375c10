"""What the dashboard's pages cost in-process: the page functions alone, on generated campaigns.

    python bench/dashboard_pages.py [--campaigns 10000] [--calendar 1000] [--runs 7]

Run it with the interpreter that has reconciler installed (``.venv/bin/python``). It makes a
runtime snapshot of generated campaigns (every channel and status; daily, weekly, monthly and cron
schedules in several zones; titles and labels on a third of them; a draft in progress on some),
each with a last change, and times, ``--runs`` times each, the campaigns list's first page (as
served: by name, 50 rows), filtered by text, sorted by next sending (every campaign's schedule
walked), its last page, a month and a week of the calendar of ``--calendar`` campaigns, and one
campaign's page. It prints the median wall time and the median CPU time of each. The issue's
targets: the first page of 10,000 campaigns under 300 ms, a month of 1,000 under a second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.dashboard import pages, query
from reconciler.model import (
    Campaign,
    Channel,
    Kind,
    RuntimeState,
    Sending,
    SendingOutcome,
    Status,
    Version,
    kind_of,
)
from reconciler.runtime.base import HistoryEntry

NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
STAMP = "2026-11-27T12:00:00.000Z"
SCHEDULES = (
    {"recurring": {"every": "day", "at": "09:00"}, "timezone": "Europe/Amsterdam"},
    {"recurring": {"every": "week", "on": ["mon", "thu"], "at": "10:30"}},
    {"recurring": {"every": "month", "on": [1, 15], "at": "08:00"}, "timezone": "America/New_York"},
    {"recurring": {"cron": "0 12 * * MON-FRI"}, "timezone": "Asia/Tokyo"},
    {"once": {"at": "2026-12-20T09:00:00+00:00"}},
)
OUTBOUND = (Channel.EMAIL, Channel.SMS, Channel.PUSH)
STATUSES = (Status.LIVE,) * 6 + (Status.SCHEDULED, Status.DRAFT, Status.STOPPED, Status.COMPLETED)


@dataclass(frozen=True)
class Titled(Version):
    """A version with the manifest's title and labels, as the store layer records them."""

    title: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


def generated(n: int) -> tuple[RuntimeState, dict[str, HistoryEntry]]:
    campaigns, last = {}, {}
    for i in range(n):
        name = f"campaign-{i:05d}"
        if i % 10 == 9:
            spec: dict[str, Any] = {"channel": "in-app", "content": {"title": "Hi", "body": "x"}}
        else:
            spec = {
                "channel": OUTBOUND[i % 3].value,
                "audience": {"segment": f"segment-{i % 40}"},
                "content": {"subject": f"Subject {i}", "body": "Hello"},
                "schedule": SCHEDULES[i % len(SCHEDULES)],
            }
        kind = kind_of(spec)
        status = STATUSES[i % len(STATUSES)]
        if kind is Kind.ONE_TIME and status is Status.STOPPED:
            status = Status.COMPLETED
        extra = {"title": f"Campaign number {i}", "labels": {"team": f"t{i % 7}"}} if i % 3 else {}
        live = Titled(1, spec, f"sha256:{i}", "0123456789abcdef", f"campaigns/{name}.yaml",
                      "ci", STAMP, **extra)  # fmt: skip
        draft = (
            Titled(2, spec, f"sha256:{i}b", None, None, "ci", STAMP)
            if i % 11 == 0 and status is Status.LIVE
            else None
        )
        campaigns[name] = Campaign(
            name, Channel(spec["channel"]), kind, status,
            None if status is Status.DRAFT else live, live if status is Status.DRAFT else draft,
            f"etag-{i}", versions=2,
        )  # fmt: skip
        last[name] = HistoryEntry(
            i, i, STAMP, "TOKEN ci (for CLAIMED bob)", "0123456789abcdef", f"plan-{i}",
            "activate", name, None, None,
        )  # fmt: skip
    return RuntimeState(n, campaigns), last


def timed(work: Callable[[], Any], runs: int) -> str:
    wall, cpu = [], []
    for _ in range(runs):
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        work()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return f"{statistics.median(wall) * 1000:7.1f} / {statistics.median(cpu) * 1000:7.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--campaigns", type=int, default=10_000)
    parser.add_argument("--calendar", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    state, last = generated(args.campaigns)
    small, _ = generated(args.calendar)
    sendings = [
        Sending(f"s{d}", "campaign-00000", 1, f"2026-11-{d:02d}T08:00:00.000Z", SendingOutcome.SENT)
        for d in range(1, 27)
    ]
    one = state.campaigns["campaign-00011"]
    figures = {
        "first page": lambda: pages.campaigns_page(state, last, query.parse({}), NOW, "UTC"),
        "first page, Amsterdam": lambda: pages.campaigns_page(
            state, last, query.parse({}), NOW, "Europe/Amsterdam"
        ),
        "text filter": lambda: pages.campaigns_page(
            state, last, query.parse({"q": "number 12"}), NOW, "UTC"
        ),
        "sorted by next": lambda: pages.campaigns_page(
            state, last, query.parse({"sort": "next"}), NOW, "UTC"
        ),
        "last page, 200 rows": lambda: pages.campaigns_page(
            state, last, query.parse({"per_page": "200", "page": "50"}), NOW, "UTC"
        ),
        f"calendar month ({args.calendar})": lambda: pages.calendar_page(
            small, NOW.date(), "month", "UTC", query.CalendarQuery(), NOW, sendings
        ),
        f"calendar week ({args.calendar})": lambda: pages.calendar_page(
            small, NOW.date(), "week", "UTC", query.CalendarQuery(), NOW, sendings
        ),
        "campaign page": lambda: pages.campaign_page(one, [], sendings, [], (1, 2), NOW, "UTC"),
    }
    first = pages.campaigns_page(state, last, query.parse({}), NOW, "UTC")
    month = pages.calendar_page(
        small, NOW.date(), "month", "UTC", query.CalendarQuery(), NOW, sendings
    )
    print(
        f"{args.campaigns} campaigns (first page {len(first) // 1024} KiB); calendar of "
        f"{args.calendar} ({len(month) // 1024} KiB); median of {args.runs} runs, wall / CPU"
    )
    for name, work in figures.items():
        print(f"  {name:<24} {timed(work, args.runs)} ms")


if __name__ == "__main__":
    main()
