"""The dashboard's pages, as pure functions: exact fragments of their HTML, the rows a query
selects and their order, the links that keep a query, the query strings refused, calendar cells,
diff rows, and every hostile string escaped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from factories import EMAIL, INBOUND, RECURRING, manifest, with_subject
from hostile import STRINGS
from reconciler import executor, planner, project
from reconciler.dashboard import pages, query, static_dir
from reconciler.dashboard.query import CalendarQuery, Query, QueryError
from reconciler.model import (
    Campaign,
    Channel,
    Kind,
    RuntimeState,
    Sending,
    SendingOutcome,
    Status,
    Version,
)
from reconciler.runtime.base import HistoryEntry, LockOwner, Provenance
from reconciler.runtime.platform import Platform
from reconciler.runtime.registry import open_runtime

NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
STAMP = "2026-11-27T12:00:00.000Z"
SCRIPT = "<script>alert(1)</script>"


# -- reading the HTML ----------------------------------------------------------------------------


class Document(HTMLParser):
    """Every element's tag and attributes, in order, and the text of each table's body cells."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._in_body = False
        self._cell: list[str] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.elements.append((tag, found))
        if tag == "table":
            self._table = (found.get("class") or "").split()[0]
            self.tables[self._table] = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._in_body and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def hrefs(self, rel: str | None = None) -> list[str]:
        return [
            str(a["href"])
            for tag, a in self.elements
            if tag == "a" and "href" in a and (rel is None or a.get("rel") == rel)
        ]


def rows(html: str, table: str = "campaigns") -> list[list[str]]:
    return Document(html).tables.get(table, [])


def names(html: str) -> list[str]:
    return [row[0] for row in rows(html)]


# -- data ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Titled(Version):
    """A version as the store layer records it once it has the manifest's title and labels (the
    pages read them with getattr: this is that future Version's shape)."""

    title: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


def version(number: int, spec: Mapping[str, Any] | None = None, **more: Any) -> Titled:
    more.setdefault("actor", "alice")
    return Titled(
        number, dict(spec or RECURRING), f"sha256:{number}", "0123456789abcdef", None,
        applied_at=STAMP, **more,
    )  # fmt: skip


def campaign(
    name: str,
    *,
    status: Status = Status.LIVE,
    channel: Channel = Channel.EMAIL,
    kind: Kind = Kind.RECURRING,
    spec: Mapping[str, Any] | None = None,
    title: str | None = None,
    labels: Mapping[str, str] | None = None,
    draft: bool = False,
    origin: str = "reconciler",
) -> Campaign:
    live = version(1, spec, title=title, labels=labels or {}, origin=origin)
    return Campaign(
        name, channel, kind, status, live, version(2, spec) if draft else None, f"etag-{name}",
        versions=2 if draft else 1,
    )  # fmt: skip


def state(*campaigns: Campaign) -> RuntimeState:
    return RuntimeState(7, {c.name: c for c in campaigns})


def entry(name: str, at: str, actor: str = "alice", seq: int = 1, **more: Any) -> HistoryEntry:
    fields: dict[str, Any] = {
        "commit": "0123456789abcdef",
        "plan_id": "plan-1",
        "operation": "activate",
    }
    fields |= more
    return HistoryEntry(
        seq, seq, at, actor, fields["commit"], fields["plan_id"], fields["operation"], name,
        fields.get("before"), fields.get("after"),
    )  # fmt: skip


SAMPLE = state(
    campaign("alpha", title="Spring sale", labels={"team": "growth"}),
    campaign(
        "bravo", status=Status.DRAFT, channel=Channel.SMS, spec={**RECURRING, "channel": "sms"}
    ),
    campaign("charlie", title="Alpha news", draft=True, labels={"team": "care"}),
    campaign("delta", status=Status.STOPPED, spec=with_subject(RECURRING, "x")),
    campaign("echo", kind=Kind.INBOUND, channel=Channel.IN_APP, spec=INBOUND, origin="console"),
    campaign("foxtrot", spec={**RECURRING, "audience": {"segment": "vip"}}),
)


def listed(params: Mapping[str, str], st: RuntimeState = SAMPLE, **changes: Any) -> str:
    return pages.campaigns_page(st, changes.pop("last", {}), query.parse(params), NOW, "UTC")


# -- the query string ----------------------------------------------------------------------------


def test_an_empty_query_is_the_first_page_by_name() -> None:
    assert query.parse({}) == Query()
    assert Query().params() == ""


