"""The dashboard in a real browser: Debian's Chromium, driven by Playwright for Python, against a
real ``reconciler serve`` on a loopback port, set up the way the README's "Dashboard" section tells
a new user to (the example campaigns applied, a viewer's token, ``reconciler serve``, the printed
URL). Then what a person does there: sign in, filter and sort the campaigns, open one, compare two
of its versions, page the calendar, read a published plan and the drift, sign out. And campaigns
whose titles, labels, segments and content are the hostile strings of tests/hostile.py, rendered
with no script running and nothing out of its cell.

The assertions are on the texts a person reads, not on screenshots. With
``RECONCILER_SCREENSHOTS=1`` the tests also write the README's screenshots,
``docs/dashboard-*.png``.

Without a browser these tests skip, saying how to get one; in CI (``RECONCILER_REQUIRE_BROWSER=1``,
set by .ci/run) they fail instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import hostile
from reconciler import escape
from reconciler.runtime.access import Role
from serving import make_token, wait_ready

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
NOW = "2026-11-27T12:00:00Z"
CHROMIUM = os.environ.get("RECONCILER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = os.environ.get("RECONCILER_SCREENSHOTS") == "1"
VIEWPORT = {"width": 1280, "height": 800}
EXAMPLES = [
    "app-rating-prompt",
    "black-friday-email",
    "black-friday-sms",
    "checkout-free-shipping-banner",
    "cyber-monday-email",
    "daily-deal-push",
    "homepage-hero-offer",
    "loyalty-card",
    "monthly-product-update",
    "weekly-digest",
    "winter-sale",
]


def _unavailable(reason: str) -> None:
    """No browser here: a skip that says how to get one, or, in CI, a failure."""
    if os.environ.get("RECONCILER_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (RECONCILER_REQUIRE_BROWSER=1: the browser tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed: pip install -e '.[test]'")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
    except Error as exc:
        playwright.stop()
        first = str(exc).strip().splitlines()[0]
        _unavailable(
            f"Chromium cannot be launched from {CHROMIUM} ({first}): apt-get install chromium"
        )
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


# --- the service, as the README's new user starts it --------------------------------------------


def dashboard_section() -> str:
    text = (REPO / "README.md").read_text()
    found = re.search(r"^## Dashboard\n(.*?)(?=^## )", text, flags=re.S | re.M)
    assert found is not None, "the README has no Dashboard section"
    return found.group(1)


def readme_commands() -> list[str]:
    """The commands of the README's "Dashboard" section, in its order."""
    block = re.search(r"```sh\n(.*?)```", dashboard_section(), flags=re.S)
    assert block is not None
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def printed_url() -> str:
    """What the README says ``reconciler serve`` prints."""
    found = re.search(r"`(serving runtime \S+ at http://\S+)`", dashboard_section())
    assert found is not None
    return found.group(1)


@dataclass
class Site:
    url: str
    viewer: str  # the viewer's token the README has the new user make
    admin: str
    store: str
    proc: subprocess.Popen[bytes]
    log: Path


