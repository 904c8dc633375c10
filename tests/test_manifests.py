"""Manifests: finding files, parsing YAML safely, validating, and placing every error at line:col.

Each file in ``tests/corpus/bad/`` starts with its expected diagnostics, one ``# expect:`` comment
line each (``line:col: message``; ``{file}`` stands for the file's own name).
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from factories import EMAIL_YAML
from reconciler import documents
from reconciler.errors import Diagnostic, Severity
from reconciler.manifests import Cache, LoadResult, load
from reconciler.model import DesiredState, Position, Run, overlay, spec_hash
from reconciler.validation import schema, validate_spec

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus" / "bad"
BAD_CASES = sorted(CORPUS.glob("*.yaml"))

EMAIL = EMAIL_YAML.replace("{subject}", "Hi")


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def rendered(result: LoadResult) -> list[str]:
    return [str(d) for d in result.diagnostics]


def only(result: LoadResult) -> Diagnostic:
    assert len(result.diagnostics) == 1, rendered(result)
    return result.diagnostics[0]


# -- the corpus of bad manifests -----------------------------------------------------------------


def test_corpus_is_big_enough() -> None:
    assert len(BAD_CASES) >= 30


@pytest.mark.parametrize("case", BAD_CASES, ids=[p.name for p in BAD_CASES])
def test_bad_manifest(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = [
        case.name + ":" + line.removeprefix("# expect: ").replace("{file}", case.name)
        for line in case.read_text(encoding="utf-8").splitlines()
        if line.startswith("# expect: ")
    ]
    assert expected, "a corpus file must say what it expects"
    monkeypatch.chdir(CORPUS)
    result = load(case.name)
    assert rendered(result) == expected
    assert not result.ok
    assert result.files == 1
    assert all(d.severity is Severity.ERROR and d.file == case.name for d in result.diagnostics)
    assert all(len(d.message) <= 300 for d in result.diagnostics)


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    levels = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 16):  # 9**16 nodes if it were ever expanded
        levels.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    path = write(tmp_path / "bomb.yaml", "\n".join(levels) + "\n")
    results: list[LoadResult] = []
    loading = threading.Thread(target=lambda: results.append(load(path)), daemon=True)
    loading.start()
    loading.join(timeout=60)  # expanded, it would never end: a bound against a hang, not a speed
    assert results, "the alias bomb was expanded"
    [result] = results
    assert [(d.line, d.column, d.message) for d in result.diagnostics] == [
        (1, 1, "document too large: over 100000 nodes after alias expansion")
    ]


def test_wide_documents_are_bounded_too(tmp_path: Path) -> None:
    path = write(tmp_path / "wide.yaml", "a: [" + "1, " * 100_001 + "1]\n")
    assert only(load(path)).message == "document too large: over 100000 nodes after alias expansion"


def test_aliases_within_the_bound_are_fine(tmp_path: Path) -> None:
    text = EMAIL.format(name="aliased").replace(
        "content: {subject: Hi, body: Hello}", "content: &c {subject: Hi, body: Hello}"
    )
    text = text.replace("spec:", "spec:\n  throttle: &t {perSecond: 10}")
    result = load(write(tmp_path / "a.yaml", text))
    assert result.ok, rendered(result)
    assert result.manifests[0].spec["throttle"] == {"perSecond": 10}


def test_duplicate_name_across_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "campaigns" / "a.yaml", EMAIL.format(name="digest"))
    write(tmp_path / "campaigns" / "b" / "b.yaml", "# again\n" + EMAIL.format(name="digest"))
    result = load("campaigns")
    assert rendered(result) == [
        "campaigns/b/b.yaml:5:9: duplicate campaign name 'digest': "
        "first defined at campaigns/a.yaml:4:9"
    ]
    assert result.diagnostics[0].campaign == "digest"
    assert [m.file for m in result.manifests] == ["campaigns/a.yaml"]
    assert result.files == 2


def test_errors_are_collected_across_all_files(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "a: [1\n")
    write(tmp_path / "b.yaml", EMAIL.format(name="fine"))
    write(tmp_path / "c.yaml", EMAIL.format(name="Bad"))
    result = load(tmp_path)
    assert [Path(d.file or "").name for d in result.diagnostics] == ["a.yaml", "c.yaml"]
    assert [m.name for m in result.manifests] == ["fine"]
    assert result.files == 3 and not result.ok


# -- files that are not text ---------------------------------------------------------------------


def test_nul_bytes_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "x.yaml", b"apiVersion: reconciler/v1\nkind: Camp\x00aign\n")
    assert str(only(load("x.yaml"))) == (
        "x.yaml:2:11: binary file (contains a NUL byte), not a YAML manifest"
    )


def test_non_utf8_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "x.yaml", "metadata:\n  title: Caf\u00e9 ".encode() + b"cr\xe8me\n")
    assert str(only(load("x.yaml"))) == "x.yaml:2:17: not UTF-8 text: invalid byte 0xe8"


def test_control_characters_are_placed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "x.yaml", "a: 1\nb: \u00e9\u00e9\x07\n")
    assert str(only(load("x.yaml"))) == (
        "x.yaml:2:6: invalid YAML: unacceptable character #x0007:"
        " control characters are not allowed"
    )


def test_file_over_one_mib_is_refused_unparsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parses: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "big.yaml", "a: [" + "1, " * 400_000 + "1]\n")
    size = (tmp_path / "big.yaml").stat().st_size
    diagnostic = only(load("big.yaml"))
    assert parses == []
    assert str(diagnostic) == (
        f"big.yaml:1:1: file too large: {size} bytes, over the limit of 1048576 bytes (1 MiB)"
    )


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path / "bom.yaml", "\ufeff" + EMAIL.format(name="with-bom"))
    result = load(path)
    assert result.ok, rendered(result)
    assert result.manifests[0].where("metadata.name") == Position(4, 9)


def test_columns_count_characters_not_bytes(tmp_path: Path) -> None:
    text = EMAIL.format(name="accents").replace("Hi,", "H\u00e9\u00e9\u00e9,")
    text = text.replace("state: live", "state: \u00e9t\u00e9")
    result = load(write(tmp_path / "a.yaml", text))
    assert [(d.line, d.column) for d in result.diagnostics] == [(6, 10)]


def test_long_keys_and_tags_are_truncated(tmp_path: Path) -> None:
    key, tag = "k" * 1000, "!" + "t" * 10_000  # YAML caps implicit keys at 1024 characters
    text = EMAIL.format(name="long") + f"  {key}: 1\n  other: {tag} x\n"
    result = load(write(tmp_path / "a.yaml", text))
    assert [d.message for d in result.diagnostics] == [
        "tag !" + "t" * 56 + "... is not allowed (only plain YAML data)"
    ]
    result = load(write(tmp_path / "a.yaml", EMAIL.format(name="long") + f"  {key}: 1\n"))
    assert [d.message for d in result.diagnostics] == [
        "spec: Additional properties are not allowed ('" + "k" * 56 + "... was unexpected)"
    ]
    assert (result.diagnostics[0].line, result.diagnostics[0].column) == (10, 3)


def test_a_null_document(tmp_path: Path) -> None:
    result = load(write(tmp_path / "a.yaml", "null\n"))
    assert only(result).message == "expected a mapping (a Campaign manifest), got null"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=":-[]{}&*!|>#'\"?,\n\t \\%@`~ab1.\u00e9\x85", max_size=80))
def test_arbitrary_text_never_raises(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        result = load(write(Path(folder) / "fuzz.yaml", text))
    assert all(d.file and (d.line is None or d.line >= 1) for d in result.diagnostics)
    assert all(len(d.message) <= 300 for d in result.diagnostics)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        result = load(write(Path(folder) / "fuzz.yaml", data))
    assert not result.ok


# -- paths ---------------------------------------------------------------------------------------


def test_missing_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = load("campaigns")
    assert rendered(result) == ["campaigns:1:1: no such file or directory"]
    assert result.files == 0 and not result.ok


def repository(tmp_path: Path) -> Path:
    """A git work tree (a .git folder is all that tells one) with a campaigns/ folder in it."""
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "campaigns").mkdir()
    return tmp_path / "repo"


def test_entries_that_are_not_files_are_errors_at_their_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = repository(tmp_path)
    folder = repo / "campaigns"
    (folder / "broken.yaml").symlink_to(folder / "nowhere.yaml")
    (folder / "loop.yaml").symlink_to(folder / "loop.yaml")
    os.mkfifo(folder / "pipe.yaml")
    (folder / "to-folder.yaml").symlink_to(repo / "campaigns")
    write(folder / "valid.yaml", EMAIL_YAML.format(name="valid", subject="Hi"))
    monkeypatch.chdir(repo)
    result = load("campaigns")
    assert rendered(result) == [
        "campaigns/broken.yaml:1:1: broken symbolic link: its target does not exist",
        "campaigns/loop.yaml:1:1: symbolic link loop: the link leads back to itself",
        "campaigns/pipe.yaml:1:1: not a regular file (a named pipe)",
        "campaigns/to-folder.yaml:1:1: symbolic link to a folder, which is not followed",
    ]
    assert [m.name for m in result.manifests] == ["valid"]
    assert result.files == 5


def test_links_are_followed_only_inside_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = repository(tmp_path)
    secret = write(tmp_path / "outside" / "secret.yaml", "password: hunter2\n")
    write(repo / "shared" / "digest.yaml", EMAIL_YAML.format(name="digest", subject="Hi"))
    (repo / "campaigns" / "digest.yaml").symlink_to("../shared/digest.yaml")
    (repo / "campaigns" / "secret.yaml").symlink_to(secret)
    monkeypatch.chdir(repo)
    result = load("campaigns")
    assert rendered(result) == [
        "campaigns/secret.yaml:1:1: symbolic link leads outside the repository; "
        "a manifest must be inside it"
    ]
    assert [m.name for m in result.manifests] == ["digest"]
    assert "hunter2" not in repr(result)


def test_a_manifest_folder_that_leads_out_of_the_repository_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    write(tmp_path / "etc" / "passwd.yaml", "root: x\n")
    (tmp_path / "repo" / "campaigns").symlink_to(tmp_path / "etc")
    monkeypatch.chdir(tmp_path / "repo")
    assert rendered(load("campaigns")) == [
        "campaigns:1:1: leads outside the repository (a symbolic link); "
        "give the manifests' own folder"
    ]


def test_a_device_as_the_path_is_an_error_not_a_read() -> None:
    assert rendered(load("/dev/zero")) == ["/dev/zero:1:1: not a regular file (a device)"]


def test_an_unreadable_file_is_placed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "locked.yaml", EMAIL_YAML.format(name="locked", subject="Hi"))
    real_open = os.open

    def denied(file: Any, flags: int, *args: Any) -> int:
        if Path(file).name == path.name:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(file, flags, *args)

    monkeypatch.setattr(os, "open", denied)
    monkeypatch.chdir(tmp_path)
    assert rendered(load("locked.yaml")) == ["locked.yaml:1:1: cannot read file: Permission denied"]


def test_a_file_name_that_is_not_utf8_is_shown_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "campaigns"
    folder.mkdir()
    name = os.fsdecode(b"a\xff\xfe.yaml")
    write(folder / name, EMAIL_YAML.format(name="Bad", subject="Hi"))
    monkeypatch.chdir(tmp_path)
    (diagnostic,) = load("campaigns", Cache()).diagnostics
    assert diagnostic.file == "campaigns/a\\xff\\xfe.yaml"
    diagnostic.file.encode("utf-8")  # no lone surrogate: any output can hold it


def test_empty_directory_is_valid(tmp_path: Path) -> None:
    result = load(tmp_path)
    assert result == LoadResult((), (), 0)
    assert result.ok


def test_find_files_sorted_and_hidden_skipped(tmp_path: Path) -> None:
    for name in [
        "b.yaml",
        "a.yml",
        "a/z.yaml",
        "a/b/c.yaml",
        "a-c.yaml",
        ".hidden.yaml",
        ".git/x.yaml",
        "a/.secret/y.yaml",
        "notes.txt",
        "c.yaml.bak",
    ]:
        write(tmp_path / name, "x: 1\n")
    (tmp_path / "d.yaml").mkdir()
    found = list(dict.fromkeys(d.file for d in load(tmp_path, workers=1).diagnostics))
    root = f"{tmp_path}/"
    assert [f.removeprefix(root) for f in found] == [
        "a/b/c.yaml", "a/z.yaml", "a-c.yaml", "a.yml", "b.yaml"
    ]  # fmt: skip


def test_display_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inside = write(tmp_path / "repo" / "campaigns" / "x.yaml", EMAIL.format(name="Bad"))
    monkeypatch.chdir(tmp_path / "repo")
    assert only(load(inside.resolve())).file == "campaigns/x.yaml"
    assert only(load("campaigns")).file == "campaigns/x.yaml"
    monkeypatch.chdir(tmp_path / "repo" / "campaigns")
    assert only(load("../campaigns")).file == "x.yaml"  # named from where the user stands
    assert str(only(load("x.yaml"))) == (
        "x.yaml:4:9: metadata.name: 'Bad' is not a valid campaign name (1-63 characters a-z, "
        "0-9 and '-', starting and ending with a letter or digit)"
    )


def test_a_single_file_of_any_name(tmp_path: Path) -> None:
    result = load(write(tmp_path / "campaign.txt", EMAIL.format(name="single")))
    assert result.ok and result.files == 1
    assert [m.name for m in result.manifests] == ["single"]


def test_a_thousand_small_files(tmp_path: Path) -> None:
    for i in range(1000):
        write(tmp_path / f"team-{i % 10}" / f"c{i:04}.yaml", EMAIL.format(name=f"c-{i:04}"))
    result = load(tmp_path)  # how fast: bench/, not here
    assert result.ok, rendered(result)[:3]
    assert result.files == 1000
    assert sorted(m.name for m in result.manifests) == [f"c-{i:04}" for i in range(1000)]


# -- YAML typing ---------------------------------------------------------------------------------


def test_yaml_11_traps_do_not_bite(tmp_path: Path) -> None:
    text = EMAIL.format(name="weekly").replace(
        "  content:",
        "  schedule:\n"
        "    recurring: {every: week, on: [mon, thu], at: 09:00,"
        " start: 2026-12-01T00:00:00+01:00}\n"
        "    timezone: Europe/Amsterdam\n"
        "  content:",
    )
    text = text.replace("metadata:\n", "metadata:\n  labels: {a: yes, b: no, c: on, d: off}\n")
    result = load(write(tmp_path / "a.yaml", text))
    assert result.ok, rendered(result)
    manifest = result.manifests[0]
    recurring = manifest.spec["schedule"]["recurring"]
    assert recurring == {
        "every": "week",
        "on": ["mon", "thu"],
        "at": "09:00",
        "start": "2026-12-01T00:00:00+01:00",
    }
    assert manifest.labels == {"a": "yes", "b": "no", "c": "on", "d": "off"}


def test_implicit_scalars() -> None:
    loader = documents._Loader(
        "[true, False, yes, ~, null, '', 12, 012, 0o17, 0x1f, -3, 1.5, .5, 1e3, 9:00, 1_000,"
        " .inf, .nan, 2026-12-01, 2026-12-01T09:00:00Z, 0b101, '12', !!str 12, !!float 3]"
    )
    try:
        data = loader.get_single_data()
    finally:
        loader.dispose()
    assert data == [
        *(True, False, "yes", None, None, "", 12, 12, 15, 31, -3, 1.5, 0.5, 1000.0, "9:00"),
        *("1_000", ".inf", ".nan", "2026-12-01", "2026-12-01T09:00:00Z", "0b101", "12", "12"),
        3.0,
    ]
    assert [type(v) for v in data[6:10]] == [int] * 4


def test_global_yaml_loaders_are_untouched() -> None:
    assert yaml.safe_load("on: yes") == {True: True}


@pytest.mark.parametrize(
    ("at", "error"),
    [
        ('"09:00"', None),
        ("09:00", None),
        ("'23:59'", None),
        ("9:00", "'9:00' is not a time of day as HH:MM (24-hour, e.g. '09:00')"),
        ('"9:00"', "'9:00' is not a time of day as HH:MM (24-hour, e.g. '09:00')"),
        ("24:00", "'24:00' is not a time of day as HH:MM (24-hour, e.g. '09:00')"),
        ("900", "900 is not of type 'string'"),
    ],
)
def test_time_of_day(tmp_path: Path, at: str, error: str | None) -> None:
    text = EMAIL.format(name="daily").replace(
        "  content:", f"  schedule:\n    recurring:\n      every: day\n      at: {at}\n  content:"
    )
    result = load(write(tmp_path / "a.yaml", text))
    messages = [d.message for d in result.diagnostics]
    assert messages == ([] if error is None else [f"spec.schedule.recurring.at: {error}"])


# -- what a manifest becomes ---------------------------------------------------------------------

FULL = """\
# a leading comment
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: weekly-digest
  title: Weekly digest
  labels: {team: growth}
  annotations:
    owner: marketing-ops