def test_a_query_reads_every_field_and_writes_its_links_back() -> None:
    params = {
        "status": "live", "kind": "recurring", "channel": "email", "label": "team=growth",
        "segment": "vip", "q": "sale", "sort": "next", "dir": "desc", "page": "3",
        "per_page": "200", "tz": "Europe/Amsterdam",
    }  # fmt: skip
    parsed = query.parse(params)
    assert parsed == Query(
        Status.LIVE, Kind.RECURRING, Channel.EMAIL, ("team", "growth"), "vip", "sale", "next",
        "desc", 3, 200, "Europe/Amsterdam",
    )  # fmt: skip
    assert parsed.params() == (
        "status=live&kind=recurring&channel=email&label=team%3Dgrowth&segment=vip&q=sale"
        "&sort=next&dir=desc&page=3&per_page=200&tz=Europe%2FAmsterdam"
    )
    assert query.parse(dict(pair.split("=") for pair in ["q=sale"])) == Query(text="sale")


def test_empty_fields_of_a_form_are_no_filter() -> None:
    assert query.parse({"status": "", "q": "", "label": ""}) == Query()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sort": "name; DROP TABLE"}, "sort: 'name; DROP TABLE' is not one of name, title, "
         "status, kind, channel, live, draft, next, changed"),
        ({"sort": "etag"}, "sort: 'etag' is not one of name, title, status, kind, channel, live, "
         "draft, next, changed"),
        ({"dir": "up"}, "dir: 'up' is not one of asc, desc"),
        ({"status": "paused"}, "status: 'paused' is not one of draft, scheduled, live, stopping, "
         "stopped, completed"),
        ({"kind": "weekly"}, "kind: 'weekly' is not one of one-time, recurring, inbound"),
        ({"channel": "fax"}, "channel: 'fax' is not one of email, sms, push, in-app, web, "
         "code-based, content-card"),
        ({"page": "0"}, "page: '0' is not a whole number from 1 to 1000000"),
        ({"page": "-1"}, "page: '-1' is not a whole number from 1 to 1000000"),
        ({"page": "\u0661"}, "page: '\u0661' is not a whole number from 1 to 1000000"),
        ({"per_page": "201"}, "per_page: '201' is not a whole number from 1 to 200"),
        ({"label": "growth"}, "label: 'growth' is not key=value"),
        ({"label": "=x"}, "label: '=x' is not key=value"),
        ({"q": "x" * 201}, "q: longer than 200 characters"),
        ({"tz": "Mars/Olympus"}, "tz: 'Mars/Olympus' is not a known time zone (an IANA name)"),
        ({"order": "name"}, "unknown parameter 'order': expected status, kind, channel, label, "
         "segment, q, sort, dir, page, per_page, tz"),
        ({"sort": SCRIPT * 3}, "sort: '<script>alert(1)</script><script>alert(1'… "
         "is not one of name, title, status, kind, channel, live, draft, next, changed"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None,
)  # fmt: skip
def test_a_query_outside_the_allow_lists_is_refused(params: dict[str, str], message: str) -> None:
    with pytest.raises(QueryError) as caught:
        query.parse(params)
    assert str(caught.value) == message


def test_a_refusal_is_shown_escaped_on_the_error_page() -> None:
    with pytest.raises(QueryError) as caught:
        query.parse({"sort": SCRIPT})
    html = pages.error_page(400, str(caught.value))
    assert (
        '<p class="error">sort: &#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39; is not one of '
        "name, title, status, kind, channel, live, draft, next, changed</p>"
    ) in html
    assert "<h1>Error 400</h1>" in html
    assert "<script>" not in html


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"view": "year"}, "view: 'year' is not one of month, week"),
        ({"first": "2026-13-01"}, "first: '2026-13-01' is not a date like 2026-12-01"),
        ({"channel": "email", "sort": "name"}, "unknown parameter 'sort': expected first, view, "
         "tz, segment, channel, label"),
    ],
)  # fmt: skip
def test_a_calendar_query_outside_the_allow_lists_is_refused(
    params: dict[str, str], message: str
) -> None:
    with pytest.raises(QueryError) as caught:
        query.parse_calendar(params)
    assert str(caught.value) == message


def test_a_calendar_query() -> None:
    parsed = query.parse_calendar(
        {"first": "2026-12-01", "view": "week", "tz": "Asia/Tokyo", "label": "team=a"}
    )
    assert parsed == CalendarQuery(
        dt.date(2026, 12, 1), "week", "Asia/Tokyo", None, None, ("team", "a")
    )
    assert query.parse_calendar({}) == CalendarQuery()


def test_a_campaign_page_query() -> None:
    assert query.compare({}) == (None, "UTC")
    assert query.compare({"from": "1", "to": "3", "tz": "UTC"}) == ((1, 3), "UTC")
    with pytest.raises(
        QueryError, match=r"^from and to: give both versions to compare, or neither$"
    ):
        query.compare({"from": "1"})


# -- the campaigns list --------------------------------------------------------------------------


