"""Writing the gate's outputs: atomically, so a reader never sees half a report."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gate.errors import GateError


def write_bytes(path: Path, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically (temp file + rename); returns its sha256.

    A symlink is followed (the file it names is replaced, the link kept), and a
    target that is not a regular file (``/dev/null``, a pipe, a FIFO) is written
    in place: renaming over it would replace the device itself.
    """
    try:
        if path.is_symlink() or path.exists():
            path = path.resolve()
            if not path.is_file() and not path.is_dir():
                with path.open("wb") as fh:
                    fh.write(data)
                return hashlib.sha256(data).hexdigest()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise GateError(f"cannot write the output file: {e.strerror}", path=path,
                        hint="check that the output folder is writable (--output-dir)") from e
    return hashlib.sha256(data).hexdigest()


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