def cli(cwd: Path, *args: str, token: str | None = None, check: bool = True) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    env["RECONCILER_NOW"] = NOW
    if token is not None:
        env["RECONCILER_TOKEN"] = token
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert not check or done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def start(cwd: Path, command: list[str]) -> tuple[subprocess.Popen[bytes], Path, str]:
    """``reconciler serve`` as the README runs it, on a free port; its printed line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    env["RECONCILER_NOW"] = NOW  # the service's clock, so the calendar opens on November 2026
    log = cwd / "serve.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reconciler", *command, "--listen", "127.0.0.1:0"],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    deadline = time.monotonic() + 30
    while True:
        lines = [x for x in log.read_text().splitlines() if x.startswith("serving runtime")]
        if lines:
            break
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    return proc, log, lines[0]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[Site]:
    """The README's path: the examples applied, ``token create me --role viewer``, ``serve``;
    and, for the pages to show something more, a second version of the weekly digest, a drift
    written through the service and a plan published for pull request 42."""
    here = tmp_path_factory.mktemp("clone")
    shutil.copytree(REPO / "campaigns", here / "campaigns")
    shutil.copy(REPO / "reconciler.yaml", here)
    commands = readme_commands()
    assert [c.split(" >")[0] for c in commands] == [
        "reconciler apply",
        "reconciler token create me --role viewer",
        "reconciler serve",
    ]
    cli(here, "apply")
    digest = here / "campaigns/newsletters/weekly-digest.yaml"
    digest.write_text(
        digest.read_text().replace("This week at Northwind", "This week at Northwind: our picks")
    )
    cli(here, "apply")  # the digest's live version 2
    viewer = cli(here, *commands[1].split(" >")[0].split()[1:]).strip()
    store = f"sqlite:///{here / '.reconciler/runtime.db'}"
    admin = make_token(store, "admin", Role.ADMINISTRATOR)
    proc, log, line = start(here, commands[2].split()[1:])
    try:
        url = line.rsplit(" at ", 1)[1]
        shown = printed_url()
        assert line == shown.replace("127.0.0.1:8080", url.removeprefix("http://")), line
        wait_ready(url)
        cli(here, "runtime", "edit", "daily-deal-push", "--set",
            'content.title="Deal of the day: 50% off"', "--runtime", url, token=admin)  # fmt: skip
        said = cli(here, "plan", "--publish", "--ref", "pr-42", "--runtime", url, token=viewer)
        assert "daily-deal-push" in said
        yield Site(url, viewer, admin, store, proc, log)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# --- the browser --------------------------------------------------------------------------------


class Watched:
    """A page whose every dialog, uncaught error and console error is recorded: a script that
    runs where none should is one of them."""

    def __init__(self, browser: Any, url: str) -> None:
        self.context = browser.new_context(
            viewport=VIEWPORT, timezone_id="UTC", base_url=url, java_script_enabled=True
        )
        self.page = self.context.new_page()
        self.url = url
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("console", self._console)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _console(self, message: Any) -> None:
        # the browser asks for /favicon.ico, which the dashboard does not have
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            self.errors.append(f"console: {message.text}")

    def sign_in(self, token: str) -> None:
        self.page.goto("/")
        assert self.page.url == f"{self.url}/signin"
        self.page.fill("input[name=token]", token)
        self.page.click("form.signin button[type=submit]")
        assert self.page.url == f"{self.url}/"

    def text(self, selector: str) -> str:
        return str(self.page.locator(selector).first.inner_text()).strip()

    def texts(self, selector: str) -> list[str]:
        return [str(t).strip() for t in self.page.locator(selector).all_inner_texts()]

    def names(self) -> list[str]:
        return self.texts("table.campaigns tbody td.name")

    def shoot(self, name: str, full_page: bool = False) -> None:
        if SCREENSHOTS:
            path = REPO / "docs" / f"dashboard-{name}.png"
            self.page.screenshot(path=str(path), full_page=full_page)

    def clean(self) -> None:
        assert self.dialogs == []
        assert self.errors == []
        assert self.page.evaluate("typeof window.__pwned") == "undefined"

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def web(chromium: Any, site: Site) -> Iterator[Watched]:
    watched = Watched(chromium, site.url)
    yield watched
    watched.clean()
    watched.close()


def cells_per_row(web: Watched, table: str) -> list[int]:
    """How many cells each row of ``table`` has: its header's count when nothing broke out."""
    return list(
        web.page.eval_on_selector_all(f"{table} tr", "rows => rows.map(r => r.cells.length)")
    )


# --- what a person does -------------------------------------------------------------------------