def test_the_list_shows_every_column() -> None:
    last = {"alpha": entry("alpha", "2026-11-20T08:30:00.000Z", "TOKEN ci (for CLAIMED bob)")}
    html = listed({"tz": "Europe/Amsterdam"}, last=last)
    html = pages.campaigns_page(SAMPLE, last, query.parse({}), NOW, "Europe/Amsterdam")
    assert rows(html)[0] == [
        "alpha", "Spring sale", "live", "recurring", "email", "v1", "-", "-",
        "Mon 2026-11-30 10:00 CET",
        "activate by TOKEN ci (for CLAIMED bob), Fri 2026-11-20 09:30 CET, 0123456789ab",
    ]  # fmt: skip
    charlie = rows(html)[2]
    assert charlie[6] == "v2 draft in progress"
    echo = rows(html)[4]
    assert echo[7:9] == ["drift by alice", "-"]
    assert '<p class="count">6 campaigns · runtime revision 7</p>' in html


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]),
        ({"status": "live"}, ["alpha", "charlie", "echo", "foxtrot"]),
        ({"status": "stopped"}, ["delta"]),
        ({"kind": "inbound"}, ["echo"]),
        ({"channel": "sms"}, ["bravo"]),
        ({"label": "team=growth"}, ["alpha"]),
        ({"label": "team=nobody"}, []),
        ({"segment": "vip"}, ["foxtrot"]),
        ({"segment": "newsletter", "status": "live"}, ["alpha", "charlie"]),
        ({"q": "ALPHA"}, ["alpha", "charlie"]),  # charlie's title is "Alpha news"
        ({"q": "sale"}, ["alpha"]),
        ({"sort": "title"}, ["charlie", "alpha", "bravo", "delta", "echo", "foxtrot"]),
        ({"sort": "title", "dir": "desc"},
         ["alpha", "charlie", "bravo", "delta", "echo", "foxtrot"]),
        ({"sort": "status"}, ["bravo", "alpha", "charlie", "echo", "foxtrot", "delta"]),
        ({"sort": "channel", "dir": "desc"},
         ["bravo", "echo", "alpha", "charlie", "delta", "foxtrot"]),
        ({"sort": "draft"}, ["charlie", "alpha", "bravo", "delta", "echo", "foxtrot"]),
        ({"dir": "desc"}, ["foxtrot", "echo", "delta", "charlie", "bravo", "alpha"]),
        ({"sort": "next"}, ["alpha", "charlie", "foxtrot", "bravo", "delta", "echo"]),
    ],
    ids=lambda v: "&".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None,
)  # fmt: skip
def test_filters_and_order(params: dict[str, str], expected: list[str]) -> None:
    assert names(listed(params)) == expected


def test_sorting_by_the_last_change_puts_campaigns_without_one_last() -> None:
    last = {
        "delta": entry("delta", "2026-11-01T00:00:00.000Z"),
        "bravo": entry("bravo", "2026-11-20T00:00:00.000Z"),
    }
    html = listed({"sort": "changed", "dir": "desc"}, last=last)
    assert names(html) == ["bravo", "delta", "alpha", "charlie", "echo", "foxtrot"]


def test_the_column_headings_sort_and_mark_the_order() -> None:
    doc = Document(listed({"sort": "title", "q": "a"}))
    headings = {a.get("aria-sort") for tag, a in doc.elements if tag == "th"}
    assert headings == {None, "ascending"}
    links = doc.hrefs()
    assert "?q=a&sort=title&dir=desc" in links  # the current column turns round
    assert "?q=a" in links  # by name, ascending: the defaults are left out
    assert "?q=a&sort=next" in links
    assert Query(text="a b").params() == "q=a+b"


def many(n: int) -> RuntimeState:
    return state(*(campaign(f"c{i:03d}") for i in range(n)))


def test_paging_cuts_the_rows_and_its_links_keep_the_query() -> None:
    html = listed({"per_page": "10", "page": "3", "status": "live", "dir": "desc"}, many(95))
    assert names(html) == [f"c{i:03d}" for i in range(74, 64, -1)]
    doc = Document(html)
    keep = "?status=live&dir=desc"
    assert doc.hrefs("prev") == [f"{keep}&page=2&per_page=10"]
    assert doc.hrefs("next") == [f"{keep}&page=4&per_page=10"]
    nav = html[html.index('<nav class="pager"') :]
    pager = Document(nav).hrefs()
    assert pager == [
        f"{keep}&page=2&per_page=10", f"{keep}&per_page=10", f"{keep}&page=2&per_page=10",
        f"{keep}&page=4&per_page=10", f"{keep}&page=5&per_page=10",
        f"{keep}&page=10&per_page=10", f"{keep}&page=4&per_page=10",
    ]  # fmt: skip
    assert '<span class="gap">…</span>' in html
    assert "95 campaigns, page 3 of 10" in html


