"""Read the desired state: find manifest files, parse and validate what changed, check across files.

A file is parsed (``documents``: YAML, node checks, schema) only when a cache does not already hold
what its bytes give; many files to parse are shared between processes. The checks that need every
file (unique names, copyFrom without cycles) run on every load. Every error is placed at
``file:line:col``.
"""

from __future__ import annotations

import errno
import hashlib
import marshal
import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISBLK, S_ISCHR, S_ISDIR, S_ISFIFO, S_ISREG, S_ISSOCK
from typing import Any

from reconciler.errors import Diagnostic, Severity
from reconciler.model import DesiredState, Manifest, Position, Run
from reconciler.validation import clip, show

__all__ = [
    "Cache",
    "FileResult",
    "LoadResult",
    "copy_cycle",
    "cycle_message",
    "files",
    "load",
    "read_bytes",
]

MAX_FILE_BYTES = 1024 * 1024  # a manifest file larger than this is refused unread
PARALLEL_FROM = 1000  # files to read: below this, one process reads and parses them all
#: a file's stat is trusted to tell a change only when the file was last written this long before
#: it was read: a write within the same clock tick as the read leaves size and times unchanged
RACY_NS = 2_000_000_000

#: size, mtime, ctime and inode: any write changes the ctime, which no tool can set back
StatKey = tuple[int, int, int, int]
#: a FileResult as builtins only (tuples, dicts, lists, str, int, None): what the disk cache
#: stores (with marshal) and what parsing processes send back
Record = tuple[Any, ...]


@dataclass(frozen=True)
class LoadResult:
    manifests: tuple[Manifest, ...]
    diagnostics: tuple[Diagnostic, ...]
    files: int  # how many files were read

    @property
    def ok(self) -> bool:
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)


@dataclass(frozen=True)
class FileResult:
    """What one file holds, judged on its own: the unit a cache keeps, keyed by its content."""

    manifests: tuple[Manifest, ...]
    diagnostics: tuple[Diagnostic, ...]
    #: every document's metadata.name with its place, valid or not: names must be unique
    names: tuple[tuple[str, int, int], ...] = ()
    #: the record this was built from (read from a cache, or sent by a parsing process): the
    #: record again, for free
    built_from: Record | None = field(default=None, compare=False, repr=False)

    def record(self) -> Record:
        if self.built_from is not None:
            return self.built_from
        manifests = tuple(
            (m.name, m.file, *m.position, m.state._value_, m.run._value_, *m[5:])
            for m in self.manifests
        )
        diagnostics = tuple(
            (d.message, d.file, d.line, d.column, d.campaign, d.severity._value_)
            for d in self.diagnostics
        )
        return manifests, diagnostics, self.names

    @classmethod
    def from_record(cls, record: Record) -> FileResult:
        manifests, diagnostics, names = record
        return cls(
            tuple(
                _manifest((m[0], m[1], Position(m[2], m[3]), _STATES[m[4]], _RUNS[m[5]], *m[6:]))
                for m in manifests
            ),
            tuple(
                Diagnostic(message, file, line, column, campaign, _SEVERITIES[severity])
                for message, file, line, column, campaign, severity in diagnostics
            ),
            names,
            record,
        )


_manifest = Manifest._make
_STATES = {s.value: s for s in DesiredState}
_RUNS = {r.value: r for r in Run}
_SEVERITIES = {s.value: s for s in Severity}


