"""Files the gate reads and writes, with no way to hang, replace a device, or leak modes.

Reading (``open_regular``, ``read_regular``): a file is opened only when it
is a regular file, and opened non-blocking, and checked again on the open
descriptor, so a named pipe or device swapped in after the check is refused
too: nothing the gate reads can block it or never end.

Writing (``write_bytes``): a regular file is replaced atomically (a reader
never sees half a report) with the mode it had, or the umask's mode when new;
``/dev/stdout``, ``/dev/fd/N`` and ``/proc/self/fd/N`` are written through the
descriptor the gate inherited (so ``>> ci.log`` appends and ``| cat`` streams);
any other device or named pipe is written in place, never replaced.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import json
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from gate.errors import GateError

# /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N, /proc/<our pid>/fd/N
_FD_PATH = re.compile(
    r"/dev/(?:fd/(?P<fd>[0-9]+)|(?P<std>stdin|stdout|stderr))"
    r"|/proc/(?P<pid>self|thread-self|[0-9]+)/fd/(?P<pfd>[0-9]+)"
)
_STD_FDS = {"stdin": 0, "stdout": 1, "stderr": 2}
_MAX_LINKS = 40


def file_kind(mode: int) -> str:
    """What a non-regular file is, for error messages."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


class NotRegularFile(OSError):
    """The path names a folder, named pipe, device or socket: the gate does not read it."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"it is {kind}, not a regular file" if kind.startswith("a ") else kind)
        self.kind = kind
        self.strerror = str(self)


class FileTooLarge(OSError):
    """The file is larger than the reader accepts."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the file is {size:,} bytes; at most {limit:,} are read")
        self.size, self.limit = size, limit
        self.strerror = str(self)


HASH_CHUNK = 1 << 20


def digest_file(path: Path | str, buf: bytearray | None = None,
                head_bytes: int = HASH_CHUNK) -> tuple[str, int, bytes]:
    """(sha256, size, its first ``head_bytes``) of a regular file, read in 1 MiB blocks
    (constant memory). ``buf`` (HASH_CHUNK bytes) may be reused across files. A named
    pipe or device is refused (open_regular), never waited on."""
    sha = hashlib.sha256()
    buf = buf if buf is not None else bytearray(HASH_CHUNK)
    view = memoryview(buf)
    size, head = 0, b""
    with open_regular(path) as f:
        while n := f.readinto(buf):
            if not size:
                head = bytes(view[: min(n, head_bytes)])
            sha.update(view[:n])
            size += n
    return sha.hexdigest(), size, head


