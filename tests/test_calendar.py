"""The calendar: sendings per day from manifests alone, with clashes per segment."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from factories import manifest
from reconciler.calendar import Calendar, Clash, Day, Entry, NotShown, calendar
from reconciler.model import Manifest
from reconciler.render_calendar import calendar_json, calendar_text

AMS = ZoneInfo("Europe/Amsterdam")


CONTENT = {
    "email": {"subject": "s", "body": "b"},
    "sms": {"text": "t"},
    "push": {"title": "t", "body": "b"},
}


def spec(
    channel: str = "email",
    segment: str | None = "newsletter-subscribers",
    schedule: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"channel": channel, "content": CONTENT[channel]}
    if segment is not None:
        body["audience"] = {"segment": segment}
    if schedule is not None:
        body["schedule"] = schedule
    return body


WEEKLY = {
    "recurring": {"every": "week", "on": ["mon", "thu"], "at": "09:00"},
    "timezone": "Europe/Amsterdam",
}

MANIFESTS: list[Manifest] = [
    manifest("weekly-digest", spec(schedule=WEEKLY)),
    # a second campaign to the digest's segment on Monday: a clash
    manifest(
        "product-news",
        spec(schedule={"once": {"at": "2026-12-07T12:00:00+01:00"}, "timezone": "Europe/Paris"}),
    ),
    # noon in New York is 18:00 in Amsterdam
    manifest(
        "daily-deal",
        spec(
            "push",
            "deal-hunters",
            {"recurring": {"cron": "0 12 * * MON-FRI"}, "timezone": "America/New_York"},
        ),
    ),
    # a draft to the digest's segment on Thursday: listed, but no clash
    manifest(
        "winter-sale",
        spec("push", schedule={"once": {"at": "2026-12-10T10:00:00+01:00"}}),
        state="draft",
    ),
    # stopped: sends nothing
    manifest("paused-digest", spec(schedule=WEEKLY), run="stopped"),
    # inbound, and one-time on activation: no time known ahead
    manifest("app-banner", {"channel": "in-app", "content": {"title": "t", "body": "b"}}),
    manifest("launch-now", spec()),
    # a copy with a schedule of its own, and the source's channel and segment: one more sending
    # in Monday's clash
    manifest(
        "cyber-monday",
        {"schedule": {"once": {"at": "2026-12-07T08:00:00+01:00"}}},
        copy_from="product-news",
    ),
    # a copy with a schedule and a segment of its own: a clash on Wednesday that only the copy makes
    manifest(
        "reminder-copy",
        {
            "audience": {"segment": "deal-hunters"},
            "schedule": {"once": {"at": "2026-12-09T19:30:00+01:00"}},
        },
        copy_from="sms-promo",
    ),
    # a copy without a schedule of its own: the source's, on Mondays and Thursdays
    manifest("digest-nl", {"audience": {"segment": "newsletter-nl"}}, copy_from="weekly-digest"),
    # copies whose source cannot be resolved: not shown, with why
    manifest("ghost-copy", {}, copy_from="ghost"),
    manifest("sale-copy", {}, copy_from="winter-sale"),
    # twice a day to one segment from one campaign: not a clash on its own...
    manifest(
        "sms-alerts",
        spec("sms", "sms-opted-in", {"recurring": {"cron": "0 8,20 * * TUE"}, "timezone": "UTC"}),
    ),
    # ...but with a second campaign to that segment it is, counting every sending
    manifest(
        "sms-promo",
        spec("sms", "sms-opted-in", {"once": {"at": "2026-12-08T12:00:00Z"}}),
    ),
]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=AMS)


def test_calendar_per_day() -> None:
    cal = calendar(MANIFESTS, date(2026, 12, 7), 4, "Europe/Amsterdam")
    digest = ("weekly-digest", "email", "newsletter-subscribers", "live")
    digest_nl = ("digest-nl", "email", "newsletter-nl", "live")
    deal = ("daily-deal", "push", "deal-hunters", "live")
    news = ("email", "newsletter-subscribers", "live")
    alerts = ("sms-alerts", "sms", "sms-opted-in", "live")
    assert cal == Calendar(
        days=(
            Day(
                date(2026, 12, 7),
                (
                    Entry(at("2026-12-07 08:00"), "cyber-monday", *news),
                    Entry(at("2026-12-07 09:00"), *digest_nl),
                    Entry(at("2026-12-07 09:00"), *digest),
                    Entry(at("2026-12-07 12:00"), "product-news", *news),
                    Entry(at("2026-12-07 18:00"), *deal),
                ),
                (
                    Clash(
                        "newsletter-subscribers",
                        ("cyber-monday", "product-news", "weekly-digest"),
                        3,
                    ),
                ),
            ),
            Day(
                date(2026, 12, 8),
                (
                    Entry(at("2026-12-08 09:00"), *alerts),
                    Entry(at("2026-12-08 13:00"), "sms-promo", "sms", "sms-opted-in", "live"),
                    Entry(at("2026-12-08 18:00"), *deal),
                    Entry(at("2026-12-08 21:00"), *alerts),
                ),
                (Clash("sms-opted-in", ("sms-alerts", "sms-promo"), 3),),
            ),
            Day(
                date(2026, 12, 9),
                (
                    Entry(at("2026-12-09 18:00"), *deal),
                    Entry(at("2026-12-09 19:30"), "reminder-copy", "sms", "deal-hunters", "live"),
                ),
                (Clash("deal-hunters", ("daily-deal", "reminder-copy"), 2),),
            ),
            Day(
                date(2026, 12, 10),
                (
                    Entry(at("2026-12-10 09:00"), *digest_nl),
                    Entry(at("2026-12-10 09:00"), *digest),
                    Entry(
                        at("2026-12-10 10:00"),
                        "winter-sale",
                        "push",
                        "newsletter-subscribers",
                        "draft",
                    ),
                    Entry(at("2026-12-10 18:00"), *deal),
                ),
                (),
            ),
        ),
        zone="Europe/Amsterdam",
        abbreviations=("CET",),
        not_shown=(
            NotShown("ghost-copy", "copyFrom names 'ghost', which does not exist"),
            NotShown("sale-copy", NEVER_LIVE),
        ),
    )
    assert (cal.sendings, cal.clashes) == (15, 3)


NEVER_LIVE = (
    "copyFrom names 'winter-sale', which has never been live; only a campaign that has been live "
    "can be duplicated"
)


def test_calendar_text() -> None:
    """Copies are shown with their sources' channels, segments and schedules: the clashes they
    make on Monday and Wednesday went unseen, and so did the copies' own sendings."""
    cal = calendar(MANIFESTS, date(2026, 12, 6), 5, "Europe/Amsterdam")
    assert calendar_text(cal) == (
        "Sendings 2026-12-06 to 2026-12-10, times in Europe/Amsterdam (CET)\n"
        "Sun 2026-12-06\n"
        "  no sendings\n"
        "Mon 2026-12-07\n"
        "  08:00  cyber-monday   email  newsletter-subscribers\n"
        "  09:00  digest-nl      email  newsletter-nl\n"
        "  09:00  weekly-digest  email  newsletter-subscribers\n"
        "  12:00  product-news   email  newsletter-subscribers\n"
        "  18:00  daily-deal     push   deal-hunters\n"
        "  ! clash: segment newsletter-subscribers gets 3 sendings: cyber-monday, product-news, "
        "weekly-digest\n"
        "Tue 2026-12-08\n"
        "  09:00  sms-alerts     sms    sms-opted-in\n"
        "  13:00  sms-promo      sms    sms-opted-in\n"
        "  18:00  daily-deal     push   deal-hunters\n"
        "  21:00  sms-alerts     sms    sms-opted-in\n"
        "  ! clash: segment sms-opted-in gets 3 sendings: sms-alerts, sms-promo\n"
        "Wed 2026-12-09\n"
        "  18:00  daily-deal     push   deal-hunters\n"
        "  19:30  reminder-copy  sms    deal-hunters\n"
        "  ! clash: segment deal-hunters gets 2 sendings: daily-deal, reminder-copy\n"
        "Thu 2026-12-10\n"
        "  09:00  digest-nl      email  newsletter-nl\n"
        "  09:00  weekly-digest  email  newsletter-subscribers\n"
        "  10:00  winter-sale    push   newsletter-subscribers  (draft)\n"
        "  18:00  daily-deal     push   deal-hunters\n"
        "15 sendings, 3 clashes\n"
        "not shown: ghost-copy: copyFrom names 'ghost', which does not exist\n"
        f"not shown: sale-copy: {NEVER_LIVE}\n"
    )