class Cache:
    """Parsed files by content, and which content each file had when last read, by its stat.

    ``entries`` maps (file as displayed, SHA-256 of its bytes) to what the file holds: other
    bytes can never be served this result. ``seen`` maps a file to its stat when read and the
    digest of what was read, so that an unchanged file is not even read again. As with git's
    index, a stat is trusted only when the file was written well before it was read (RACY_NS);
    any later write moves the ctime, which no tool can set back.

    Entries are kept in their record form until first used (a disk cache loads them so).
    ``sweep`` drops what the last load did not use: the cache holds one repository's worth.
    """

    def __init__(
        self,
        entries: dict[tuple[str, str], FileResult | Record] | None = None,
        seen: dict[str, tuple[StatKey, str]] | None = None,
    ) -> None:
        self.entries = entries if entries is not None else {}
        self.seen = seen if seen is not None else {}
        self.used: set[tuple[str, str]] = set()
        self.changed = False

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def recall(self, file: str, display: str) -> FileResult | None:
        """What ``file`` holds, known without reading it: its stat is the one last seen."""
        known = self.seen.get(display)
        if known is None:
            return None
        try:
            stat = os.stat(file)  # noqa: PTH116 - strings, not pathlib: once per file per run
        except OSError:
            return None
        if (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino) != known[0]:
            return None
        return self.get(display, known[1])

    def get(self, display: str, digest: str) -> FileResult | None:
        key = (display, digest)
        entry = self.entries.get(key)
        if entry is None:
            return None
        if not isinstance(entry, FileResult):
            entry = self.entries[key] = FileResult.from_record(entry)
        self.used.add(key)
        return entry

    def put(self, display: str, digest: str, result: FileResult) -> None:
        self.entries[display, digest] = result
        self.used.add((display, digest))
        self.changed = True

    def saw(self, display: str, stat: StatKey, digest: str, started: int) -> None:
        """``display`` had ``stat`` when the bytes with ``digest`` were read, in a load that began
        at ``started`` (ns): remember it if the stat can be trusted to show a later change."""
        trusted = max(stat[1], stat[2]) < started - RACY_NS
        known = self.seen.get(display)
        if trusted and known != (stat, digest):
            self.seen[display] = (stat, digest)
            self.changed = True
        elif not trusted and known is not None:
            del self.seen[display]
            self.changed = True

    def sweep(self) -> None:
        """Forget what the last load did not use."""
        unused = self.entries.keys() - self.used
        for key in unused:
            del self.entries[key]
        stale = [d for d, (_, digest) in self.seen.items() if (d, digest) not in self.used]
        for display in stale:
            del self.seen[display]
        self.changed = self.changed or bool(unused or stale)
        self.used = set()


def load(
    path: str | os.PathLike[str], cache: Cache | None = None, *, workers: int | None = None
) -> LoadResult:
    """Read every manifest under ``path`` (a directory, recursively, or one file).

    With ``cache``, a file whose bytes are unchanged is not parsed again, and one whose stat is
    unchanged is not read again. ``workers``: how many processes may read and parse (default:
    the CPUs this process may use, or $RECONCILER_WORKERS); PARALLEL_FROM files or more to read
    are shared between them.
    """
    root = Path(path)
    if not os.path.lexists(root):
        return LoadResult((), (Diagnostic("no such file or directory", _display(root), 1, 1),), 0)
    entries = files(root)
    readable = [(file, display) for file, display, problem in entries if problem is None]
    started = time.time_ns()
    known = [
        cache.recall(file, display) if cache is not None else None for file, display in readable
    ]
    pending = [(i, *readable[i]) for i, result in enumerate(known) if result is None]
    outcomes = _read_many([(file, display) for _, file, display in pending], cache, workers)
    for (index, _, display), (digest, stat, result) in zip(pending, outcomes, strict=True):
        if digest is not None and stat is not None and cache is not None:
            cache.saw(display, stat, digest, started)
            if result is None:
                result = cache.get(display, digest)
            else:
                cache.put(display, digest, result)
        known[index] = result
    read = iter(known)
    results = [
        next(read) if problem is None else FileResult((), (Diagnostic(problem, display, 1, 1),))
        for _, display, problem in entries
    ]
    manifests, diagnostics = _across_files([r for r in results if r is not None])
    return LoadResult(tuple(manifests), tuple(diagnostics), len(entries))


def copy_cycle(name: str, sources: Mapping[str, str]) -> list[str] | None:
    """The copyFrom chain from ``name`` when it runs in a circle (``[a, b, a]``), else None."""
    chain = [name]
    while (source := sources.get(chain[-1])) is not None:
        chain.append(source)
        if source in chain[:-1]:
            return chain
    return None


def cycle_message(chain: list[str]) -> str:
    return "copyFrom forms a cycle: " + " -> ".join(chain) + "; a copy needs a source that exists"


# -- files ---------------------------------------------------------------------------------------


SUFFIXES = (".yaml", ".yml")

#: a manifest file found: (path to open, path as displayed, why it is not read, or None)
Entry = tuple[str, str, str | None]


def _walk(top: str, boundary: str) -> list[tuple[str, str | None]]:
    """The manifest files under ``top``, relative to it with ``/``, in the order of their path
    segments, each with why it cannot be read (or None); hidden names skipped, symbolic links to
    folders not followed (as ``os.walk``).

    A ``*.yaml`` that is a symbolic link is read only when it leads to a file inside ``boundary``
    (the repository): a pull request must not make the reconciler read, and quote in its errors,
    a file elsewhere on the machine. One that is no regular file (a named pipe, a device) is found
    here and refused when read.
    """
    found: list[tuple[tuple[str, ...], str | None]] = []
    pending: list[tuple[str, tuple[str, ...]]] = [(top, ())]
    while pending:
        folder, parts = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            try:
                link = entry.is_symlink()
                if not link and entry.is_dir(follow_symlinks=False):
                    pending.append((entry.path, (*parts, name)))
                elif name.endswith(SUFFIXES):
                    found.append(
                        ((*parts, name), _link_problem(entry.path, boundary) if link else None)
                    )
            except OSError as exc:  # pragma: no cover - the entry went away meanwhile
                if name.endswith(SUFFIXES):
                    found.append(((*parts, name), f"cannot read file: {exc.strerror or exc}"))
    return [("/".join(parts), problem) for parts, problem in sorted(found)]