def test_a_page_past_the_last_says_so() -> None:
    html = listed({"page": "4", "per_page": "2"}, many(5))
    assert rows(html) == []
    assert '<p class="empty">Page 4 is past the last page, 3.</p>' in html


def test_nothing_matches() -> None:
    assert '<p class="empty">No campaigns match.</p>' in listed({"q": "zulu"})


def test_the_filter_form_shows_the_query() -> None:
    html = listed({"label": 'a"b=c', "status": "live", "q": "<x>"})
    assert '<input name="label" placeholder="key=value" value="a&#34;b=c">' in html
    assert '<input type="search" name="q" value="&lt;x&gt;">' in html
    assert "<option selected>live</option>" in html
    assert "<option selected>UTC</option>" in html


# -- one campaign --------------------------------------------------------------------------------


@pytest.fixture
def runtime() -> Platform:
    rt = open_runtime("memory://", clock=lambda: NOW)
    assert isinstance(rt, Platform)
    return rt


def apply(rt: Platform, manifests: Sequence[Any], actor: str = "alice") -> None:
    owner = LockOwner.current("tests")
    with executor.hold_lock(rt, owner):
        ledger = executor.execute(
            rt,
            planner.plan(manifests, rt.snapshot(), now=NOW),
            Provenance(actor, commit="abcdef0123456789"),
            owner=owner,
        )
    assert ledger.ok


LONG = "Dear reader,\nthis is the body of a newsletter that is long enough to be shown whole."


def test_a_campaign_page_compares_two_versions_field_by_field(runtime: Platform) -> None:
    apply(runtime, [manifest("weekly")])
    changed = {**with_subject(RECURRING, "Hi"), "content": {"subject": "Hi", "body": LONG}}
    apply(runtime, [manifest("weekly", changed, state="draft")], actor="bob")
    c = runtime.snapshot().campaigns["weekly"]
    html = pages.campaign_page(
        c, runtime.history("weekly"), runtime.sendings("weekly"), ["weekly-copy"], (1, 2), NOW,
        "UTC",
    )  # fmt: skip
    assert rows(html, "versions") == [
        ["v2", "draft", "", "Fri 2026-11-27 12:00 UTC", "bob", "abcdef012345",
         "campaigns/weekly.yaml"],
        ["v1", "live", "", "Fri 2026-11-27 12:00 UTC", "alice", "abcdef012345",
         "campaigns/weekly.yaml"],
    ]  # fmt: skip
    assert rows(html, "diff") == [
        ["~ spec.content.body", "Body", "Dear reader,this is the body of a newsletter that is long "
         "enough to be shown whole."],
        ["~ spec.content.subject", '"Hello"', '"Hi"'],
    ]  # fmt: skip
    assert (
        '<td class="after"><span class="line">Dear reader,</span><span class="line">this is the '
        "body of a newsletter that is long enough to be shown whole.</span></td>"
    ) in html
    assert '<span class="badge draft-in-progress">draft in progress</span>' in html
    assert '<li><a href="/campaigns/weekly-copy">weekly-copy</a></li>' in html
    history = rows(html, "history")
    assert [r[2:4] for r in history] == [["update", "v2"], ["activate", "v1"]]
    assert history[0][7] == (
        '~ spec.content.body: "Body" -> "Dear reader,\\nthis is the body of a newsletter that is '
        'long enough t…~ spec.content.subject: "Hello" -> "Hi"'
    )


def test_a_version_that_is_not_known_is_said(runtime: Platform) -> None:
    apply(runtime, [manifest("weekly")])
    c = runtime.snapshot().campaigns["weekly"]
    html = pages.campaign_page(c, runtime.history("weekly"), [], [], (1, 9), NOW, "UTC")
    assert '<p class="error">Version 9 is not known.</p>' in html
    assert 'class="diff"' not in html


def test_titles_and_labels_of_versions_are_shown_and_compared() -> None:
    c = replace(
        campaign("alpha", title="Spring sale", labels={"team": "growth"}),
        draft=version(2, RECURRING, title="Summer sale", labels={"team": "growth", "q": "3"}),
    )
    html = pages.campaign_page(c, [], [], [], (1, 2), NOW, "UTC")
    assert '<h1><span class="v">alpha</span> <small class="title">Spring sale</small></h1>' in html
    assert '<li><span class="v">team</span>=<span class="v">growth</span></li>' in html
    assert rows(html, "diff") == [
        ["+ metadata.labels.q", "", '"3"'],
        ["~ metadata.title", '"Spring sale"', '"Summer sale"'],
    ]


