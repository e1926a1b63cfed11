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