def test_signing_in_with_the_viewers_token_shows_the_example_campaigns(
    web: Watched, site: Site
) -> None:
    web.page.goto("/")
    assert web.page.url == f"{site.url}/signin"
    assert web.text("h1") == "Sign in"
    web.shoot("signin")
    web.page.fill("input[name=token]", "rcn_" + "x" * 43)
    web.page.click("form.signin button[type=submit]")
    assert web.text("p.error") == "this token is not known here (revoked, or mistyped)"
    # the browser logs the 401 of the refused sign-in as an error: that one was expected
    assert web.errors == [
        "console: Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]
    web.errors.clear()
    web.sign_in(site.viewer)
    assert web.page.title() == "Campaigns · reconciler"
    assert web.text("h1") == "Campaigns"
    assert web.text(".who") == "signed in as me (viewer)"
    assert web.text("p.count") == "11 campaigns · runtime revision 13"
    assert web.names() == EXAMPLES
    headers = web.texts("table.campaigns thead th")
    assert headers == ["Name", "Title", "Status", "Kind", "Channel", "Live", "Draft", "Drift",
                       "Next sending", "Last change"]  # fmt: skip
    assert set(cells_per_row(web, "table.campaigns")) == {len(headers)}
    digest = web.texts("table.campaigns tbody tr:has(a[href='/campaigns/weekly-digest']) td")
    assert digest[:8] == ["weekly-digest", "Weekly digest", "live", "recurring", "email",
                          "v2", "-", "-"]  # fmt: skip
    assert digest[8] == "Mon 2026-11-30 08:00 UTC"
    drifted = web.texts("table.campaigns tbody tr:has(a[href='/campaigns/daily-deal-push']) td")
    assert drifted[7] == "drift by admin (for console)"
    web.shoot("campaigns")


def test_the_list_filters_by_status_channel_and_text_and_sorts(web: Watched, site: Site) -> None:
    web.sign_in(site.viewer)
    web.page.select_option("select[name=status]", "scheduled")
    web.page.click("form.filters button[type=submit]")
    assert web.text("p.count") == "4 campaigns · runtime revision 13"
    assert web.names() == [
        "black-friday-email",
        "black-friday-sms",
        "cyber-monday-email",
        "monthly-product-update",
    ]
    web.page.select_option("select[name=channel]", "email")
    web.page.click("form.filters button[type=submit]")
    assert web.names() == ["black-friday-email", "cyber-monday-email", "monthly-product-update"]
    web.page.select_option("select[name=status]", "")
    web.page.fill("input[name=q]", "digest")
    web.page.click("form.filters button[type=submit]")
    assert web.text("p.count") == "1 campaign · runtime revision 13"
    assert web.names() == ["weekly-digest"]
    web.page.goto("/")
    web.page.click("table.campaigns thead a:text-is('Name')")  # sorted by name already: reversed
    assert web.text("th[aria-sort]") == "Name"
    assert web.page.get_attribute("th[aria-sort]", "aria-sort") == "descending"
    assert web.names() == EXAMPLES[::-1]
    web.page.click("table.campaigns thead a:text-is('Next sending')")
    assert web.names()[:3] == ["daily-deal-push", "weekly-digest", "monthly-product-update"]


def test_a_campaign_shows_its_versions_and_the_diff_between_two(web: Watched, site: Site) -> None:
    web.sign_in(site.viewer)
    web.page.click("a[href='/campaigns/weekly-digest']")
    assert web.page.url == f"{site.url}/campaigns/weekly-digest"
    assert web.text("h1") == "weekly-digest Weekly digest"
    assert web.texts("table.versions tbody td:first-child") == ["v2", "v1"]
    assert web.texts("ul.labels li") == ["team=content", "tier=core"]
    assert web.texts("table.history tbody td.op") == ["replace", "activate"]
    web.page.select_option("form.compare select[name=from]", "1")
    web.page.select_option("form.compare select[name=to]", "2")
    web.page.click("form.compare button[type=submit]")
    assert web.text("h2#diff") == "v1 → v2"
    rows = web.page.locator("table.diff tbody tr")
    assert rows.count() == 1
    assert web.text("table.diff tbody th") == "~ spec.content.subject"
    assert web.text("table.diff td.before") == '"This week at Northwind"'
    assert web.text("table.diff td.after") == '"This week at Northwind: our picks"'
    web.shoot("campaign")


def test_the_calendar_opens_on_the_services_month_and_pages(web: Watched, site: Site) -> None:
    web.sign_in(site.viewer)
    web.page.click("header nav a:text-is('Calendar')")
    assert web.text("h1") == "November 2026"
    assert web.text("td.today time") == "27"
    monday = "td.day:has(time[datetime='2026-11-30'])"
    assert "weekly-digest" in web.texts(f"{monday} li a")
    web.shoot("calendar", full_page=True)
    web.page.click("nav.pager a[rel=next]")
    assert web.text("h1") == "December 2026"
    web.page.click("nav.pager a[rel=prev]")
    web.page.click("nav.pager a[rel=prev]")
    assert web.text("h1") == "October 2026"
    web.page.click("nav.pager a:text-is('today')")
    web.page.click("nav.pager a:text-is('week view')")
    assert web.text("h1").startswith("Week of 2026-11-2")
    assert len(web.texts("table.calendar tbody td")) == 7


def test_a_published_plan_and_the_drift(web: Watched, site: Site) -> None:
    web.sign_in(site.viewer)
    web.page.click("header nav a:text-is('Plans')")
    assert web.text("h1") == "Plans"
    row = web.texts("table.plans tbody tr td")
    assert row[1] == "pr-42" and row[3] == "me"
    web.shoot("plans")
    web.page.click("table.plans tbody a")
    assert web.text("h1").startswith("Plan ")
    assert web.text("p.published").startswith("pr-42 · published ")
    assert web.texts("section.group h2") == ["Replace (1)"]
    assert web.text("section.group li p.head") == (
        "-/+ daily-deal-push v2 -> v3 · drift by admin (for console) · "
        "campaigns/promotions/daily-deal-push.yaml"
    )
    web.shoot("plan")
    web.page.click("header nav a:text-is('Drift')")
    assert web.texts("section.drifted h2") == ["daily-deal-push"]
    assert web.text("section.drifted p") == (
        "Live version v2 was written by admin (for console) (console), 2026-11-27T12:00:00.000Z."
    )
    assert web.text("table.diff td.after") == '"Deal of the day: 50% off"'
    web.shoot("drift")


def test_signing_out_ends_the_session(web: Watched, site: Site) -> None:
    web.sign_in(site.viewer)
    web.page.click("form.signout button[type=submit]")
    assert web.page.url == f"{site.url}/signin"
    web.page.goto("/calendar")
    assert web.page.url == f"{site.url}/signin"


# --- hostile values -----------------------------------------------------------------------------

#: scripts that announce themselves in window.__pwned, besides hostile.py's alert(1)
PAYLOADS = (
    '"><script>window.__pwned=1</script>',
    '<img src=x onerror="window.__pwned=1">',
    "<svg onload=window.__pwned=1>",
    "</td></tr></table><b>out</b>",
)
#: a manifest is UTF-8, which has no lone surrogate: every other string
STRINGS = tuple(h for h in hostile.UTF8.strings) + PAYLOADS
#: what a console edit writes into hostile-00, for the drift page's diff
DRIFTED = PAYLOADS[1]


def hostile_manifests() -> str:
    """A campaign per string, with it in every free-text field: title, a label's key and value,
    the segment, the content. (Names are a-z, 0-9 and '-': they cannot hold one.)"""
    docs = [
        {
            "apiVersion": "reconciler/v1",
            "kind": "Campaign",
            "metadata": {"name": f"hostile-{i:02d}", "title": h, "labels": {"team": h, h: "x"}},
            "spec": {
                "state": "live",
                "channel": "email",
                "audience": {"segment": h},
                "content": {"subject": h, "body": h},
                "schedule": {"recurring": {"every": "week", "on": ["mon"], "at": "09:00"}},
            },
        }
        for i, h in enumerate(STRINGS)
    ]
    return yaml.safe_dump_all(docs, allow_unicode=False)


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[Site]:
    here = tmp_path_factory.mktemp("hostile")
    (here / "campaigns").mkdir()
    (here / "campaigns/hostile.yaml").write_text(hostile_manifests())
    store = f"sqlite:///{here / 'runtime.db'}"
    # applied, not made by `runtime create`, which records no title or labels on the version
    said = cli(here, "apply", "--runtime", store)
    assert said.count("done    activate hostile-") == len(STRINGS), said
    # a drift whose diff holds them too
    subject = f"content.subject={json.dumps(DRIFTED)}"
    cli(here, "runtime", "edit", "hostile-00", "--set", subject, "--runtime", store)
    viewer = make_token(store, "vera", Role.VIEWER)
    proc, log, line = start(here, ["serve", "--runtime", store])
    try:
        url = line.rsplit(" at ", 1)[1]
        wait_ready(url)
        yield Site(url, viewer, "", store, proc, log)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_hostile_titles_and_labels_stay_text_in_their_cells(
    chromium: Any, hostile_site: Site
) -> None:
    web = Watched(chromium, hostile_site.url)
    try:
        web.sign_in(hostile_site.viewer)
        web.page.goto("/?per_page=200")
        assert (
            web.text("p.count") == f"{len(STRINGS)} campaigns · runtime revision {len(STRINGS) + 1}"
        )
        headers = len(web.texts("table.campaigns thead th"))
        assert set(cells_per_row(web, "table.campaigns")) == {headers}
        titles = web.page.eval_on_selector_all(
            "table.campaigns tbody td.title", "cells => cells.map(c => c.textContent)"
        )
        # hostile-00's live version is the console's edit: it keeps the title it replaced
        assert titles == [escape.text(h) for h in STRINGS]
        for i, h in enumerate(STRINGS):
            web.page.goto(f"/campaigns/hostile-{i:02d}")
            if i:  # hostile-00's console edit recorded no title or labels
                assert web.page.text_content("h1 small.title") == escape.text(h)
                labels = web.page.eval_on_selector_all(
                    "ul.labels li", "items => items.map(i => i.textContent)"
                )
                assert sorted(labels) == sorted([f"{escape.text(h)}=x", f"team={escape.text(h)}"])
            for table in ("table.versions", "table.history"):
                assert len(set(cells_per_row(web, table))) == 1, (h, table)
        for path in ("/calendar?first=2026-11-01", "/calendar?view=week", "/drift", "/plans"):
            web.page.goto(path)
            assert web.page.locator("main h1").count() == 1
        web.page.goto("/drift")
        assert web.texts("section.drifted h2") == ["hostile-00"]
        assert set(cells_per_row(web, "table.diff")) == {3}
        before, after = (web.page.text_content(f"table.diff td.{x}") for x in ("before", "after"))
        assert (before, after) == (escape.text(json.dumps(STRINGS[0])), json.dumps(DRIFTED))
        assert web.page.locator("main b").count() == 0  # no element made of a value
        web.clean()
    finally:
        web.close()