def test_the_history_shows_actors_as_they_are_and_earlier_versions_from_it() -> None:
    before = {"live": version(1).to_json()}
    after = {"live": version(2, with_subject(RECURRING, "New"), origin="console").to_json()}
    c = replace(campaign("alpha"), live=version(2, with_subject(RECURRING, "New")))
    history = [
        entry("alpha", STAMP, "TOKEN deploy (for CLAIMED carol)", 9, operation="replace",
              before=before, after=after, plan_id="plan-abc"),
    ]  # fmt: skip
    html = pages.campaign_page(c, history, [], [], None, NOW, "UTC")
    assert rows(html, "history") == [
        ["9", "Fri 2026-11-27 12:00 UTC", "replace", "v2", "TOKEN deploy (for CLAIMED carol)",
         "0123456789ab", "plan-abc", '~ spec.content.subject: "Hello" -> "New"'],
    ]  # fmt: skip
    assert [r[:2] for r in rows(html, "versions")] == [["v2", "live"], ["v1", "earlier"]]


def test_sendings_are_a_timeline_newest_first() -> None:
    sendings = [
        Sending("s1", "alpha", 1, "2026-11-16T09:00:00.000Z", SendingOutcome.SENT,
                "2026-11-16T09:00:00.000Z", "2026-11-16T09:20:00.000Z"),
        Sending("s2", "alpha", 1, "2026-11-23T09:00:00.000Z", SendingOutcome.SKIPPED,
                reason="the engine was not running"),
        Sending("s3", "alpha", 2, "2026-11-27T11:00:00.000Z", SendingOutcome.RUNNING,
                "2026-11-27T11:00:00.000Z", "2026-11-27T13:00:00.000Z"),
    ]  # fmt: skip
    html = pages.campaign_page(campaign("alpha"), [], sendings, [], None, NOW, "Asia/Tokyo")
    timeline = html[html.index('<ol class="timeline">') : html.index("</ol>")]
    assert timeline.split("\n")[1:] == [
        '<li class="outcome-running">',
        '<span class="when">Fri 2026-11-27 20:00 JST</span>',
        '<span class="outcome">running</span>',
        '<span class="version">v2</span>',
        '<span class="started">started Fri 2026-11-27 20:00 JST</span>'
        '<span class="ends">ends Fri 2026-11-27 22:00 JST</span></li>',
        '<li class="outcome-skipped">',
        '<span class="when">Mon 2026-11-23 18:00 JST</span>',
        '<span class="outcome">skipped</span>',
        '<span class="version">v1</span>',
        '<span class="reason">the engine was not running</span></li>',
        '<li class="outcome-sent">',
        '<span class="when">Mon 2026-11-16 18:00 JST</span>',
        '<span class="outcome">sent</span>',
        '<span class="version">v1</span>',
        '<span class="started">started Mon 2026-11-16 18:00 JST</span>'
        '<span class="ends">ended Mon 2026-11-16 18:20 JST</span></li>',
        "",
    ]


# -- the calendar --------------------------------------------------------------------------------


def cell(html: str, date: str) -> str:
    """The calendar cell of ``date``: from its <td> to the next one's."""
    start = html.rindex("<td", 0, html.index(f'<time datetime="{date}">'))
    return html[start : html.index("</td>", start)]


DAILY = {**EMAIL, "schedule": {"recurring": {"every": "day", "at": "09:00"}}}


def test_a_month_marks_the_windows_over_a_frequency_cap() -> None:
    """With the project file's caps (serve --project): each window over one on the day it starts
    (a week's on its Monday), worded as the plan words it."""
    found = project.parse(
        b"apiVersion: reconciler/v1\nkind: Project\npolicies:\n  frequencyCaps:\n"
        b"    - {name: one-a-day, channels: [email], max: 1, per: day}\n"
        b"    - {name: six-a-week, max: 6, per: week}\n",
        "reconciler.yaml",
    )
    st = state(campaign("daily", spec=DAILY), campaign("weekly", spec=RECURRING))
    html = pages.calendar_page(
        st, dt.date(2026, 11, 27), "month", "UTC", CalendarQuery(), NOW, (), found.policies
    )
    monday = cell(html, "2026-11-30")
    assert (
        '<p class="cap-note">over cap one-a-day: segment newsletter gets 2 sendings on Mon '
        "2026-11-30 (at most 1 a day): daily, weekly</p>"
    ) in monday
    assert (
        '<p class="cap-note">over cap six-a-week: segment newsletter gets 8 sendings in the week '
        "of Mon 2026-11-30 to Sun 2026-12-06 (at most 6 a week): daily, weekly</p>"
    ) in monday
    assert "cap-note" not in cell(html, "2026-12-01")  # daily alone: one a day
    # without the project file, nothing is marked
    plain = pages.calendar_page(st, dt.date(2026, 11, 27), "month", "UTC", CalendarQuery(), NOW)
    assert "cap-note" not in plain