@contextmanager
def open_regular(path: Path | str) -> Iterator[io.FileIO]:
    """Open a regular file for reading; NotRegularFile (an OSError) for anything else.

    The path is stat'ed first so a device or named pipe is never opened at
    all; the open is non-blocking and the descriptor is checked again, so a
    file swapped for a pipe in between is refused too, never waited on.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotRegularFile(file_kind(mode))
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(file_kind(mode))
        fh = os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh


def read_regular(path: Path | str, limit: int | None = None) -> bytes:
    """The bytes of a regular file (see ``open_regular``); FileTooLarge past ``limit``."""
    with open_regular(path) as fh:
        size = os.fstat(fh.fileno()).st_size
        if limit is not None and size > limit:
            raise FileTooLarge(size, limit)
        data = fh.read() if limit is None else fh.read(limit + 1)
    if limit is not None and len(data) > limit:  # it grew while being read
        raise FileTooLarge(len(data), limit)
    return data


def _fd_of(path: str) -> int | None:
    m = _FD_PATH.fullmatch(path)
    if m is None:
        return None
    if m["std"]:
        return _STD_FDS[m["std"]]
    if m["fd"]:
        return int(m["fd"])
    if m["pid"] not in ("self", "thread-self", str(os.getpid())):
        return None
    return int(m["pfd"])


def inherited_fd(path: Path) -> int | None:
    """The open descriptor ``path`` names (``/dev/stdout``, ``/dev/fd/3``, a symlink to one).

    Resolving such a path would lose what it means: ``/proc/self/fd/1`` of
    ``>> ci.log`` resolves to ci.log (which must be appended to, not replaced),
    and of a pipe to ``pipe:[…]``, which is no path at all.
    """
    current = os.path.abspath(path)
    for _ in range(_MAX_LINKS):
        parent = os.path.realpath(os.path.dirname(current))
        for candidate in (current, os.path.join(parent, os.path.basename(current))):
            fd = _fd_of(candidate)
            if fd is not None:
                return fd
        try:
            target = os.readlink(current)
        except OSError:
            return None  # not a symlink, or no such file
        current = os.path.normpath(os.path.join(parent, target))
    return None


def _write_fd(fd: int, data: bytes) -> None:
    if fd in (1, 2):  # whatever Python buffered for the stream goes first
        for stream in (sys.stdout, sys.stderr):
            with suppress(OSError, ValueError, AttributeError):
                stream.flush()
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no /proc: read it the only other way, and put it back
    os.umask(mask)
    return mask


def _replace_atomically(path: Path, data: bytes, mode: int | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # mkstemp creates 0600: give the file the target's mode, or the umask's.
        os.fchmod(fd, mode if mode is not None else 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_in_place(path: Path, data: bytes) -> None:
    # O_NONBLOCK: a named pipe with no reader is an error (ENXIO), not a hang.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)  # then let the reader keep up
        _write_fd(fd, data)
    finally:
        os.close(fd)


def write_bytes(path: Path, data: bytes) -> str:
    """Write ``data`` to ``path``; returns its sha256.

    * ``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N``, ``/proc/self/fd/N`` (or a
      symlink to one): written through that inherited descriptor, so a shell's
      ``>> log`` appends, ``> log`` continues at its offset, and a pipe streams;
    * another device or named pipe: written in place (``/dev/null`` stays a
      device; a named pipe nobody reads is an error, not a hang);
    * a regular file, or a new one: replaced atomically (temp file + rename)
      keeping the old file's permission bits, or with the umask's for a new one.
      A symlink is followed: the file it names is replaced, the link kept.
    """
    digest = hashlib.sha256(data).hexdigest()
    try:
        fd = inherited_fd(path)
        if fd is not None:
            try:
                os.fstat(fd)
            except OSError as e:
                raise GateError(f"{path} names file descriptor {fd}, which is not open",
                                path=path, hint="write the report to a file instead") from e
            _write_fd(fd, data)
            return digest
        mode: int | None = None
        if path.is_symlink() or path.exists():
            path = path.resolve()
            info = path.stat()
            if not stat.S_ISREG(info.st_mode) and not stat.S_ISDIR(info.st_mode):
                _write_in_place(path, data)
                return digest
            mode = stat.S_IMODE(info.st_mode)
        _replace_atomically(path, data, mode)
    except OSError as e:
        why = e.strerror or str(e)
        if e.errno == errno.ENXIO:
            why = "no process is reading the named pipe"
        raise GateError(f"cannot write the output file: {why}", path=path,
                        hint=f"check that the folder {path.parent} exists and is writable "
                        "(a relative path is relative to the working directory)") from e
    return digest


def write_text(path: Path, text: str) -> str:
    """Write UTF-8 text atomically; returns its sha256."""
    return write_bytes(path, text.encode("utf-8"))


def dump_json(doc: Any) -> str:
    """The one JSON layout of every file the gate writes."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write_json(path: Path, doc: Any) -> str:
    """Write a JSON document atomically; returns the sha256 of the bytes written."""
    return write_text(path, dump_json(doc))


@contextmanager
def exclusive_lock(
    path: Path,
    shown: str,
    *,
    on_wait: Callable[[], None] | None = None,
    error: type[GateError] = GateError,
) -> Iterator[int]:
    """Hold an exclusive flock on ``path`` (created if missing), waiting for it; yields the fd.

    ``on_wait`` is called once if another process holds the lock, before waiting.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise error(f"cannot open the lock file: {e.strerror}", path=shown,
                    hint="the folder must be writable") from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)
