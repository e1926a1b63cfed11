"""Output files are written atomically, and devices are written, not replaced."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gate.fsutil import write_json, write_text


def test_atomic_write_replaces_regular_files(tmp_path: Path) -> None:
    target = tmp_path / "out" / "decision.json"
    write_json(target, {"a": 1})
    write_json(target, {"a": 2})
    assert target.read_text() == '{\n  "a": 2\n}\n'
    assert [p.name for p in target.parent.iterdir()] == ["decision.json"]


def test_a_fifo_is_written_in_place_not_replaced(tmp_path: Path) -> None:
    # The same path as --format json=/dev/null or =/dev/stdout: renaming a temp
    # file over it would replace the device (as root, /dev/null itself).
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_text(fifo, "hello\n")
        assert os.read(reader, 100) == b"hello\n"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_dev_null_stays_a_device() -> None:
    write_text(Path(os.devnull), "discarded\n")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_a_symlink_is_followed_and_kept(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_every_way_of_writing_returns_the_digest_of_the_bytes(tmp_path: Path) -> None:
    import hashlib

    import pytest

    from gate.errors import GateError
    from gate.fsutil import write_bytes

    data = b'{"a": 1}\n'
    digest = hashlib.sha256(data).hexdigest()
    read_end, write_end = os.pipe()
    try:
        assert write_bytes(tmp_path / "new.json", data) == digest  # replaced atomically
        assert write_bytes(Path(os.devnull), data) == digest  # a device, in place
        assert write_bytes(Path(f"/dev/fd/{write_end}"), data) == digest  # an inherited fd
        assert os.read(read_end, 100) == data
    finally:
        os.close(read_end)
        os.close(write_end)
    closed = next(fd for fd in range(900, 1000) if not _is_open(fd))
    with pytest.raises(GateError, match="which is not open"):
        write_bytes(Path(f"/dev/fd/{closed}"), data)
    with pytest.raises(GateError, match="cannot write the output file"):
        write_bytes(tmp_path / "new.json" / "below-a-file.json", data)


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True