def test_a_month_marks_channels_clashes_and_stopped_campaigns() -> None:
    sms = {**DAILY, "channel": "sms", "audience": {"segment": "vip"}}
    st = state(
        campaign("daily", spec=DAILY),
        campaign("weekly", spec=RECURRING),  # Mondays, newsletter: clashes with daily
        campaign("texts", spec=sms, channel=Channel.SMS),
        campaign("gone", spec=RECURRING, status=Status.STOPPED),
    )
    past = [
        Sending("p1", "gone", 1, "2026-11-16T09:00:00.000Z", SendingOutcome.SENT),
        Sending("p2", "weekly", 1, "2026-11-23T09:00:00.000Z", SendingOutcome.CANCELLED),
    ]
    html = pages.calendar_page(
        st, dt.date(2026, 11, 27), "month", "UTC", CalendarQuery(), NOW, past
    )
    assert "<h1>November 2026</h1>" in html
    monday = cell(html, "2026-11-30")
    assert monday == (
        '<td class="day has-clash">\n'
        '<div class="date"><time datetime="2026-11-30">30</time></div>\n'
        '<p class="clash-note">clash: <span class="v">newsletter</span> gets 2 sendings</p>'
        '<ul class="sendings">\n'
        '<li class="ch-email status-live clash">\n<a href="/campaigns/daily">daily</a>\n'
        '<time class="slot upcoming" datetime="2026-11-30T09:00:00+00:00">09:00</time></li>\n'
        '<li class="ch-sms status-live">\n<a href="/campaigns/texts">texts</a>\n'
        '<time class="slot upcoming" datetime="2026-11-30T09:00:00+00:00">09:00</time></li>\n'
        '<li class="ch-email status-live clash">\n<a href="/campaigns/weekly">weekly</a>\n'
        '<time class="slot upcoming" datetime="2026-11-30T09:00:00+00:00">09:00</time></li>\n'
        "</ul>\n"
    )
    # the past comes from the runtime's sendings: a stopped campaign's, a cancelled one
    assert '<li class="ch-email status-stopped">\n<a href="/campaigns/gone">gone</a>\n' in cell(
        html, "2026-11-16"
    )
    assert '<span class="tag">stopped</span>' in cell(html, "2026-11-16")
    cancelled = cell(html, "2026-11-23")
    assert 'class="slot outcome-cancelled"' in cancelled
    assert "has-clash" not in cancelled  # a cancelled sending does not clash
    # today, and the days before it that the runtime did not send: nothing upcoming
    assert cell(html, "2026-11-27").startswith('<td class="day today">')
    assert cell(html, "2026-11-26").count("<li") == 0
    # the grid is whole weeks; the days of the months around are marked
    assert cell(html, "2026-10-26").startswith('<td class="day outside">')
    assert cell(html, "2026-12-06").startswith('<td class="day outside">')
    doc = Document(html)
    assert doc.hrefs("prev") == ["?first=2026-10-01"]
    assert doc.hrefs("next") == ["?first=2026-12-01"]
    assert "?first=2026-11-27&view=week" in doc.hrefs()


def test_a_week_in_another_zone_with_filters() -> None:
    st = state(
        campaign("daily", spec=DAILY, labels={"team": "a"}),
        campaign("other", spec=DAILY, labels={"team": "b"}),
    )
    filters = CalendarQuery(label=("team", "a"))
    html = pages.calendar_page(st, dt.date(2026, 12, 2), "week", "Asia/Tokyo", filters, NOW)
    assert "<h1>Week of 2026-11-30</h1>" in html
    assert html.count('<td class="day') == 7
    assert "/campaigns/other" not in html
    assert '<time class="slot upcoming" datetime="2026-12-02T18:00:00+09:00">18:00</time>' in html
    doc = Document(html)
    assert doc.hrefs("prev") == ["?first=2026-11-23&view=week&tz=Asia%2FTokyo&label=team%3Da"]
    assert doc.hrefs("next") == ["?first=2026-12-07&view=week&tz=Asia%2FTokyo&label=team%3Da"]


# -- drift ---------------------------------------------------------------------------------------


def test_drift_shows_what_the_outside_version_changed(runtime: Platform) -> None:
    apply(runtime, [manifest("weekly"), manifest("calm")])
    c = runtime.snapshot().campaigns["weekly"]
    runtime.edit("weekly", with_subject(RECURRING, "Edited"), c.etag, "console:dana")
    html = pages.drift_page(runtime.snapshot(), runtime.history())
    assert '<h2><a href="/campaigns/weekly">weekly</a></h2>' in html
    assert "/campaigns/calm" not in html
    assert (
        'Live version v2 was written by <span class="v">console:dana</span> (<span class="v">'
        "console</span>), 2026-11-27T12:00:00.000Z."
    ) in html
    assert rows(html, "diff") == [["~ spec.content.subject", '"Hello"', '"Edited"']]
    without_history = pages.drift_page(runtime.snapshot())
    assert "The history does not hold the write that made it." in without_history


