"""The project file: ``project.parse`` (policies as objects, or diagnostics at file:line:col),
``QuietHours.quiet``, ``Selector.matches``, ``project.locate`` and ``project.at_ref``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from factories import git
from reconciler import project
from reconciler.errors import Diagnostic
from reconciler.model import Action
from reconciler.project import (
    Freeze,
    FrequencyCap,
    Policies,
    Project,
    QuietHours,
    Selector,
)

HEAD = "apiVersion: reconciler/v1\nkind: Project\n"
FILE = "reconciler.yaml"
WHAT = "a Project file (apiVersion: reconciler/v1, kind: Project)"

ISSUE = """\
apiVersion: reconciler/v1
kind: Project
policies:
  timezone: Europe/Amsterdam
  freezes:
    - name: peak-season
      from: 2026-11-26T00:00:00-05:00
      until: 2026-12-02T00:00:00-05:00
      actions: [activate, replace, resume, copy]
      campaigns: {labels: {team: growth}}
      exempt: {labels: {freeze-exempt: "true"}}
  quietHours:
    - name: no-sms-at-night
      channels: [sms, push]
      from: "21:00"
      until: "08:00"
  frequencyCaps:
    - name: two-emails-a-day
      channels: [email]
      segments: ["*"]
      max: 2
      per: day
  requiredLabels: [team]
"""

DEFAULTS = (
    HEAD
    + """\
policies:
  freezes:
    - name: year-end
      from: "2026-12-24T00:00:00"
      until: "2027-01-02T00:00:00"
  quietHours:
    - {name: night, from: "22:00", until: "07:00"}
  frequencyCaps:
    - {name: weekly, max: 3, per: week}
"""
)

ZONED = (
    HEAD
    + """\
policies:
  timezone: America/New_York
  freezes:
    - name: summer
      from: "2026-07-01T00:00:00"
      until: "2026-07-02T12:30:00Z"
      actions: [stop, create]
    - name: winter
      from: "2026-01-10T08:00:00+01:00"
      until: "2026-01-10T09:00:00.500000"
  frequencyCaps:
    - name: promos
      segments: [promo-*, "vip-?"]
      channels: [sms, push]
      max: 1
      per: day