def test_calendar_text_of_one_campaign() -> None:
    cal = calendar(MANIFESTS[:1], date(2026, 12, 7), 1, "Europe/Amsterdam")
    assert calendar_text(cal) == (
        "Sendings 2026-12-07 to 2026-12-07, times in Europe/Amsterdam (CET)\n"
        "Mon 2026-12-07\n"
        "  09:00  weekly-digest  email  newsletter-subscribers\n"
        "1 sending, 0 clashes\n"
    )


def test_calendar_json() -> None:
    cal = calendar(MANIFESTS, date(2026, 12, 7), 1, "Europe/Amsterdam")
    text = calendar_json(cal)
    assert text.endswith("}\n")

    def sending(at: str, campaign: str, segment: str, channel: str = "email") -> dict[str, Any]:
        return {
            "at": at,
            "campaign": campaign,
            "channel": channel,
            "segment": segment,
            "state": "live",
        }

    assert json.loads(text) == {
        "zone": "Europe/Amsterdam",
        "from": "2026-12-07",
        "to": "2026-12-07",
        "summary": {"sendings": 5, "clashes": 1},
        "days": [
            {
                "date": "2026-12-07",
                "weekday": "Mon",
                "sendings": [
                    sending("2026-12-07T08:00:00+01:00", "cyber-monday", "newsletter-subscribers"),
                    sending("2026-12-07T09:00:00+01:00", "digest-nl", "newsletter-nl"),
                    sending("2026-12-07T09:00:00+01:00", "weekly-digest", "newsletter-subscribers"),
                    sending("2026-12-07T12:00:00+01:00", "product-news", "newsletter-subscribers"),
                    sending("2026-12-07T18:00:00+01:00", "daily-deal", "deal-hunters", "push"),
                ],
                "clashes": [
                    {
                        "segment": "newsletter-subscribers",
                        "campaigns": ["cyber-monday", "product-news", "weekly-digest"],
                        "sendings": 3,
                    }
                ],
            }
        ],
        "capped": [],
        "not_shown": [
            {"campaign": "ghost-copy", "reason": "copyFrom names 'ghost', which does not exist"},
            {"campaign": "sale-copy", "reason": NEVER_LIVE},
        ],
        "truncated": [],
    }