spec:
  state: live
  run: stopped
  channel: email
  audience: {segment: newsletter, locale: nl}
  content: {subject: "Hi", body: "...", tags: [a, b]}
  schedule:
    once: {at: 2026-12-01T09:00:00+01:00}
    timezone: Europe/Amsterdam
  throttle: {perSecond: 500}
---
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: weekly-digest-2027
spec:
  copyFrom: weekly-digest
  state: draft
  content: {subject: "Hi again"}
---
apiVersion: reconciler/v1
kind: Campaign
metadata: {name: banner}
spec:
  state: live
  channel: in-app
  content: {title: Welcome, body: Hello}
  window: {start: 2026-12-01T00:00:00Z, end: 2027-01-01T00:00:00Z}
"""


def test_a_multi_document_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "campaigns" / "digest.yaml", FULL)
    result = load("campaigns")
    assert result.ok, rendered(result)
    assert result.diagnostics == ()
    assert result.files == 1
    digest, copy, banner = result.manifests

    assert digest.name == "weekly-digest"
    assert digest.file == "campaigns/digest.yaml"
    assert digest.position == Position(2, 1)
    assert digest.state is DesiredState.LIVE and digest.run is Run.STOPPED
    assert digest.copy_from is None
    assert digest.title == "Weekly digest"
    assert digest.labels == {"team": "growth"}
    assert digest.annotations == {"owner": "marketing-ops"}
    assert digest.spec == {
        "channel": "email",
        "audience": {"segment": "newsletter", "locale": "nl"},
        "content": {"subject": "Hi", "body": "...", "tags": ["a", "b"]},
        "schedule": {"once": {"at": "2026-12-01T09:00:00+01:00"}, "timezone": "Europe/Amsterdam"},
        "throttle": {"perSecond": 500},
    }
    document = yaml.safe_load(FULL.split("---")[0].replace("2026-12-01T09:00:00+01:00", "'X'"))
    document["spec"]["schedule"]["once"]["at"] = "2026-12-01T09:00:00+01:00"
    assert digest.hash == spec_hash(document)
    json.dumps(digest.spec)  # plain JSON types only

    assert digest.where("metadata.name") == Position(5, 9)
    expected = {
        "spec": (11, 3),
        "spec.state": (11, 10),
        "spec.run": (12, 8),
        "spec.channel": (13, 12),
        "spec.audience": (14, 13),
        "spec.content": (15, 12),
        "spec.schedule": (17, 5),
    }
    assert {k: digest.where(k) for k in expected} == expected
    # every depth of mappings; a field not in the file is pointed at by the one above it
    assert digest.where("spec.schedule.once") == (17, 11)
    assert digest.where("spec.schedule.once.at") == (17, 16)
    assert digest.where("spec.content.subject") == (15, 22)
    assert digest.where("spec.content.tags") == (15, 47)
    assert digest.where("spec.schedule.recurring.at") == (17, 5)
    assert digest.where("spec.nothing") == (11, 3)
    assert digest.where("nothing") == digest.position

    assert copy.name == "weekly-digest-2027"
    assert copy.copy_from == "weekly-digest"
    assert copy.state is DesiredState.DRAFT and copy.run is Run.RUNNING
    assert copy.spec == {"content": {"subject": "Hi again"}}
    assert copy.position == Position(21, 1)
    assert copy.where("spec.copyFrom") == Position(26, 13)
    assert copy.title is None and copy.labels == {} and copy.annotations == {}

    assert banner.spec["window"]["end"] == "2027-01-01T00:00:00Z"
    assert banner.where("metadata.name") == Position(32, 18)


def test_aliased_values_are_not_shared(tmp_path: Path) -> None:
    text = EMAIL.format(name="shared").replace(
        "  content: {subject: Hi, body: Hello}",
        "  content: {subject: Hi, body: Hello, extra: &e {a: [1]}, more: *e}",
    )
    result = load(write(tmp_path / "a.yaml", text))
    assert result.ok, rendered(result)
    content = result.manifests[0].spec["content"]
    assert content["extra"] == content["more"] == {"a": [1]}
    assert content["extra"] is not content["more"]
    assert content["extra"]["a"] is not content["more"]["a"]


@pytest.mark.parametrize(
    "spec",
    [
        "channel: sms\n  audience: {segment: all}\n  content: {text: Hi}",
        "channel: push\n  audience: {segment: all}\n  content: {title: T, body: B, image: x.png}",
        "channel: email\n  audience: {segment: all}\n  content: {subject: S, template: t1}",
        "channel: web\n  content: {title: T, body: B}\n  audience: {segment: visitors}",
        "channel: code-based\n  content: {title: T, body: '{\"k\": 1}'}",
        "channel: content-card\n  content: {title: T, body: B}\n"
        "  window: {end: 2027-01-01T00:00:00Z}",
        "channel: sms\n  audience: {segment: all}\n  content: {text: Hi}\n"
        "  schedule: {recurring: {every: month, interval: 2, on: [1, 15, 31], at: '07:30'}}",
        "channel: sms\n  audience: {segment: all}\n  content: {text: Hi}\n"
        "  schedule: {recurring: {cron: '0 9 * * MON-FRI', end: 2027-01-01T00:00:00Z},"
        " timezone: America/New_York}",
        "copyFrom: some-source",
        "copyFrom: some-source\n  run: stopped\n  channel: sms\n  content: {text: Hi}",
    ],
)
def test_good_specs(tmp_path: Path, spec: str) -> None:
    text = "apiVersion: reconciler/v1\nkind: Campaign\nmetadata:\n  name: good\nspec:\n"
    text += f"  state: draft\n  {spec}\n"
    result = load(write(tmp_path / "a.yaml", text))
    assert result.ok, rendered(result)


def test_diagnostics_name_the_campaign(tmp_path: Path) -> None:
    result = load(write(tmp_path / "a.yaml", EMAIL.format(name="x").replace("live", "paused")))
    assert only(result).campaign == "x"
    assert (
        only(result).to_json()["message"] == "spec.state: 'paused' is not one of ['draft', 'live']"
    )


# -- validate_spec -------------------------------------------------------------------------------


def test_validate_spec_on_a_copy_overlay() -> None:
    source: dict[str, Any] = {
        "channel": "email",
        "audience": {"segment": "newsletter"},
        "content": {"subject": "Hi", "body": "Hello"},
        "schedule": {"recurring": {"cron": "0 9 * * MON"}, "timezone": "UTC"},
    }
    assert validate_spec(source) == []
    merged = overlay(source, {"content": {"subject": "Hi again"}})
    assert validate_spec(merged) == []
    broken = overlay(source, {"content": {"subject": None, "body": None}})
    assert validate_spec(broken) == [
        "spec.content.subject: None is not of type 'string'",
        "spec.content.body: None is not of type 'string'",
    ]
    assert sorted(validate_spec({"channel": "sms", "content": {}})) == [
        "spec.content: 'text' is a required property",
        "spec: 'audience' is a required property",
    ]


def test_validate_spec_checks_what_the_schema_cannot() -> None:
    spec = {
        "channel": "sms",
        "audience": {"segment": "all"},
        "content": {"text": "Hi"},
        "schedule": {
            "recurring": {
                "cron": "0 25 * * *",
                "start": "2027-01-01T00:00:00Z",
                "end": "2026-01-01T00:00:00Z",
            },
            "timezone": "Nowhere/Special",
        },
    }
    assert validate_spec(spec) == [
        "spec.schedule.timezone: 'Nowhere/Special' is not a known IANA time zone"
        " (like 'Europe/Amsterdam')",
        "spec.schedule.recurring.cron: '0 25 * * *' is not a valid cron expression: bad hour",
        "spec.schedule.recurring.end: end 2026-01-01T00:00:00Z is not after start"
        " 2027-01-01T00:00:00Z",
    ]


def test_validate_spec_rejects_lifecycle_keys_and_partial_specs() -> None:
    assert validate_spec({"state": "live", "channel": "web", "content": {"title": "t"}}) == [
        "spec: Additional properties are not allowed ('state' was unexpected)",
        "spec.content: 'body' is a required property",
    ]
    assert validate_spec({}) == [
        "spec: 'channel' is a required property",
        "spec: 'content' is a required property",
    ]


def test_a_key_typo_is_one_error_with_a_suggestion() -> None:
    sms = {"audience": {"segment": "all"}, "content": {"text": "Hi"}}
    assert validate_spec({"chanel": "sms", **sms}) == [
        "spec: 'chanel' is not a known property; did you mean 'channel'?"
    ]
    # the key it resembles is there already: no suggestion, and nothing else is missing
    assert validate_spec({"channel": "sms", "chanel": "sms", **sms}) == [
        "spec: Additional properties are not allowed ('chanel' was unexpected)"
    ]
    # 'content' is required too: its 'required' error is the typo's other half, not repeated
    assert validate_spec({"channel": "sms", "audience": {"segment": "all"}, "contnet": {}}) == [
        "spec: 'contnet' is not a known property; did you mean 'content'?",
    ]
    # a key that is not required is suggested just the same
    assert validate_spec({"channel": "sms", **sms, "throttel": {"perSecond": 5}}) == [
        "spec: 'throttel' is not a known property; did you mean 'throttle'?"
    ]


# -- the schema ----------------------------------------------------------------------------------


def test_schema_is_packaged_and_valid() -> None:
    loaded = schema()
    assert loaded is schema()
    assert loaded["$id"] == "https://reconciler.dev/schema/campaign.schema.json"
    Draft202012Validator.check_schema(loaded)


def test_root_schema_is_a_relative_symlink_to_the_packaged_file() -> None:
    link = REPO / "schema" / "campaign.schema.json"
    assert link.is_symlink()
    assert str(link.readlink()) == "../src/reconciler/schema/campaign.schema.json"
    assert json.loads(link.read_text(encoding="utf-8")) == schema()
