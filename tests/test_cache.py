"""The parse cache: what it spares (reading, parsing), and that it never serves a stale result.

Also the parallel parse, which must give exactly what one process gives, and survive a child that
fails.
"""

from __future__ import annotations

import marshal
import os
import time
from collections.abc import Iterator
from pathlib import Path

import fastjsonschema
import pytest

from factories import EMAIL_YAML
from reconciler import cache, manifests, validation
from reconciler.cache import DiskCache
from reconciler.manifests import Cache, FileResult, LoadResult, load

EMAIL = EMAIL_YAML
BROKEN = "apiVersion: reconciler/v1\nkind: Campaign\nmetadata: {name: [}\n"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "campaigns"
    folder.mkdir()
    for name in ("alpha", "beta", "gamma"):
        (folder / f"{name}.yaml").write_text(EMAIL.format(name=name, subject="Hi"))
    return folder


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files read, in order."""
    seen: list[str] = []
    real = manifests.read_bytes

    def counting(file: str, display: str) -> tuple[bytes, manifests.StatKey] | object:
        seen.append(display)
        return real(file, display)

    monkeypatch.setattr(manifests, "read_bytes", counting)
    return seen


@pytest.fixture
def trusting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust a stat as soon as the file was written before the load began (not 2 s before), and
    make sure it was."""
    monkeypatch.setattr(manifests, "RACY_NS", 0)
    time.sleep(0.05)


def warm_cache(folder: Path) -> tuple[DiskCache, LoadResult]:
    """A disk cache in ``folder`` after one load of campaigns/, saved; and what was loaded."""
    disk = DiskCache(folder)
    loaded = load("campaigns", disk)
    disk.save()
    return disk, loaded


def subjects(result: LoadResult) -> dict[str, str]:
    return {m.name: m.spec["content"]["subject"] for m in result.manifests}


def test_an_unchanged_file_is_neither_read_nor_parsed_again(
    repo: Path, reads: list[str], parses: list[str], trusting: None
) -> None:
    cache = Cache()
    first = load("campaigns", cache)
    assert parses == reads == [f"campaigns/{n}.yaml" for n in ("alpha", "beta", "gamma")]
    reads.clear()
    parses.clear()
    assert load("campaigns", cache) == first
    assert reads == parses == []


def test_a_touched_file_is_read_but_not_parsed(
    repo: Path, reads: list[str], parses: list[str], trusting: None
) -> None:
    cache = Cache()
    load("campaigns", cache)
    reads.clear()
    parses.clear()
    (repo / "beta.yaml").touch()
    assert subjects(load("campaigns", cache))["beta"] == "Hi"
    assert reads == ["campaigns/beta.yaml"]
    assert parses == []