def test_no_drift() -> None:
    html = pages.drift_page(state(campaign("alpha")))
    assert "No drift: every live version was written by the reconciler." in html


# -- plans ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    id: str
    plan_id: str
    ref: str | None
    published_at: str
    published_by: str
    summary: Mapping[str, int] | str


def test_plans_are_listed_newest_first() -> None:
    plans = [
        Published("p1", "plan-1", "pr/12@abc", "2026-11-26T10:00:00Z", "ci",
                  {"activate": 2, "unchanged": 3}),
        Published("p2", "plan-2", None, "2026-11-27T10:00:00Z", "TOKEN ci (for CLAIMED eve)",
                  {"stop": 1, "unchanged": 0, "errors": 1}),
    ]  # fmt: skip
    html = pages.plans_page(plans)
    assert rows(html, "plans") == [
        ["plan-2", "-", "2026-11-27T10:00:00Z", "TOKEN ci (for CLAIMED eve)",
         "1 to stop; 0 unchanged; 1 error"],
        ["plan-1", "pr/12@abc", "2026-11-26T10:00:00Z", "ci", "2 to activate; 3 unchanged"],
    ]  # fmt: skip
    assert Document(html).hrefs()[-2:] == ["/plans/p2", "/plans/p1"]


def test_a_plan_is_shown_as_the_markdown_view_shows_it(runtime: Platform) -> None:
    apply(runtime, [manifest("weekly"), manifest("stopme")])
    plan = planner.plan(
        [manifest("weekly", with_subject(RECURRING, "New")), manifest("stopme", run="stopped"),
         manifest("fresh", state="draft")],
        runtime.snapshot(), now=NOW,
    )  # fmt: skip
    info = Published("p1", plan.plan_id, "pr/7", "2026-11-27T12:00:00Z", "ci", plan.summary())
    html = pages.plan_page(plan, info)
    headings = [h for h in html.split("\n") if h.startswith("<h2>")]
    assert headings == ["<h2>Stop (1)</h2>", "<h2>Replace (1)</h2>", "<h2>Create (1)</h2>"]
    assert (
        '<p class="summary"><strong>1 to create, 1 to replace, 1 to stop; 0 unchanged</strong></p>'
        in html
    )
    assert (
        '<p class="head"><code class="symbol">-/+</code> <a href="/campaigns/weekly">weekly</a> '
        "v1 -&gt; v2 · <code>campaigns/weekly.yaml</code></p>"
    ) in html
    assert ('<p class="reason">spec changed; the new version replaces live version 1</p>') in html
    assert (
        '<li class="changed"><code>~ spec.content.subject: &#34;Hello&#34; -&gt; &#34;New&#34;'
        "</code></li>"
    ) in html
    assert '<span class="v">pr/7</span> · published 2026-11-27T12:00:00Z by' in html


# -- signing in, the layout ----------------------------------------------------------------------


def test_the_sign_in_form() -> None:
    html = pages.signin_page("csrf-123", "that token is not known")
    assert '<form class="signin" method="post" action="/signin">' in html
    assert '<input type="hidden" name="csrf" value="csrf-123">' in html
    assert '<input type="password" name="token" autocomplete="off" required>' in html
    assert '<p class="error" role="alert">that token is not known</p>' in html
    assert "Sign out" not in html


def test_a_signed_in_page_has_a_sign_out_form() -> None:
    html = pages.drift_page(SAMPLE, csrf='x"y', signed_in_as="TOKEN me (for CLAIMED <b>)")
    assert (
        '<form class="signout" method="post" action="/signout">\n<span class="who">signed in as '
        '<span class="v">TOKEN me (for CLAIMED &lt;b&gt;)</span></span>\n'
        '<input type="hidden" name="csrf" value="x&#34;y">'
    ) in html


# -- hostile strings -----------------------------------------------------------------------------

HOSTILE = (*STRINGS, SCRIPT, '"><script>alert(1)</script>', "x" * 300)


def hostile_campaign(h: str) -> Campaign:
    spec = {**RECURRING, "audience": {"segment": h}, "content": {h: h, "body": h}}
    live = version(1, spec, title=h, labels={h: h}, actor=h, origin=h)
    return Campaign(h, Channel.EMAIL, Kind.RECURRING, Status.LIVE, live, version(2, RECURRING), h,
                    copied_from=h)  # fmt: skip