def _link_problem(path: str, boundary: str) -> str | None:
    """Why the symbolic link at ``path`` is not read, or None when it leads to a file inside."""
    try:
        target = os.path.realpath(path, strict=True)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop: the link leads back to itself"
        return "broken symbolic link: its target does not exist"
    if not _inside(target, boundary):
        return "symbolic link leads outside the repository; a manifest must be inside it"
    if Path(target).is_dir():
        return "symbolic link to a folder, which is not followed"
    return None


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _repository(root: Path) -> str:
    """Where the manifests' symbolic links may lead: the git work tree holding ``root`` (the
    nearest folder above it with a ``.git``), or else ``root``'s own folder. Found by the path
    as given, not as resolved: a ``campaigns`` that is itself a link out of the tree is outside."""
    given = Path(os.path.abspath(root))  # noqa: PTH100 - as given: abspath resolves no link
    folder = given if given.is_dir() and not given.is_symlink() else given.parent
    for probe in (folder, *folder.parents):
        if os.path.lexists(probe / ".git"):
            return os.path.realpath(probe)
    return os.path.realpath(given if given.is_dir() else folder)


def files(root: Path) -> list[Entry]:
    """Every manifest file under ``root`` (or ``root``): path to open, as displayed, problem."""
    boundary = _repository(root)
    shown = _display(root)
    if not _inside(os.path.realpath(root), boundary):
        problem = "leads outside the repository (a symbolic link); give the manifests' own folder"
        return [(os.fspath(root), shown, problem)]
    if not root.is_dir():
        return [(os.fspath(root), shown, None)]
    top = os.fspath(root)
    found = _walk(top, boundary)
    if Path(shown).is_absolute():  # outside the working directory: shown as given
        return [(f"{top}{os.sep}{r}", _text(os.path.join(top, r)), p) for r, p in found]  # noqa: PTH118
    prefix = "" if shown == "." else shown.rstrip("/") + "/"
    return [(f"{top}{os.sep}{r}", prefix + _text(r), p) for r, p in found]


def _display(path: Path) -> str:
    """The file as a person would name it: relative to the working directory when under it."""
    absolute, cwd = os.path.abspath(path), os.getcwd()  # noqa: PTH100, PTH109
    if absolute == cwd:
        return "."
    if absolute.startswith(cwd + os.sep):
        return _text(absolute[len(cwd) + 1 :].replace(os.sep, "/"))
    return _text(str(path))