def test_days_are_local_dates_of_the_zone() -> None:
    """23:30 in New York is the next day in UTC: the calendar's zone decides the day."""
    late = manifest(
        "late-push",
        spec(
            "push",
            "night-owls",
            {"recurring": {"cron": "30 23 * * *"}, "timezone": "America/New_York"},
        ),
    )
    in_utc = calendar([late], date(2026, 12, 7), 2)
    assert [(d.date, [e.at.isoformat() for e in d.sendings]) for d in in_utc.days] == [
        (date(2026, 12, 7), ["2026-12-07T04:30:00+00:00"]),
        (date(2026, 12, 8), ["2026-12-08T04:30:00+00:00"]),
    ]
    in_new_york = calendar([late], date(2026, 12, 7), 2, "America/New_York")
    assert [(d.date, [e.at.isoformat() for e in d.sendings]) for d in in_new_york.days] == [
        (date(2026, 12, 7), ["2026-12-07T23:30:00-05:00"]),
        (date(2026, 12, 8), ["2026-12-08T23:30:00-05:00"]),
    ]


def test_a_day_that_starts_at_01_00() -> None:
    """Santiago skips from 00:00 to 01:00 on 2026-09-06: a daily 00:30 is sent at 01:00."""
    early = manifest(
        "early",
        spec(
            schedule={"recurring": {"every": "day", "at": "00:30"}, "timezone": "America/Santiago"}
        ),
    )
    cal = calendar([early], date(2026, 9, 5), 3, "America/Santiago")
    assert [[e.at.isoformat() for e in d.sendings] for d in cal.days] == [
        ["2026-09-05T00:30:00-04:00"],
        ["2026-09-06T01:00:00-03:00"],
        ["2026-09-07T00:30:00-03:00"],
    ]


def test_a_campaign_with_too_many_sendings_is_cut_short(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("reconciler.calendar.MAX_SENDINGS", 5)
    minutely = manifest("minutely", spec(schedule={"recurring": {"cron": "* * * * *"}}))
    cal = calendar([minutely], date(2026, 12, 7), 1)
    assert cal.truncated == ("minutely",)
    assert cal.sendings == 5
    assert calendar_text(cal).endswith("cut short: minutely (over 5 sendings each)\n")


@pytest.mark.parametrize(
    ("days", "zone", "message"),
    [
        pytest.param(0, "UTC", "at least 1", id="no-days"),
        pytest.param(1, "Mars/Olympus", "unknown time zone", id="zone"),
    ],
)
def test_bad_arguments(days: int, zone: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        calendar(MANIFESTS, date(2026, 12, 7), days, zone)