def hostile_pages() -> dict[str, str]:
    st = RuntimeState(1, {h: hostile_campaign(h) for h in HOSTILE})
    last = {h: entry(h, STAMP, h, commit=h, plan_id=h, operation=h) for h in HOSTILE}
    history = [
        entry(h, STAMP, h, i, commit=h, plan_id=h, operation="edit",
              before={"live": version(1).to_json()},
              after={"live": st.campaigns[h].live.to_json()})  # type: ignore[union-attr]
        for i, h in enumerate(HOSTILE)
    ]  # fmt: skip
    sendings = [
        Sending(h, h, 1, "2026-11-23T09:00:00.000Z", SendingOutcome.SENT, reason=h) for h in HOSTILE
    ]
    first = HOSTILE[0]
    return {
        "campaigns": pages.campaigns_page(st, last, Query(text=None), NOW, "UTC",
                                          signed_in_as=first, csrf=first),
        "campaign": pages.campaign_page(st.campaigns[first], history, sendings, list(HOSTILE),
                                        (1, 2), NOW, "UTC"),
        "calendar": pages.calendar_page(st, NOW.date(), "month", "UTC", CalendarQuery(), NOW,
                                        sendings),
        "drift": pages.drift_page(st, history),
        "error": pages.error_page(400, "\n".join(HOSTILE)),
        "signin": pages.signin_page(first, first),
    }  # fmt: skip


PAGES = hostile_pages()


@pytest.mark.parametrize("page", sorted(PAGES))
def test_no_hostile_string_gets_out_of_its_text(page: str) -> None:
    html = PAGES[page]
    html.encode("utf-8")  # a lone surrogate is made visible, or the response could not be sent
    assert "<script>" not in html and "<script " not in html.replace(
        '<script src="/static/dashboard.js" defer></script>', ""
    )
    assert "<img" not in html
    for char in ("\u202e", "\u2066", "\x1b", "\x07", "\x9b", "\u2028", "\udcff"):
        assert char not in html
    doc = Document(html)
    for tag, attrs in doc.elements:
        # nothing a Content-Security-Policy without inline scripts and styles would block
        assert "style" not in attrs
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        if tag == "script":
            assert attrs == {"src": "/static/dashboard.js", "defer": None}
    assert [tag for tag, _ in doc.elements].count("script") == 1


def test_hostile_strings_are_escaped_exactly() -> None:
    html = PAGES["campaigns"]
    assert (
        '<td class="name"><a href="/campaigns/%3C%2Fdetails%3E%3Cimg%20src%3Dx%20onerror%3D'
        'alert%281%29%3E">&lt;/details&gt;&lt;img src=x onerror=alert(1)&gt;</a></td>'
    ) in html
    assert '<td class="title">&lt;script&gt;alert(1)&lt;/script&gt;</td>' in html
    assert '<a href="/campaigns/%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E">' in html
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<td class="name"><a href="/campaigns/%E2%80%AEexe.txt">\\u202eexe.txt</a></td>' in html
    assert "bell\\x07" in html and "\\x1b[31mred" in html and "\\x9b31mc1" in html
    assert "line\\u2028separator" in html and "not utf-8 \\udcff" in html
    assert "tab\\tcr\\r" in html and "x\\nevil.yaml:1:1: all good.yaml" in html
    # the layout's name and token, in text and in an attribute
    assert (
        '<input type="hidden" name="csrf" value="&lt;/details&gt;&lt;img src=x onerror=alert(1)'
        '&gt;">'
    ) in html


def test_hostile_strings_in_a_diff_and_the_calendar() -> None:
    campaign_html = PAGES["campaign"]
    assert (
        '<span class="line">&lt;/details&gt;&lt;img src=x onerror=alert(1)&gt;</span>'
        not in campaign_html  # short: one line, not side by side
    )
    assert (
        '<tr class="change removed"><th scope="row" class="path"><span class="sign">-</span> '
        '<span class="v">spec.content.&lt;/details&gt;&lt;img src=x onerror=alert(1)&gt;</span>'
        '</th>\n<td class="before">&#34;&lt;/details&gt;&lt;img src=x onerror=alert(1)&gt;&#34;'
        '</td>\n<td class="after"></td>\n</tr>\n'
    ) in campaign_html
    calendar_html = PAGES["calendar"]
    assert (
        '<li class="ch-email status-live">\n<a href="/campaigns/%3Cscript%3Ealert%281%29%3C%2F'
        'script%3E">&lt;script&gt;alert(1)&lt;/script&gt;</a>'
    ) in calendar_html


def test_long_values_wrap_inside_their_cells() -> None:
    css = (static_dir() / "dashboard.css").read_text()
    assert "overflow-wrap: anywhere" in css.split("th, td {")[1].split("}")[0]
    assert "table-layout: fixed" in css
    assert "x" * 300 in PAGES["campaigns"]  # whole, in a cell that wraps it


def test_the_static_files_ship_with_the_package() -> None:
    names = sorted(p.name for p in Path(str(static_dir())).iterdir())
    assert names == ["dashboard.css", "dashboard.js"]