def _text(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 (kept by Python as lone surrogates, which
    no output can encode) shown as ``\\xff`` escapes. Views escape the rest."""
    if name.isascii():
        return name
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def read_bytes(file: str, display: str) -> tuple[bytes, StatKey] | Diagnostic:
    """The file's bytes, and its stat taken before they were read. Opened without blocking: a
    named pipe or a device is refused, not waited on."""
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return Diagnostic(f"cannot read file: {exc.strerror or exc}", display, 1, 1)
    try:
        stat = os.fstat(fd)
        if not S_ISREG(stat.st_mode):
            return Diagnostic(f"not a regular file ({_kind(stat.st_mode)})", display, 1, 1)
        size = stat.st_size
        with open(fd, "rb", closefd=False) as handle:
            data = b"" if size > MAX_FILE_BYTES else handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return Diagnostic(f"cannot read file: {exc.strerror or exc}", display, 1, 1)
    finally:
        os.close(fd)
    size = max(size, len(data))
    if size > MAX_FILE_BYTES:
        limit = f"{MAX_FILE_BYTES} bytes (1 MiB)"
        return Diagnostic(f"file too large: {size} bytes, over the limit of {limit}", display, 1, 1)
    return data, (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def _kind(mode: int) -> str:
    if S_ISDIR(mode):
        return "a folder"
    if S_ISFIFO(mode):
        return "a named pipe"
    if S_ISCHR(mode) or S_ISBLK(mode):
        return "a device"
    return "a socket" if S_ISSOCK(mode) else "not a file"


# -- reading and parsing ------------------------------------------------------------------------

#: what reading a file gave: the digest of its bytes and its stat before they were read (None if
#: it could not be read), and what it holds (None: the cache already has it under that digest)
Outcome = tuple[str | None, StatKey | None, FileResult | None]


def _parse_file(data: bytes, display: str) -> FileResult:
    from reconciler import documents  # libyaml and the validators: only when something is parsed

    return FileResult(*documents.parse(data, display))


def _read_one(file: str, display: str, cache: Cache | None) -> Outcome:
    read = read_bytes(file, display)
    if isinstance(read, Diagnostic):
        return None, None, FileResult((), (read,))
    data, stat = read
    digest = hashlib.sha256(data).hexdigest()
    if cache is not None and (display, digest) in cache.entries:
        return digest, stat, None
    return digest, stat, _parse_file(data, display)


def _read_many(
    files: list[tuple[str, str]], cache: Cache | None, workers: int | None
) -> list[Outcome]:
    """Read, and parse what the cache lacks, in order; in several processes when it pays."""
    count = _workers() if workers is None else workers
    if count < 2 or len(files) < PARALLEL_FROM or threading.active_count() > 1:
        return [_read_one(file, display, cache) for file, display in files]
    from reconciler import documents

    documents.prepare()  # once, before forking: every child inherits it ready
    size = -(-len(files) // count)
    shares = [files[i : i + size] for i in range(0, len(files), size)]
    children = [_fork(share, cache) for share in shares[1:]]
    outcomes = [_read_one(file, display, cache) for file, display in shares[0]]
    for child, share in zip(children, shares[1:], strict=True):
        outcomes += _collect(child, share, cache)
    return outcomes


def _fork(share: list[tuple[str, str]], cache: Cache | None) -> tuple[int, int] | None:
    """A child process that reads and parses ``share`` and writes the outcomes to a pipe, as
    records: (pid, read end). Forking copies the loaded interpreter (and the cache), so the child
    starts at once. Only done while this process has a single thread (a fork copies no other
    thread's locks)."""
    try:
        read_end, write_end = os.pipe()
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:  # the child: work, send, and leave without running the parent's exit handlers
        status = 1
        try:
            os.close(read_end)
            outcomes = [_read_one(file, display, cache) for file, display in share]
            payload = marshal.dumps([(d, s, r and r.record()) for d, s, r in outcomes])
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    return pid, read_end


def _collect(
    child: tuple[int, int] | None, share: list[tuple[str, str]], cache: Cache | None
) -> list[Outcome]:
    """What a child did; if it failed (killed, out of memory), ``share`` done here."""
    payload = b""
    if child is not None:
        pid, read_end = child
        with os.fdopen(read_end, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(pid, 0)
        if status != 0:
            payload = b""
    if payload:
        try:
            return [
                (digest, stat, None if record is None else FileResult.from_record(record))
                for digest, stat, record in marshal.loads(payload)
            ]
        except (ValueError, EOFError, TypeError):
            pass
    return [_read_one(file, display, cache) for file, display in share]


def _workers() -> int:
    setting = os.environ.get("RECONCILER_WORKERS", "")
    if setting.strip().isdigit():
        return max(1, int(setting))
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# -- across files --------------------------------------------------------------------------------


def _across_files(results: list[FileResult]) -> tuple[list[Manifest], list[Diagnostic]]:
    """The checks that need every file: unique names, and copyFrom without cycles."""
    first: dict[str, str] = {}
    manifests: list[Manifest] = []
    diagnostics: list[Diagnostic] = []
    for result in results:
        repeated: set[tuple[int, int]] = set()
        found = list(result.diagnostics)
        file = result.manifests[0].file if result.manifests else None
        file = file or (result.diagnostics[0].file if result.diagnostics else None)
        for name, line, column in result.names:
            if name in first:
                message = f"duplicate campaign name {show(name)}: first defined at {first[name]}"
                found.append(Diagnostic(clip(message), file, line, column, name))
                repeated.add((line, column))
            else:
                first[name] = f"{file}:{line}:{column}"
        for m in result.manifests:
            if not repeated or tuple(m.where("metadata.name")) not in repeated:
                manifests.append(m)
        diagnostics.extend(sorted(found, key=Diagnostic.line_column) if repeated else found)
    sources = {m.name: m.copy_from for m in manifests if m.copy_from is not None}
    for m in manifests:
        if m.copy_from is None:
            continue
        chain = copy_cycle(m.name, sources)
        if chain is not None and chain[0] == chain[-1]:  # a member of the cycle, not a copy of one
            at = m.where("spec.copyFrom")
            diagnostics.append(Diagnostic(cycle_message(chain), m.file, at.line, at.column, m.name))
    return manifests, diagnostics