"""
)

VALID = [
    pytest.param(
        HEAD,
        Policies(FILE),
        id="no policies: none",
    ),
    pytest.param(
        HEAD + "policies: {}\n",
        Policies(FILE),
        id="empty policies: none",
    ),
    pytest.param(
        ISSUE,
        Policies(
            FILE,
            "Europe/Amsterdam",
            freezes=(
                Freeze(
                    "peak-season",
                    6,
                    datetime(2026, 11, 26, 5, tzinfo=UTC),
                    datetime(2026, 12, 2, 5, tzinfo=UTC),
                    frozenset({Action.ACTIVATE, Action.REPLACE, Action.RESUME, Action.COPY}),
                    Selector({"team": "growth"}),
                    Selector({"freeze-exempt": "true"}),
                ),
            ),
            quiet_hours=(
                QuietHours("no-sms-at-night", 13, time(21), time(8), frozenset({"sms", "push"})),
            ),
            caps=(FrequencyCap("two-emails-a-day", 18, 2, "day", frozenset({"email"}), ("*",)),),
            required_labels=("team",),
            required_line=23,
        ),
        id="the issue's example",
    ),
    pytest.param(
        DEFAULTS,
        Policies(
            FILE,
            freezes=(
                Freeze(
                    "year-end",
                    5,
                    datetime(2026, 12, 24, tzinfo=UTC),
                    datetime(2027, 1, 2, tzinfo=UTC),
                ),
            ),
            quiet_hours=(QuietHours("night", 9, time(22), time(7)),),
            caps=(FrequencyCap("weekly", 11, 3, "week"),),
        ),
        id="defaults: UTC, activate/replace/resume/copy, outbound channels, every segment",
    ),
    pytest.param(
        ZONED,
        Policies(
            FILE,
            "America/New_York",
            freezes=(
                Freeze(
                    "summer",
                    6,
                    datetime(2026, 7, 1, 4, tzinfo=UTC),  # EDT: UTC-4
                    datetime(2026, 7, 2, 12, 30, tzinfo=UTC),
                    frozenset({Action.STOP, Action.CREATE}),
                ),
                Freeze(
                    "winter",
                    10,
                    datetime(2026, 1, 10, 7, tzinfo=UTC),
                    datetime(2026, 1, 10, 14, 0, 0, 500000, tzinfo=UTC),  # EST: UTC-5
                ),
            ),
            caps=(
                FrequencyCap(
                    "promos", 14, 1, "day", frozenset({"sms", "push"}), ("promo-*", "vip-?")
                ),
            ),
        ),
        id="bounds without offset in the policies' zone, summer and winter; instants in UTC",
    ),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_a_valid_file_gives_its_policies(text: str, expected: Policies) -> None:
    found = project.parse(text.encode(), FILE)
    assert found.diagnostics == ()
    assert found.file == FILE
    assert found.text == text.encode()
    assert replace(found.policies, data={}) == expected


def test_the_policies_keep_what_the_file_says_for_showing_a_change() -> None:
    found = project.parse(DEFAULTS.encode(), FILE).policies
    assert found.data == {
        "freezes": [
            {"name": "year-end", "from": "2026-12-24T00:00:00", "until": "2027-01-02T00:00:00"}
        ],
        "quietHours": [{"name": "night", "from": "22:00", "until": "07:00"}],
        "frequencyCaps": [{"name": "weekly", "max": 3, "per": "week"}],
    }


def _error(line: int | None, column: int | None, message: str) -> Diagnostic:
    return Diagnostic(message, FILE, line, column)


INVALID = [
    pytest.param(
        "",
        [_error(1, 1, f"empty file: expected {WHAT}")],
        id="empty",
    ),
    pytest.param(
        "- a\n",
        [_error(1, 1, f"expected a mapping ({WHAT})")],
        id="not a mapping",
    ),
    pytest.param(
        HEAD + "---\n" + HEAD,
        [_error(3, 1, f"a second document: {WHAT} holds one")],
        id="two documents",
    ),
    pytest.param(
        HEAD + "kind: Project\n",
        [_error(3, 1, "duplicate key 'kind' (first at 2:1)")],
        id="a duplicate key",
    ),
    pytest.param(
        "apiVersion: reconciler/v1\n",
        [_error(1, 1, "'kind' is a required property")],
        id="no kind",
    ),
    pytest.param(
        "apiVersion: reconciler/v2\nkind: Campaign\n",
        [
            _error(
                1,
                13,
                "apiVersion: 'reconciler/v2' is not a supported apiVersion "
                "(expected 'reconciler/v1')",
            ),
            _error(2, 7, "kind: 'Campaign' is not a supported kind (expected 'Project')"),
        ],
        id="another apiVersion and kind",
    ),
    pytest.param(
        HEAD + "policies:\n",
        [_error(3, 10, "policies: None is not of type 'object'")],
        id="policies empty",
    ),
    pytest.param(
        HEAD + "policies:\n  bogus: 1\n",
        [_error(4, 3, "policies: Additional properties are not allowed ('bogus' was unexpected)")],
        id="an unknown key",
    ),
    pytest.param(
        HEAD + "policies:\n  freezes:\n    - {name: x}\n",
        [
            _error(5, 7, "policies.freezes[0]: 'from' is a required property"),
            _error(5, 7, "policies.freezes[0]: 'until' is a required property"),
        ],
        id="a freeze without bounds",
    ),
    pytest.param(
        HEAD
        + "policies:\n  freezes:\n"
        + "    - {name: Peak_, from: '2026-01-02T00:00:00', until: '2026-01-03T00:00:00',"
        + " actions: [fly]}\n",
        [
            _error(
                5,
                14,
                "policies.freezes[0].name: 'Peak_' is not a valid policy name (1-63 characters "
                "a-z, 0-9 and '-', starting and ending with a letter or digit)",
            ),
            _error(
                5,
                90,
                "policies.freezes[0].actions[0]: 'fly' is not one of ['create', 'activate', "
                "'update', 'replace', 'discard', 'stop', 'resume', 'copy', 'adopt']",
            ),
        ],
        id="a bad name and an unknown action",
    ),
    pytest.param(
        HEAD + "policies:\n  quietHours:\n    - {name: q, from: '25:00', until: '8:00'}\n",
        [
            _error(
                5,
                23,
                "policies.quietHours[0].from: '25:00' is not a time of day like '21:00' "
                "(HH:MM, 24 hours)",
            ),
            _error(
                5,
                39,
                "policies.quietHours[0].until: '8:00' is not a time of day like '21:00' "
                "(HH:MM, 24 hours)",
            ),
        ],
        id="a time of day out of range, and without its leading zero",
    ),
    pytest.param(
        HEAD
        + "policies:\n  quietHours:\n"
        + "    - {name: q, from: '21:00', until: '08:00', channels: [in-app]}\n",
        [
            _error(
                5,
                59,
                "policies.quietHours[0].channels[0]: 'in-app' is not one of "
                "['email', 'sms', 'push']",
            )
        ],
        id="quiet hours on an inbound channel",
    ),
    pytest.param(
        HEAD
        + "policies:\n  frequencyCaps:\n    - {name: c, max: 0, per: month}\n"
        + "  requiredLabels: [team, team]\n",
        [
            _error(5, 22, "policies.frequencyCaps[0].max: 0 is less than the minimum of 1"),
            _error(5, 30, "policies.frequencyCaps[0].per: 'month' is not one of ['day', 'week']"),
            _error(6, 19, "policies.requiredLabels: ['team', 'team'] has non-unique elements"),
        ],
        id="a cap per month of none, a label twice",
    ),
    pytest.param(
        HEAD + "policies:\n  timezone: Mars/Olympus\n",
        [
            _error(
                4,
                13,
                "policies.timezone: 'Mars/Olympus' is not a known IANA time zone "
                "(like 'Europe/Amsterdam')",
            )
        ],
        id="an unknown time zone",
    ),
    pytest.param(
        HEAD + "policies:\n  freezes:\n    - {name: a, from: 2026-01-01, until: soon}\n",
        [
            _error(
                5,
                23,
                "policies.freezes[0].from: '2026-01-01' is a date: write the time too, like "
                "2026-01-01T00:00:00",
            ),
            _error(
                5,
                42,
                "policies.freezes[0].until: 'soon' is not a date-time like 2026-11-26T00:00:00 "
                "(in policies.timezone) or 2026-11-26T00:00:00-05:00",
            ),
        ],
        id="a freeze bound that is a date, one that is no date-time",
    ),
    pytest.param(
        HEAD
        + "policies:\n  freezes:\n"
        + "    - {name: a, from: '2026-01-02T00:00:00', until: '2026-01-02T00:00:00Z'}\n",
        [
            _error(
                5,
                53,
                "policies.freezes[0].until: 2026-01-02T00:00:00Z is not after from "
                "(2026-01-02T00:00:00)",
            )
        ],
        id="a freeze that ends as it starts",
    ),
    pytest.param(
        HEAD
        + "policies:\n  quietHours:\n    - {name: q, from: '08:00', until: '08:00'}\n"
        + "  frequencyCaps:\n    - {name: q, max: 1, per: day}\n",
        [
            _error(
                5,
                39,
                "policies.quietHours[0].until: from and until are both 08:00: quiet hours are "
                "a range",
            ),
            _error(
                7,
                14,
                "policies.frequencyCaps[0].name: 'q' is the name of policies.quietHours[0] "
                "already: a name is one policy's",
            ),
        ],
        id="quiet hours that are no range, a name used twice",
    ),
]


@pytest.mark.parametrize(("text", "expected"), INVALID)
def test_an_invalid_file_gives_every_error_at_its_place(
    text: str, expected: list[Diagnostic]
) -> None:
    found = project.parse(text.encode(), FILE)
    assert list(found.diagnostics) == expected
    assert found.policies == Policies()
    assert not found.ok


# -- quiet hours and selectors -------------------------------------------------------------------

EVENING = QuietHours("evening", 1, time(18), time(21, 30))
NIGHT = QuietHours("night", 1, time(21), time(8))

QUIET = [
    pytest.param(EVENING, time(17, 59, 59), False, id="inside a day: before from"),
    pytest.param(EVENING, time(18), True, id="inside a day: from is quiet"),
    pytest.param(EVENING, time(20), True, id="inside a day: between"),
    pytest.param(EVENING, time(21, 29, 59, 999999), True, id="inside a day: just before until"),
    pytest.param(EVENING, time(21, 30), False, id="inside a day: until is not quiet"),
    pytest.param(NIGHT, time(20, 59), False, id="across midnight: before from"),
    pytest.param(NIGHT, time(21), True, id="across midnight: from is quiet"),
    pytest.param(NIGHT, time(23, 59, 59), True, id="across midnight: before midnight"),
    pytest.param(NIGHT, time(0), True, id="across midnight: midnight"),
    pytest.param(NIGHT, time(7, 59), True, id="across midnight: just before until"),
    pytest.param(NIGHT, time(8), False, id="across midnight: until is not quiet"),
    pytest.param(NIGHT, time(12), False, id="across midnight: noon"),
]


@pytest.mark.parametrize(("hours", "wall", "quiet"), QUIET)
def test_quiet_hours_are_from_included_until_excluded(
    hours: QuietHours, wall: time, quiet: bool
) -> None:
    assert hours.quiet(wall) is quiet


SELECTED = [
    pytest.param({}, {}, True, id="no labels asked: every campaign"),
    pytest.param({"team": "growth"}, {"team": "growth"}, True, id="the label"),
    pytest.param({"team": "growth"}, {"team": "growth", "x": "y"}, True, id="and more"),
    pytest.param({"team": "growth"}, {"team": "brand"}, False, id="another value"),
    pytest.param({"team": "growth"}, {}, False, id="no label"),
    pytest.param({"team": "growth", "tier": "1"}, {"team": "growth"}, False, id="one of two"),
    pytest.param({"team": "growth"}, {"Team": "growth"}, False, id="keys are case-sensitive"),
]


@pytest.mark.parametrize(("wanted", "labels", "matches"), SELECTED)
def test_a_selector_matches_campaigns_with_every_label(
    wanted: dict[str, str], labels: dict[str, str], matches: bool
) -> None:
    assert Selector(wanted).matches(labels) is matches


def test_a_selector_describes_its_labels_sorted() -> None:
    assert Selector({"tier": "1", "team": "growth"}).describe() == "team: growth, tier: 1"


# -- finding the file ----------------------------------------------------------------------------


def _repository(top: Path) -> Path:
    top.mkdir(parents=True, exist_ok=True)
    git(top, "init", "-q", "-b", "main")
    return top


def _write(folder: Path, text: str = HEAD) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / FILE
    target.write_text(text)
    return target


LOCATE = [
    pytest.param(True, ["repo/a/b"], "repo/a/b", "repo/a/b", id="git: in the working directory"),
    pytest.param(True, ["repo/a"], "repo/a/b", "repo/a", id="git: in a parent"),
    pytest.param(True, ["repo", "repo/a"], "repo/a/b", "repo/a", id="git: the nearest parent"),
    pytest.param(True, ["repo"], "repo/a/b", "repo", id="git: at the top"),
    pytest.param(True, [""], "repo/a/b", "repo", id="git: not above the top, where it would be"),
    pytest.param(True, [], "repo/a", "repo", id="git: none, at the top"),
    pytest.param(False, ["repo/a"], "repo/a", "repo/a", id="outside git: in the directory"),
    pytest.param(False, ["repo"], "repo/a", "repo", id="outside git, elsewhere: in the parent"),
    pytest.param(False, [""], "repo/a", "repo", id="outside git, elsewhere: not above the parent"),
]


@pytest.mark.parametrize(("in_git", "files", "start", "expected"), LOCATE)
def test_locate_looks_up_to_the_top_of_the_work_tree(
    tmp_path: Path, in_git: bool, files: list[str], start: str, expected: str
) -> None:
    root = tmp_path.resolve()
    if in_git:
        _repository(root / "repo")
    for folder in files:
        _write(root / folder)
    (root / start).mkdir(parents=True, exist_ok=True)
    assert project.locate(root / start) == root / expected / FILE


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(["work"], "work", id="up to the working directory"),
        pytest.param(["", "work/campaigns"], "work/campaigns", id="the nearest"),
        pytest.param([""], "work", id="never above the working directory"),
    ],
)
def test_locate_outside_git_looks_up_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: list[str], expected: str
) -> None:
    root = tmp_path.resolve()
    for folder in files:
        _write(root / folder)
    (root / "work/campaigns/team").mkdir(parents=True)
    monkeypatch.chdir(root / "work")
    assert project.locate(root / "work/campaigns/team") == root / expected / FILE


def test_locate_starts_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    top = _repository(tmp_path.resolve() / "repo")
    _write(top)
    (top / "campaigns").mkdir()
    monkeypatch.chdir(top / "campaigns")
    assert project.locate() == top / FILE


# -- the file at a git ref -----------------------------------------------------------------------


@pytest.fixture
def history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, str]:
    """A repository whose first commit has no project file and whose second has one; the
    working directory is its top."""
    top = _repository(tmp_path.resolve() / "repo")
    (top / "README.md").write_text("x\n")
    git(top, "add", "-A")
    git(top, "commit", "-q", "-m", "first")
    first = git(top, "rev-parse", "HEAD")
    _write(top, HEAD + "policies:\n  requiredLabels: [team]\n")
    git(top, "add", "-A")
    git(top, "commit", "-q", "-m", "second")
    second = git(top, "rev-parse", "HEAD")
    _write(top, HEAD + "policies:\n  requiredLabels: [owner]\n")  # not committed
    monkeypatch.chdir(top)
    return top, first, second


def test_at_ref_reads_the_file_as_committed(history: tuple[Path, str, str]) -> None:
    top, _, _ = history
    found = project.at_ref("main", top / FILE)
    text = (HEAD + "policies:\n  requiredLabels: [team]\n").encode()
    assert found is not None
    display = f"{FILE}@main"  # the ref as given
    assert found == Project(
        display,
        Policies(display, required_labels=("team",), required_line=4, data=found.policies.data),
        text=text,
        data=found.data,
    )
    assert found.policies.data == {"requiredLabels": ["team"]}
    assert found.data == {
        "apiVersion": "reconciler/v1",
        "kind": "Project",
        "policies": {"requiredLabels": ["team"]},
    }


def test_at_ref_of_a_commit_without_the_file_is_no_project(
    history: tuple[Path, str, str],
) -> None:
    top, first, _ = history
    assert project.at_ref(first, top / FILE) == Project()
    assert project.at_ref("HEAD~1", top / FILE) == Project()


@pytest.mark.parametrize(
    "ref",
    [
        pytest.param("no-such-branch", id="an unknown name"),
        pytest.param("HEAD~5", id="beyond the history"),
        pytest.param("HEAD:README.md", id="a blob, not a commit"),
        pytest.param("-h", id="an option"),
        pytest.param("--all", id="an option that git rev-parse knows"),
    ],
)
def test_at_ref_of_what_is_no_commit_is_none(history: tuple[Path, str, str], ref: str) -> None:
    top, _, _ = history
    assert project.at_ref(ref, top / FILE) is None


def test_at_ref_of_an_invalid_committed_file_gives_its_diagnostics_at_the_commit(
    history: tuple[Path, str, str],
) -> None:
    top, _, _ = history
    _write(top, HEAD + "policies: {timezone: Nowhere/Land}\n")
    git(top, "commit", "-q", "-am", "third")
    found = project.at_ref("HEAD", top / FILE)
    assert found is not None
    assert found.diagnostics == (
        Diagnostic(
            "policies.timezone: 'Nowhere/Land' is not a known IANA time zone "
            "(like 'Europe/Amsterdam')",
            f"{FILE}@HEAD",
            3,
            22,
        ),
    )
