"""The runtime's engine, driven by ticks at explicit moments: one test per rule of
``runtime/engine.py`` and of issue 5's stop and replace semantics, with the exact state expected.

Everything goes through the command line (`apply` with RECONCILER_NOW pinned, `runtime tick --now`,
`status`, `runtime sendings`, `plan`) or the library (`api.Options(now=...)`, `api.apply`,
`api.tick`), on a fresh ``memory://NAME`` runtime and on a SQLite file. Schedules are in UTC so that
the arithmetic is plain: 2026-12-01 is a Tuesday; the daily campaign sends at 09:00.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from backends import STORE_BACKENDS, backend_url
from factories import cli_environment
from reconciler import api
from reconciler.cli import cli
from reconciler.model import Action
from reconciler.runtime.base import Provenance, Write
from reconciler.runtime.engine import DEFAULT_RATE, DEFAULT_SEGMENT_SIZE, GRACE, MISSED

APPLIED = "2026-12-01T08:00:00Z"  # when the manifests are first applied, unless a test says else

DAILY = 'recurring: {every: day, at: "09:00"}'
HOURLY = 'recurring: {cron: "0 * * * *"}'
ENDING = (
    'recurring: {every: day, at: "09:00", start: "2026-12-01T00:00:00Z", '
    'end: "2026-12-03T12:00:00Z"}'
)
LATER = 'recurring: {every: day, at: "09:00", start: "2026-12-10T00:00:00Z"}'
ONCE = 'once: {at: "2026-12-01T10:00:00Z"}'

#: each command here pins its own time (RECONCILER_NOW), which a runtime service does not take
#: from its clients (its clock is its own): the http backend runs the contract suite, and the
#: commands over it are tested in tests/service/test_service_cli.py
BACKENDS_HERE = STORE_BACKENDS


def manifest(
    name: str,
    *,
    channel: str = "email",
    segment: str = "newsletter",
    schedule: str | None = None,
    run: str = "running",
    subject: str = "Hello",
    throttle: int | None = None,
) -> str:
    """A campaign manifest as a team would write it; schedules are in UTC."""
    lines = [
        "apiVersion: reconciler/v1",
        "kind: Campaign",
        f"metadata: {{name: {name}}}",
        "spec:",
        "  state: live",
        f"  run: {run}",
        f"  channel: {channel}",
    ]
    if channel == "email":
        lines += [
            f"  audience: {{segment: {segment}}}",
            f'  content: {{subject: "{subject}", body: "Hi"}}',
        ]
    elif channel == "sms":
        lines += [f"  audience: {{segment: {segment}}}", f'  content: {{text: "{subject}"}}']
    else:  # inbound
        lines += [f'  content: {{title: "{subject}", body: "Hi"}}']
    if schedule is not None:
        lines += ["  schedule:", f"    {schedule}", "    timezone: UTC"]
    if throttle is not None:
        lines.append(f"  throttle: {{perSecond: {throttle}}}")
    return "\n".join(lines) + "\n"


def ms(moment: str) -> str:
    """A moment as the runtime writes it: 2026-12-01T09:00:00Z -> 2026-12-01T09:00:00.000Z."""
    return moment.replace("Z", ".000Z")


def sending(
    name: str,
    scheduled: str,
    started: str | None,
    ends: str | None,
    *,
    outcome: str = "sent",
    version: int = 1,
) -> dict[str, Any]:
    """A sending record exactly as `runtime sendings --format json` and `status` show it."""
    return {
        "id": f"{name}@{ms(scheduled)}",
        "campaign": name,
        "version": version,
        "scheduled": ms(scheduled),
        "outcome": outcome,
        "started": ms(started) if started else None,
        "ends": ms(ends) if ends else None,
        "reason": MISSED if outcome == "skipped" else None,
    }


def skipped(name: str, scheduled: str, *, version: int = 1) -> dict[str, Any]:
    return sending(name, scheduled, None, None, outcome="skipped", version=version)


@dataclass
class Lab:
    """A manifest directory and one runtime, driven at explicit moments."""

    root: Path
    url: str

    def write(self, name: str, text: str) -> None:
        (self.root / "campaigns" / f"{name}.yaml").write_text(text)

    def cli(self, *args: str, now: str | None = None) -> Result:
        return CliRunner().invoke(
            cli, list(args), env={"RECONCILER_NOW": now}, catch_exceptions=False
        )

    def apply(self, now: str) -> str:
        result = self.cli("apply", now=now)
        assert result.exit_code == 0, result.output
        return result.output

    def tick(self, now: str) -> str:
        result = self.cli("runtime", "tick", "--now", now)
        assert result.exit_code == 0, result.output
        return result.output

    def segment(self, name: str, size: int) -> None:
        result = self.cli("runtime", "segment", name, "--size", str(size))
        assert (result.exit_code, result.output) == (0, f"segment {name}: {size} recipients\n")

    def status(self, name: str, now: str) -> dict[str, Any]:
        result = self.cli("status", name, "--format", "json", now=now)
        assert result.exit_code == 0, result.output
        campaigns = json.loads(result.output)["campaigns"]
        assert len(campaigns) == 1
        found: dict[str, Any] = campaigns[0]
        return found

    def state(self, name: str, now: str) -> tuple[str, int | None]:
        """(status, live version) at ``now``."""
        row = self.status(name, now)
        return row["status"], row["live_version"]

    def sendings(self, name: str | None = None) -> list[dict[str, Any]]:
        result = self.cli("runtime", "sendings", *([name] if name else []), "--format", "json")
        assert result.exit_code == 0, result.output
        found: list[dict[str, Any]] = json.loads(result.output)["sendings"]
        return found

    def options(self, now: str | None = None) -> api.Options:
        return api.Options(self.url, now=at(now) if now else None)


def at(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


@pytest.fixture
def lab(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    url = backend_url(backend, tmp_path, label="test-engine", file="runtime.db")
    monkeypatch.chdir(tmp_path)
    cli_environment(monkeypatch, runtime=url, now=None)
    (tmp_path / "campaigns").mkdir()
    yield Lab(tmp_path, url)


# --- going live, sending once, completing -------------------------------------------------------


def test_a_campaign_whose_start_lies_ahead_is_scheduled_and_goes_live_at_its_start(
    lab: Lab,
) -> None:
    lab.write("advent", manifest("advent", schedule=LATER))
    lab.apply(APPLIED)
    row = lab.status("advent", APPLIED)
    assert (row["status"], row["next_sending"]) == ("scheduled", "2026-12-10T09:00:00.000Z")

    assert lab.tick("2026-12-09T23:59:59Z") == ""
    assert lab.state("advent", "2026-12-09T23:59:59Z") == ("scheduled", 1)
    assert lab.tick("2026-12-10T00:00:00Z") == "advent: live (live)\n"
    assert lab.state("advent", "2026-12-10T00:00:00Z") == ("live", 1)
    assert lab.sendings() == []  # live is not sending: its first slot is at 09:00
    assert lab.tick("2026-12-10T09:00:00Z") == (
        "advent: send (live) - running Thu 2026-12-10 09:00 UTC until Thu 2026-12-10 09:01:40 UTC\n"
    )


def test_a_once_campaign_sends_at_its_time_and_is_completed_after_its_sending(lab: Lab) -> None:
    lab.write("launch", manifest("launch", segment="vip", schedule=ONCE))
    lab.apply(APPLIED)
    row = lab.status("launch", APPLIED)
    assert (row["status"], row["next_sending"]) == ("scheduled", "2026-12-01T10:00:00.000Z")

    assert lab.tick("2026-12-01T09:59:59Z") == ""
    # its time: live, and sending to the unknown segment vip (10,000) at 100/s: 100 seconds
    assert lab.tick("2026-12-01T10:00:00Z") == (
        "launch: live, send (live) - running Tue 2026-12-01 10:00 UTC "
        "until Tue 2026-12-01 10:01:40 UTC\n"
    )
    row = lab.status("launch", "2026-12-01T10:01:00Z")
    running = sending(
        "launch",
        "2026-12-01T10:00:00Z",
        "2026-12-01T10:00:00Z",
        "2026-12-01T10:01:40Z",
        outcome="running",
    )
    assert (row["status"], row["next_sending"], row["sending_in_progress"]) == (
        "live",
        None,
        running,
    )
    assert lab.tick("2026-12-01T10:01:39Z") == ""
    assert lab.tick("2026-12-01T10:01:40Z") == (
        "launch: sent, completed (completed) - sent Tue 2026-12-01 10:00 UTC\n"
    )
    assert lab.sendings("launch") == [
        sending("launch", "2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z", "2026-12-01T10:01:40Z")
    ]
    # completed is final: later ticks change nothing
    assert lab.tick("2026-12-02T10:00:00Z") == ""
    assert lab.tick("2027-12-01T10:00:00Z") == ""
    assert lab.state("launch", "2027-12-01T10:00:00Z") == ("completed", 1)
    assert len(lab.sendings()) == 1


def test_a_one_time_campaign_without_schedule_sends_on_activation_and_completes(lab: Lab) -> None:
    lab.write("flash", manifest("flash", channel="sms", segment="everyone"))
    lab.segment("everyone", 250)  # 250 recipients at 100/s: ceil(2.5) = 3 seconds
    lab.apply(APPLIED)
    assert lab.state("flash", APPLIED) == ("live", 1)

    assert lab.tick("2026-12-01T08:00:05Z") == (
        "flash: send (live) - running Tue 2026-12-01 08:00 UTC until Tue 2026-12-01 08:00:08 UTC\n"
    )
    assert lab.tick("2026-12-01T08:00:07Z") == ""
    assert lab.state("flash", "2026-12-01T08:00:07Z") == ("live", 1)
    assert lab.tick("2026-12-01T08:00:08Z") == (
        "flash: sent, completed (completed) - sent Tue 2026-12-01 08:00 UTC\n"
    )
    assert lab.sendings() == [
        sending("flash", APPLIED, "2026-12-01T08:00:05Z", "2026-12-01T08:00:08Z")
    ]
    assert lab.tick("2026-12-02T08:00:00Z") == ""
    assert len(lab.sendings()) == 1


# --- what a sending records ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "throttle", "seconds"),
    [
        (6_000, 50, 120),
        (1_001, 100, 11),  # ceil(10.01)
        (2_000, None, 2_000 // DEFAULT_RATE),  # no throttle: 100 per second
        (None, 500, DEFAULT_SEGMENT_SIZE // 500),  # an unknown segment: 10,000 recipients
        (None, None, DEFAULT_SEGMENT_SIZE // DEFAULT_RATE),
        (0, 2_000, 1),  # never shorter than a second
    ],
)
def test_a_sending_lasts_its_segment_at_its_throttle_rate(
    lab: Lab, size: int | None, throttle: int | None, seconds: int
) -> None:
    assert (DEFAULT_SEGMENT_SIZE, DEFAULT_RATE) == (10_000, 100)  # as documented
    lab.write("daily", manifest("daily", schedule=DAILY, throttle=throttle))
    if size is not None:
        api.set_segment(lab.options(), "newsletter", size)
    assert api.apply("campaigns", lab.options(APPLIED)).ok
    steps = api.tick(lab.options(), at("2026-12-01T09:00:00Z"))
    assert [(s.campaign.name, s.events) for s in steps] == [("daily", ("send",))]
    (started,) = api.sendings(lab.options(), "daily").items
    assert (started.started, started.ends) == (
        "2026-12-01T09:00:00.000Z",
        f"2026-12-01T09:{seconds // 60:02d}:{seconds % 60:02d}.000Z",
    )


def test_a_sending_records_id_campaign_version_slot_start_end_and_outcome(lab: Lab) -> None:
    lab.write("daily", manifest("daily", schedule=DAILY, throttle=50))
    lab.segment("newsletter", 6_000)  # 120 seconds
    lab.apply(APPLIED)
    # the engine sees the 09:00 slot 20 seconds late: it starts then, and lasts 120 seconds
    assert lab.tick("2026-12-01T09:00:20Z") == (
        "daily: send (live) - running Tue 2026-12-01 09:00 UTC until Tue 2026-12-01 09:02:20 UTC\n"
    )
    record = sending(
        "daily", "2026-12-01T09:00:00Z", "2026-12-01T09:00:20Z", "2026-12-01T09:02:20Z"
    )
    assert lab.sendings() == [{**record, "outcome": "running"}]
    assert lab.tick("2026-12-01T09:02:19Z") == ""
    assert lab.sendings() == [{**record, "outcome": "running"}]
    assert (
        lab.tick("2026-12-01T09:02:20Z") == "daily: sent (live) - sent Tue 2026-12-01 09:00 UTC\n"
    )
    assert lab.sendings() == [record]
    text = lab.cli("runtime", "sendings", "daily").output
    cells = [cell.strip() for cell in text.splitlines()[1].split("  ") if cell.strip()]
    assert cells == [  # times in the campaign's zone, as plans show them
        "daily",
        "Tue 2026-12-01 09:00 UTC",
        "v1",
        "sent",
        "Tue 2026-12-01 09:00:20 UTC",
        "Tue 2026-12-01 09:02:20 UTC",
        "daily@2026-12-01T09:00:00.000Z",
    ]


# --- recurring ----------------------------------------------------------------------------------


def test_each_recurring_slot_sends_once(lab: Lab) -> None:
    lab.write("daily", manifest("daily", schedule=DAILY))
    lab.segment("newsletter", 3_000)  # 30 seconds
    lab.apply(APPLIED)
    for day in ("01", "02", "03"):
        assert lab.tick(f"2026-12-{day}T09:00:00Z").startswith("daily: send (live)")
        assert lab.tick(f"2026-12-{day}T09:00:00Z") == ""  # the same moment again: nothing
        assert lab.tick(f"2026-12-{day}T09:00:10Z") == ""  # still running
        assert lab.tick(f"2026-12-{day}T09:00:30Z").startswith("daily: sent (live)")
        assert lab.tick(f"2026-12-{day}T09:00:45Z") == ""  # within the grace minute: not again
        assert lab.tick(f"2026-12-{day}T23:59:59Z") == ""
    assert lab.sendings("daily") == [
        sending(
            "daily", f"2026-12-{d}T09:00:00Z", f"2026-12-{d}T09:00:00Z", f"2026-12-{d}T09:00:30Z"
        )
        for d in ("01", "02", "03")
    ]


def test_a_recurring_campaign_with_an_end_is_completed_after_its_last_slot(lab: Lab) -> None:
    lab.write("advent", manifest("advent", schedule=ENDING))  # 1, 2 and 3 December at 09:00
    lab.apply(APPLIED)
    for day in ("01", "02"):
        assert lab.tick(f"2026-12-{day}T09:00:00Z").startswith("advent: send (live)")
        assert lab.tick(f"2026-12-{day}T09:05:00Z").startswith("advent: sent (live)")
    assert lab.tick("2026-12-03T09:00:00Z").startswith("advent: send (live)")
    assert lab.status("advent", "2026-12-03T09:01:00Z")["next_sending"] is None
    assert lab.state("advent", "2026-12-03T09:01:00Z") == ("live", 1)  # its last one is running
    assert lab.tick("2026-12-03T09:05:00Z") == (
        "advent: sent, completed (completed) - sent Thu 2026-12-03 09:00 UTC\n"
    )
    assert lab.tick("2026-12-04T09:00:00Z") == ""
    assert [(s["scheduled"], s["outcome"]) for s in lab.sendings()] == [
        (ms(f"2026-12-{d}T09:00:00Z"), "sent") for d in ("01", "02", "03")
    ]


def test_a_recurring_campaign_whose_end_passed_while_the_engine_was_down_skips_and_completes(
    lab: Lab,
) -> None:
    lab.write("advent", manifest("advent", schedule=ENDING))
    lab.apply(APPLIED)
    assert lab.tick("2026-12-20T12:00:00Z") == (
        "advent: completed (completed) - skipped Tue 2026-12-01 09:00 UTC; "
        "skipped Wed 2026-12-02 09:00 UTC; skipped Thu 2026-12-03 09:00 UTC\n"
    )
    assert lab.sendings() == [skipped("advent", f"2026-12-0{d}T09:00:00Z") for d in (1, 2, 3)]


# --- missed sendings ----------------------------------------------------------------------------


def test_slots_missed_while_the_engine_was_down_are_skipped_and_never_sent_late(lab: Lab) -> None:
    lab.write("daily", manifest("daily", schedule=DAILY))
    lab.segment("newsletter", 3_000)  # 30 seconds
    lab.apply(APPLIED)
    assert lab.tick("2026-12-01T09:00:00Z").startswith("daily: send (live)")
    assert lab.tick("2026-12-01T09:00:30Z").startswith("daily: sent (live)")
    # the engine is down from the 1st to the 5th at noon: four slots pass unseen
    assert lab.tick("2026-12-05T12:00:00Z") == (
        "daily: skipped (live) - skipped Wed 2026-12-02 09:00 UTC; skipped "
        "Thu 2026-12-03 09:00 UTC; skipped Fri 2026-12-04 09:00 UTC; skipped "
        "Sat 2026-12-05 09:00 UTC\n"
    )
    row = lab.status("daily", "2026-12-05T12:00:00Z")
    first = sending("daily", "2026-12-01T09:00:00Z", "2026-12-01T09:00:00Z", "2026-12-01T09:00:30Z")
    assert (
        row["status"],
        row["sending_in_progress"],
        row["next_sending"],
        row["last_sending"],
    ) == (
        "live",
        None,
        "2026-12-06T09:00:00.000Z",
        first,  # skipped slots are not sendings that happened
    )
    assert lab.tick("2026-12-05T12:00:01Z") == ""  # they are dealt with: never sent late
    # the next slot sends normally
    assert lab.tick("2026-12-06T09:00:30Z") == (
        "daily: send (live) - running Sun 2026-12-06 09:00 UTC until Sun 2026-12-06 09:01 UTC\n"
    )
    assert lab.sendings("daily") == [
        first,
        *(skipped("daily", f"2026-12-0{d}T09:00:00Z") for d in (2, 3, 4, 5)),
        sending(
            "daily",
            "2026-12-06T09:00:00Z",
            "2026-12-06T09:00:30Z",
            "2026-12-06T09:01:00Z",
            outcome="running",
        ),
    ]


@pytest.mark.parametrize(
    ("seen", "outcome"),
    [
        ("09:00:00", "running"),
        ("09:00:59", "running"),
        ("09:01:00", "running"),  # at most GRACE (a minute) old: it starts
        ("09:01:01", "skipped"),
        ("11:00:00", "skipped"),
    ],
)
def test_a_slot_seen_within_the_grace_minute_starts_and_a_later_one_is_skipped(
    lab: Lab, seen: str, outcome: str
) -> None:
    assert GRACE.total_seconds() == 60
    lab.write("daily", manifest("daily", schedule=DAILY))
    lab.apply(APPLIED)
    lab.tick(f"2026-12-01T{seen}Z")
    (found,) = lab.sendings()
    assert (found["scheduled"], found["outcome"]) == ("2026-12-01T09:00:00.000Z", outcome)
    row = lab.status("daily", f"2026-12-01T{seen}Z")
    in_progress = row["sending_in_progress"]
    assert (in_progress["outcome"] if in_progress else None) == (
        "running" if outcome == "running" else None
    )


def test_a_slot_that_comes_due_while_a_sending_still_runs_is_skipped(lab: Lab) -> None:
    lab.write("hourly", manifest("hourly", schedule=HOURLY))
    lab.segment("newsletter", 540_000)  # 5,400 seconds at 100/s: an hour and a half
    lab.apply("2026-12-01T08:10:00Z")
    assert lab.tick("2026-12-01T09:00:00Z") == (
        "hourly: send (live) - running Tue 2026-12-01 09:00 UTC until Tue 2026-12-01 10:30 UTC\n"
    )
    assert lab.tick("2026-12-01T10:00:00Z") == ""  # 10:00 is due, but 09:00 still runs
    assert lab.tick("2026-12-01T10:30:00Z") == (
        "hourly: sent (live) - sent Tue 2026-12-01 09:00 UTC; skipped Tue 2026-12-01 10:00 UTC\n"
    )
    assert lab.tick("2026-12-01T11:00:00Z").startswith(
        "hourly: send (live) - running Tue 2026-12-01 11"
    )
    assert [(s["scheduled"][11:19], s["outcome"]) for s in lab.sendings()] == [
        ("09:00:00", "sent"),
        ("10:00:00", "skipped"),
        ("11:00:00", "running"),
    ]


# --- stop and replace during a sending ----------------------------------------------------------


def test_stop_during_a_sending_lets_it_finish_with_its_version_then_nothing_more_is_sent(
    lab: Lab,
) -> None:
    lab.write("daily", manifest("daily", schedule=DAILY, throttle=50))
    lab.segment("newsletter", 6_000)  # 120 seconds
    lab.apply(APPLIED)
    assert lab.tick("2026-12-01T09:00:00Z").startswith("daily: send (live)")

    lab.write("daily", manifest("daily", schedule=DAILY, throttle=50, run="stopped"))
    lab.apply("2026-12-01T09:01:00Z")
    row = lab.status("daily", "2026-12-01T09:01:00Z")
    running = sending(
        "daily",
        "2026-12-01T09:00:00Z",
        "2026-12-01T09:00:00Z",
        "2026-12-01T09:02:00Z",
        outcome="running",
    )
    assert (row["status"], row["live_version"], row["sending_in_progress"]) == (
        "stopping",
        1,
        running,
    )
    assert row["next_sending"] is None  # the next one is cancelled
    assert "stopping (sending)" in lab.cli("status", now="2026-12-01T09:01:00Z").output
    assert lab.cli("plan", now="2026-12-01T09:01:00Z").output == "No changes. 1 unchanged.\n"

    assert lab.tick("2026-12-01T09:01:59Z") == ""  # it goes on
    assert lab.tick("2026-12-01T09:02:00Z") == (
        "daily: sent, stopped (stopped) - sent Tue 2026-12-01 09:00 UTC\n"
    )
    row = lab.status("daily", "2026-12-01T09:02:00Z")
    assert (row["status"], row["sending_in_progress"], row["next_sending"]) == (
        "stopped",
        None,
        None,
    )
    assert row["last_sending"] == {**running, "outcome": "sent"}

    # nothing more: not the next slot, nor any later one
    for moment in ("2026-12-02T09:00:00Z", "2026-12-03T09:00:30Z", "2026-12-09T09:00:00Z"):
        assert lab.tick(moment) == ""
    assert lab.sendings() == [{**running, "outcome": "sent"}]
    assert lab.state("daily", "2026-12-09T09:00:00Z") == ("stopped", 1)
    assert lab.cli("plan", now="2026-12-09T09:00:00Z").output == "No changes. 1 unchanged.\n"
    # every write, the engine's too, is in the history, at the moment it was made
    history = json.loads(lab.cli("history", "daily", "--format", "json").output)["history"]
    assert [(e["revision"], e["at"], e["actor"], e["operation"]) for e in reversed(history)] == [
        (1, ms(APPLIED), "tester", "activate"),
        (2, ms("2026-12-01T09:00:00Z"), "engine", "engine: send"),
        (3, ms("2026-12-01T09:01:00Z"), "tester", "stop"),
        (4, ms("2026-12-01T09:02:00Z"), "engine", "engine: sent, stopped"),
    ]


@pytest.mark.parametrize(
    ("ticks", "stopped_at", "sent"),
    [
        ((), "2026-12-01T08:30:00Z", 0),  # before any sending: the first never goes out
        (("2026-12-01T09:00:00Z", "2026-12-01T09:05:00Z"), "2026-12-01T12:00:00Z", 1),  # between
    ],
)
def test_stop_with_no_sending_in_progress_stops_at_once_and_the_next_slot_is_never_sent(
    lab: Lab, ticks: tuple[str, ...], stopped_at: str, sent: int
) -> None:
    lab.write("daily", manifest("daily", schedule=DAILY))
    lab.segment("newsletter", 3_000)  # 30 seconds
    lab.apply(APPLIED)
    for moment in ticks:
        lab.tick(moment)
    before = lab.sendings()
    assert [s["outcome"] for s in before] == ["sent"] * sent

    lab.write("daily", manifest("daily", schedule=DAILY, run="stopped"))
    lab.apply(stopped_at)
    row = lab.status("daily", stopped_at)
    assert (row["status"], row["sending_in_progress"], row["next_sending"]) == (
        "stopped",
        None,
        None,
    )
    for moment in ("2026-12-01T09:00:00Z", "2026-12-02T09:00:00Z", "2026-12-02T09:00:30Z"):
        assert lab.tick(moment) == ""
    assert lab.sendings() == before
    assert lab.state("daily", "2026-12-10T00:00:00Z") == ("stopped", 1)


def test_replace_during_a_sending_keeps_its_version_and_the_next_sending_uses_the_new_one(
    lab: Lab,
) -> None:
    lab.write("daily", manifest("daily", schedule=DAILY, throttle=50, subject="Version one"))
    lab.segment("newsletter", 6_000)  # 120 seconds
    lab.apply(APPLIED)
    assert lab.tick("2026-12-01T09:00:00Z").startswith("daily: send (live)")

    lab.write("daily", manifest("daily", schedule=DAILY, throttle=50, subject="Version two"))
    output = lab.apply("2026-12-01T09:01:00Z")
    assert "-/+ replace  daily  v1 -> v2" in output
    row = lab.status("daily", "2026-12-01T09:01:00Z")
    assert (row["status"], row["live_version"], row["sending_in_progress"]["version"]) == (
        "live",
        2,
        1,
    )
    assert row["live"]["spec"]["content"]["subject"] == "Version two"

    assert (
        lab.tick("2026-12-01T09:02:00Z") == "daily: sent (live) - sent Tue 2026-12-01 09:00 UTC\n"
    )
    assert lab.tick("2026-12-02T09:00:00Z").startswith("daily: send (live)")
    assert lab.tick("2026-12-02T09:02:00Z").startswith("daily: sent (live)")
    assert lab.sendings() == [
        sending("daily", "2026-12-01T09:00:00Z", "2026-12-01T09:00:00Z", "2026-12-01T09:02:00Z"),
        sending(
            "daily",
            "2026-12-02T09:00:00Z",
            "2026-12-02T09:00:00Z",
            "2026-12-02T09:02:00Z",
            version=2,
        ),
    ]


def test_the_plan_of_a_stop_says_which_sending_finishes_and_which_is_cancelled(lab: Lab) -> None:
    lab.write("daily", manifest("daily", schedule=DAILY))
    lab.segment("newsletter", 6_000)  # 60 seconds at 100/s
    lab.apply(APPLIED)
    lab.write("daily", manifest("daily", schedule=DAILY, run="stopped"))
    head = (
        "Plan: 1 to stop; 0 unchanged.\n\n"
        "  - stop     daily  v1\n"
        "      # the manifest says run: stopped; "
    )

    # no sending in progress: the next one is cancelled
    assert lab.cli("plan", now="2026-12-01T08:30:00Z").output == (
        head + "the next sending, Tue 2026-12-01 09:00 UTC, is cancelled\n"
    )
    # during the sending of 09:00: it finishes, and the one after it is cancelled
    assert lab.tick("2026-12-01T09:00:00Z").startswith("daily: send (live)")
    result = lab.cli("plan", "--detailed-exitcode", now="2026-12-01T09:00:30Z")
    assert (result.exit_code, result.output) == (
        2,
        head + "the sending of Tue 2026-12-01 09:00 UTC is in progress and finishes; "
        "the next sending, Wed 2026-12-02 09:00 UTC, is cancelled\n",
    )
    plan = json.loads(lab.cli("plan", "--format", "json", now="2026-12-01T09:00:30Z").output)
    (operation,) = plan["operations"]
    assert (operation["action"], operation["reason"]) == (
        "stop",
        "the manifest says run: stopped; the sending of Tue 2026-12-01 09:00 UTC is in progress "
        "and finishes; the next sending, Wed 2026-12-02 09:00 UTC, is cancelled",
    )
    # and what the plan said is what happens
    lab.apply("2026-12-01T09:00:30Z")
    assert lab.tick("2026-12-01T09:01:00Z") == (
        "daily: sent, stopped (stopped) - sent Tue 2026-12-01 09:00 UTC\n"
    )
    assert lab.tick("2026-12-02T09:00:00Z") == ""


# --- seeing it ----------------------------------------------------------------------------------


def test_status_shows_the_next_the_last_and_the_sending_in_progress_at_each_moment(
    lab: Lab,
) -> None:
    lab.write("daily", manifest("daily", schedule=DAILY, throttle=50))
    lab.segment("newsletter", 6_000)  # 120 seconds
    lab.apply(APPLIED)

    def seen(now: str) -> tuple[Any, Any, Any]:
        row = lab.status("daily", now)
        return row["next_sending"], row["last_sending"], row["sending_in_progress"]

    first = sending("daily", "2026-12-01T09:00:00Z", "2026-12-01T09:00:00Z", "2026-12-01T09:02:00Z")
    assert seen("2026-12-01T08:30:00Z") == ("2026-12-01T09:00:00.000Z", None, None)
    lab.tick("2026-12-01T09:00:00Z")
    running = {**first, "outcome": "running"}
    assert seen("2026-12-01T09:01:00Z") == ("2026-12-02T09:00:00.000Z", running, running)
    lab.tick("2026-12-01T09:02:00Z")
    assert seen("2026-12-01T09:02:00Z") == ("2026-12-02T09:00:00.000Z", first, None)
    assert seen("2026-12-01T20:00:00Z") == ("2026-12-02T09:00:00.000Z", first, None)
    lab.tick("2026-12-02T09:00:30Z")
    second = sending(
        "daily",
        "2026-12-02T09:00:00Z",
        "2026-12-02T09:00:30Z",
        "2026-12-02T09:02:30Z",
        outcome="running",
    )
    assert seen("2026-12-02T09:01:00Z") == ("2026-12-03T09:00:00.000Z", second, second)

    text = lab.cli("status", now="2026-12-02T09:01:00Z").output.splitlines()
    assert text[0].split()[-2:] == ["NEXT", "SENDING"]
    assert text[1].split()[0:2] == ["daily", "live"]
    assert text[1].endswith("  Thu 2026-12-03 09:00 UTC")  # in the campaign's zone, as plans show


def test_runtime_sendings_lists_them_oldest_first_of_all_campaigns_or_of_one(lab: Lab) -> None:
    lab.write("daily", manifest("daily", schedule=DAILY))
    lab.write("launch", manifest("launch", segment="vip", schedule=ONCE))
    lab.write("flash", manifest("flash", channel="sms", segment="everyone"))
    lab.segment("newsletter", 100)  # 1 second
    lab.segment("vip", 100)
    lab.segment("everyone", 100)
    lab.apply(APPLIED)
    for moment in (
        "2026-12-01T08:00:30Z",  # flash, on activation
        "2026-12-01T09:00:00Z",  # daily
        "2026-12-01T10:00:00Z",  # launch
        "2026-12-01T10:00:01Z",  # launch sent
        "2026-12-02T09:00:00Z",  # daily
        "2026-12-02T09:00:01Z",
    ):
        lab.tick(moment)
    assert lab.sendings() == [
        sending("flash", APPLIED, "2026-12-01T08:00:30Z", "2026-12-01T08:00:31Z"),
        sending("daily", "2026-12-01T09:00:00Z", "2026-12-01T09:00:00Z", "2026-12-01T09:00:01Z"),
        sending("launch", "2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z", "2026-12-01T10:00:01Z"),
        sending("daily", "2026-12-02T09:00:00Z", "2026-12-02T09:00:00Z", "2026-12-02T09:00:01Z"),
    ]
    assert [s["id"] for s in lab.sendings("daily")] == [
        "daily@2026-12-01T09:00:00.000Z",
        "daily@2026-12-02T09:00:00.000Z",
    ]
    assert lab.sendings("nothing-of-that-name") == []
    assert lab.cli("runtime", "sendings", "nothing-of-that-name").output == "No sendings yet.\n"


# --- inbound ------------------------------------------------------------------------------------


def test_inbound_campaigns_never_send(lab: Lab) -> None:
    lab.write("banner", manifest("banner", channel="in-app"))
    lab.write("card", manifest("card", channel="content-card"))
    lab.apply(APPLIED)
    for moment in (
        "2026-12-01T08:00:00Z",
        "2026-12-01T09:00:00Z",
        "2026-12-02T09:00:00Z",
        "2027-06-01T00:00:00Z",
    ):
        assert lab.tick(moment) == ""
    assert lab.sendings() == []
    for name in ("banner", "card"):
        row = lab.status(name, "2027-06-01T00:00:00Z")
        assert (row["status"], row["kind"]) == ("live", "inbound")
        assert (row["next_sending"], row["last_sending"], row["sending_in_progress"]) == (
            None,
            None,
            None,
        )
    steps = api.tick(lab.options(), at("2027-06-02T00:00:00Z"))
    assert steps == []


# --- found while writing these ------------------------------------------------------------------


def test_a_once_campaign_activated_after_its_time_is_skipped_and_completed(lab: Lab) -> None:
    """The plan refuses it; a console (or a reconciler from before that refusal) may not."""
    lab.write("late", manifest("late", segment="vip", schedule=ONCE))  # 10:00
    refused = lab.cli("apply", now="2026-12-01T11:00:00Z")
    assert refused.exit_code == 1
    assert "its only sending, Tue 2026-12-01 10:00 UTC, has passed" in refused.output
    spec = {
        "channel": "email",
        "audience": {"segment": "vip"},
        "content": {"subject": "Hello", "body": "Hi"},
        "schedule": {"once": {"at": "2026-12-01T10:00:00Z"}, "timezone": "UTC"},
    }
    runtime = lab.options("2026-12-01T11:00:00Z").open()
    try:
        console = Provenance("console", origin="console")
        runtime.apply(Write("console/late", Action.ACTIVATE, "late", None, console, spec=spec))
    finally:
        runtime.close()
    lab.tick("2026-12-01T11:00:05Z")
    assert lab.sendings() == [skipped("late", "2026-12-01T10:00:00Z")]
    assert lab.state("late", "2026-12-01T11:00:05Z") == ("completed", 1)


def test_a_replace_right_after_a_slot_and_before_the_engine_sees_it_does_not_lose_it(
    lab: Lab,
) -> None:
    lab.write("daily", manifest("daily", schedule=DAILY, subject="Version one"))
    lab.apply(APPLIED)
    lab.write("daily", manifest("daily", schedule=DAILY, subject="Version two"))
    lab.apply("2026-12-01T09:00:10Z")  # the 09:00 slot is due; the engine has not ticked yet
    lab.tick("2026-12-01T09:00:20Z")  # within the grace minute: it starts, with version 2
    assert lab.sendings() == [
        sending(
            "daily",
            "2026-12-01T09:00:00Z",
            "2026-12-01T09:00:20Z",
            "2026-12-01T09:02:00Z",
            outcome="running",
            version=2,
        )
    ]


def test_slots_missed_before_a_replace_are_recorded_as_skipped(lab: Lab) -> None:
    lab.write("daily", manifest("daily", schedule=DAILY, subject="Version one"))
    lab.apply(APPLIED)
    # the engine is down from before the first slot; a new version is applied on the 3rd
    lab.write("daily", manifest("daily", schedule=DAILY, subject="Version two"))
    lab.apply("2026-12-03T12:00:00Z")
    lab.tick("2026-12-03T12:00:05Z")
    assert [(s["scheduled"], s["outcome"], s["reason"]) for s in lab.sendings()] == [
        (ms(f"2026-12-0{d}T09:00:00Z"), "skipped", MISSED) for d in (1, 2, 3)
    ]


def test_the_running_engine_starts_its_clock_at_a_pinned_now(lab: Lab) -> None:
    """`runtime run` took the clock's time whatever RECONCILER_NOW said: with now pinned in 2026,
    a campaign due that morning was never sent by it."""
    lab.write("launch", manifest("launch", segment="vip", schedule=ONCE))
    lab.apply(APPLIED)
    reports: list[list[str]] = []

    def report(steps: list[Any]) -> None:
        reports.append([f"{s.campaign.name}: {', '.join(s.events)}" for s in steps])

    asked = iter(range(200))  # a bounded run: without a report, it ends after 200 questions

    def stop() -> bool:
        return bool(reports) or next(asked, None) is None

    api.run_engine(lab.options("2026-12-01T10:00:00Z"), stop, report, every=0.05)
    assert reports == [["launch: live, send"]]
    (started,) = lab.sendings("launch")
    assert started["scheduled"] == ms("2026-12-01T10:00:00Z")
    assert started["started"] is not None and started["started"].startswith("2026-12-01T10:00:0")


def test_the_running_engine_waits_out_a_runtime_it_cannot_reach(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`runtime run` retries an unreachable runtime without end, with backoff, and says so once;
    it ticks again once the runtime is back."""
    monkeypatch.setattr(api.runtime_admin, "BACKOFF_FIRST", 0.05)
    blocked = tmp_path / "runtime.db"
    blocked.mkdir()  # a folder where the runtime's file should be: it cannot be opened
    told: list[str] = []

    def unavailable(error: str, retry_in: float) -> None:
        told.append(error)
        blocked.rmdir()  # the outage ends

    url = f"sqlite:///{blocked}"
    asked = iter(range(100))
    api.run_engine(api.Options(url), lambda: next(asked, None) is None, print, 0.01, unavailable)
    assert len(told) == 1 and told[0].startswith(f"cannot open runtime {url}: ")
    with api.Options(url).open() as runtime:
        assert runtime.snapshot().revision == 0  # reached and read: the engine ticked on