def test_a_rewrite_that_keeps_size_and_mtime_is_still_seen(
    repo: Path, parses: list[str], trusting: None
) -> None:
    """Tools that restore the mtime (cp -p, rsync -t, an archive) cannot hide a change: any write
    moves the ctime, which no tool can set back."""
    cache = Cache()
    load("campaigns", cache)
    beta = repo / "beta.yaml"
    before = beta.stat()
    beta.write_text(EMAIL.format(name="beta", subject="Yo"))  # the same size
    os.utime(beta, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (beta.stat().st_size, beta.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    parses.clear()
    assert subjects(load("campaigns", cache))["beta"] == "Yo"
    assert parses == ["campaigns/beta.yaml"]


def test_a_file_written_just_before_it_was_read_is_read_again(
    repo: Path, reads: list[str], parses: list[str]
) -> None:
    """A write in the same clock tick as the read would leave the stat as it was: until the file
    is older than RACY_NS, its stat is not trusted and its bytes decide."""
    cache = Cache()
    load("campaigns", cache)
    reads.clear()
    parses.clear()
    assert subjects(load("campaigns", cache)) == {"alpha": "Hi", "beta": "Hi", "gamma": "Hi"}
    assert len(reads) == 3
    assert parses == []
    assert cache.seen == {}


def test_stat_trusted_only_for_files_written_well_before_the_load(repo: Path) -> None:
    cache = Cache()
    now = time.time_ns()
    old = (10, now - 3 * 10**9, now - 3 * 10**9, 1)
    fresh = (10, now - 3 * 10**9, now - 10**9, 2)  # content old, but written again 1 s ago
    cache.saw("a.yaml", old, "digest-a", now)
    cache.saw("b.yaml", fresh, "digest-b", now)
    assert cache.seen == {"a.yaml": (old, "digest-a")}
    cache.saw("a.yaml", (11, now, now, 1), "digest-c", now)  # rewritten: forgotten
    assert cache.seen == {}


def test_a_moved_file_is_read_under_its_new_name(
    repo: Path, parses: list[str], trusting: None
) -> None:
    cache = Cache()
    load("campaigns", cache)
    (repo / "beta.yaml").rename(repo / "delta.yaml")
    parses.clear()
    result = load("campaigns", cache)
    assert [m.file for m in result.manifests] == [
        "campaigns/alpha.yaml",
        "campaigns/delta.yaml",
        "campaigns/gamma.yaml",
    ]
    assert parses == ["campaigns/delta.yaml"]  # results carry their file name: keyed by it too


def test_sweep_keeps_what_was_used_since_the_last_sweep(repo: Path) -> None:
    cache = Cache()
    load("campaigns", cache)
    cache.sweep()
    (repo / "beta.yaml").write_text(EMAIL.format(name="beta", subject="Yo"))
    load("campaigns", cache)
    assert len(cache) == 4  # both versions of beta
    cache.sweep()
    assert sorted(display for display, _ in cache) == [
        "campaigns/alpha.yaml",
        "campaigns/beta.yaml",
        "campaigns/gamma.yaml",
    ]


# -- on disk -------------------------------------------------------------------------------------


def test_the_disk_cache_spares_the_next_process_the_parsing(
    repo: Path, tmp_path: Path, parses: list[str], reads: list[str], trusting: None
) -> None:
    folder = tmp_path / ".reconciler" / "cache"
    _, first = warm_cache(folder)
    [saved] = folder.iterdir()
    assert saved.name.startswith("manifests-")
    assert sorted(p.name for p in saved.iterdir()) == sorted(
        [f"{cache._shard(f'campaigns/{n}.yaml')}.marshal" for n in ("alpha", "beta", "gamma")]
        + ["validators.marshal"]
    )
    parses.clear()
    reads.clear()
    assert load("campaigns", DiskCache(folder)) == first
    assert parses == reads == []


def test_the_disk_cache_keeps_errors_too(repo: Path, tmp_path: Path, parses: list[str]) -> None:
    (repo / "broken.yaml").write_text(BROKEN)
    folder = tmp_path / "cache"
    _, first = warm_cache(folder)
    assert not first.ok
    parses.clear()
    assert load("campaigns", DiskCache(folder)) == first
    assert parses == []


def test_an_unreadable_disk_cache_is_rebuilt(repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    disk, first = warm_cache(folder)
    shards = list(disk.folder.iterdir())
    for garbage in (b"", b"\x00garbage", b"\xe9" * 100, marshal.dumps(({}, [])), b"\x00" * 8):
        for shard in shards:
            shard.write_bytes(garbage)
        again = DiskCache(folder)
        assert load("campaigns", again) == first
        again.save()
        assert load("campaigns", DiskCache(folder)) == first


def test_a_disk_cache_of_another_version_is_not_read_and_is_removed(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parses: list[str]
) -> None:
    folder = tmp_path / "cache"
    disk, _ = warm_cache(folder)
    old = disk.folder
    monkeypatch.setattr("reconciler.__version__", "9.9.9")
    newer = DiskCache(folder)
    assert newer.folder != old
    parses.clear()
    load("campaigns", newer)
    assert len(parses) == 3
    newer.save()
    assert list(folder.iterdir()) == [newer.folder]


def test_saving_an_unchanged_cache_writes_nothing(
    repo: Path, tmp_path: Path, trusting: None
) -> None:
    folder = tmp_path / "cache"
    disk, _ = warm_cache(folder)
    written = {p: p.stat().st_mtime_ns for p in disk.folder.iterdir()}
    time.sleep(0.01)
    again = DiskCache(folder)
    load("campaigns", again)
    again.save()
    assert {p: p.stat().st_mtime_ns for p in disk.folder.iterdir()} == written


def test_a_changed_file_rewrites_its_shard_only(
    repo: Path, tmp_path: Path, trusting: None, parses: list[str]
) -> None:
    folder = tmp_path / "cache"
    disk, _ = warm_cache(folder)
    written = {p.name: p.stat().st_mtime_ns for p in disk.folder.iterdir()}
    time.sleep(0.01)
    (repo / "beta.yaml").write_text(EMAIL.format(name="beta", subject="Yo"))
    again = DiskCache(folder)
    load("campaigns", again)
    again.save()
    now = {p.name: p.stat().st_mtime_ns for p in disk.folder.iterdir()}
    assert {name for name in now if now[name] != written[name]} == {
        f"{cache._shard('campaigns/beta.yaml')}.marshal"
    }
    parses.clear()
    assert subjects(load("campaigns", DiskCache(folder)))["beta"] == "Yo"
    assert parses == []


@pytest.fixture
def fresh_validators(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process as if it had compiled no validator yet."""
    monkeypatch.setattr(validation, "_COMPILED", {})
    validation._fast_check.cache_clear()
    yield
    validation._fast_check.cache_clear()


def test_the_compiled_validators_are_kept_with_the_cache(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_validators: None
) -> None:
    folder = tmp_path / "cache"
    disk, first = warm_cache(folder)
    assert set(marshal.loads((disk.folder / "validators.marshal").read_bytes())) == {0}
    (repo / "beta.yaml").write_text(EMAIL.format(name="beta", subject='""'))  # invalid now
    monkeypatch.setattr(validation, "_COMPILED", {})
    validation._fast_check.cache_clear()

    def no_compiling(*args: object, **kwargs: object) -> str:
        raise AssertionError("compiled again")

    monkeypatch.setattr(fastjsonschema, "compile_to_code", no_compiling)
    again = load("campaigns", DiskCache(folder))
    assert [str(d) for d in again.diagnostics] == [
        "campaigns/beta.yaml:9:22: spec.content.subject: '' should be non-empty"
    ]
    assert again.manifests == tuple(m for m in first.manifests if m.name != "beta")


def test_validators_compiled_by_another_fastjsonschema_are_compiled_again(
    repo: Path, tmp_path: Path, fresh_validators: None
) -> None:
    folder = tmp_path / "cache"
    disk, _ = warm_cache(folder)
    stale = compile(
        'VERSION = "0.0.1"\ndef validate(data, custom_formats=None, name_prefix=None):\n'
        '    raise AssertionError("a validator of another fastjsonschema was used")\n',
        "<stale>",
        "exec",
    )
    (disk.folder / "validators.marshal").write_bytes(marshal.dumps({0: marshal.dumps(stale)}))
    validation._COMPILED.clear()
    validation._fast_check.cache_clear()
    (repo / "beta.yaml").write_text(EMAIL.format(name="beta", subject="Yo"))
    newer = DiskCache(folder)
    assert subjects(load("campaigns", newer))["beta"] == "Yo"
    newer.save()
    namespace: dict[str, object] = {}
    exec(marshal.loads(validation.compiled()[0]), namespace)
    assert namespace["VERSION"] == fastjsonschema.VERSION


# -- parallel parsing ----------------------------------------------------------------------------


@pytest.fixture
def many(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Files enough to parse in parallel (the threshold lowered), some of them broken."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(manifests, "PARALLEL_FROM", 4)
    folder = tmp_path / "campaigns"
    folder.mkdir()
    for i in range(9):
        text = BROKEN if i % 4 == 3 else EMAIL.format(name=f"c{i}", subject=f"S{i}")
        (folder / f"c{i}.yaml").write_text(text)
    (folder / "dup.yaml").write_text(EMAIL.format(name="c0", subject="again"))
    return folder


def test_a_parallel_parse_gives_what_one_process_gives(many: Path) -> None:
    one = load("campaigns", workers=1)
    assert load("campaigns", workers=2) == one
    assert load("campaigns", workers=3) == one
    assert [str(d) for d in one.diagnostics] == [
        "campaigns/c3.yaml:3:19: invalid YAML: did not find expected node content"
        " (while parsing a flow node)",
        "campaigns/c7.yaml:3:19: invalid YAML: did not find expected node content"
        " (while parsing a flow node)",
        "campaigns/dup.yaml:4:9: duplicate campaign name 'c0': first defined at"
        " campaigns/c0.yaml:4:9",
    ]


def test_a_parallel_parse_survives_a_child_that_fails(
    many: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = load("campaigns", workers=1)
    pid = os.getpid()
    real = FileResult.record

    def failing_in_children(self: FileResult) -> manifests.Record:
        if os.getpid() != pid:
            raise MemoryError
        return real(self)

    monkeypatch.setattr(FileResult, "record", failing_in_children)
    assert load("campaigns", workers=2) == one


def test_no_parallel_parse_while_other_threads_run(
    many: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fork(*args: object) -> None:
        raise AssertionError("forked")

    one = load("campaigns", workers=1)
    monkeypatch.setattr(manifests, "_fork", no_fork)
    monkeypatch.setattr(manifests.threading, "active_count", lambda: 2)
    assert load("campaigns", workers=2) == one


def test_workers_default_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_WORKERS", "1")
    assert manifests._workers() == 1
    monkeypatch.setenv("RECONCILER_WORKERS", "3")
    assert manifests._workers() == 3
    monkeypatch.setenv("RECONCILER_WORKERS", "many")
    assert manifests._workers() == len(os.sched_getaffinity(0))


def test_a_parallel_read_finds_touched_files_in_the_cache(many: Path) -> None:
    cache = Cache()
    first = load("campaigns", cache, workers=2)
    entries = dict(cache.entries)
    for path in many.iterdir():
        path.touch()
    assert load("campaigns", cache, workers=2) == first
    # nothing parsed again: the children found every digest, and the results are the same objects
    assert all(cache.entries[key] is result for key, result in entries.items())
    assert len(cache.entries) == len(entries)
    assert cache.used == set(entries)
