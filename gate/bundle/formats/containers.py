"""Array and archive formats told apart by their content: NumPy ``.npy``/``.npz``
and the ``torch.export`` archive (``.pt2``).

* ``.npy`` opens with ``\\x93NUMPY``, a version and a header that is a Python
  dict literal. An array whose dtype holds Python objects (``'O'``, also inside
  a structured dtype) stores a pickle after the header, and loading it runs
  that pickle: such a file is ``pickle``; any other is ``numpy``.
* ``.npz`` (``numpy.savez``, ``savez_compressed``) is a zip of ``.npy`` files:
  ``npz``, or ``pickle`` when one member holds objects.
* A ``torch.export`` archive is a zip whose entries sit under one root folder
  and whose ``<root>/archive_format`` reads ``pt2`` (PyTorch's own test):
  ``torch_export``. When a member is pickled (sample inputs and TorchBind
  objects are ``torch.save`` files: a pickle, or a zip holding one) or
  compiled code (an AOTInductor ``.so``), loading it can run code: ``pytorch``,
  the code-executing class, as for ``torch.save`` files.

Member heads are read with a bound (a compression bomb is never inflated);
an archive with more members than ``MAX_MEMBERS``, or a member that cannot be
read, is given its code-executing class: not inspected means not trusted.
"""

from __future__ import annotations

import ast
import re
import struct
import zipfile
import zlib
from typing import Any

NPY_MAGIC = b"\x93NUMPY"
PT2_FORMAT_FILE = "archive_format"
PT2_FORMAT_VALUE = b"pt2"
MAX_MEMBERS = 10_000
MAX_NPY_HEADER = 65_536  # numpy itself refuses headers over 10,000 bytes by default
MEMBER_HEAD = 16
ELF_MAGIC = b"\x7fELF"
RAW_PREFIXES = ("data/weights/", "data/constants/tensor_")
_OBJECT = re.compile(r"[<>|=]?O\d*")
_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
                NotImplementedError, struct.error, zlib.error, RuntimeError)


def _holds_objects(descr: Any) -> bool:
    """Whether a .npy header's ``descr`` (a type string or structured list) has objects."""
    if isinstance(descr, str):
        return _OBJECT.fullmatch(descr) is not None
    if isinstance(descr, (list, tuple)):
        return any(_holds_objects(part) for part in descr)
    return False


def npy_header(data: bytes) -> dict[str, Any] | None:
    """The header dict of .npy bytes, or None when they are no readable .npy."""
    if not data.startswith(NPY_MAGIC) or len(data) < 10:
        return None
    major = data[6]
    if major == 1:
        length, start = int.from_bytes(data[8:10], "little"), 10
    elif major in (2, 3) and len(data) >= 12:
        length, start = int.from_bytes(data[8:12], "little"), 12
    else:
        return None
    if length > MAX_NPY_HEADER or start + length > len(data):
        return None
    try:
        text = data[start:start + length].decode("latin-1" if major < 3 else "utf-8")
        header = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError,
            UnicodeDecodeError):
        return None
    return header if isinstance(header, dict) and "descr" in header else None


def npy_format(head: bytes) -> str | None:
    """``numpy``, ``pickle`` (objects) or ``unknown`` for .npy content; None if not .npy."""
    if not head.startswith(NPY_MAGIC):
        return None
    header = npy_header(head)
    if header is None:
        return "unknown"
    return "pickle" if _holds_objects(header["descr"]) else "numpy"


def _head(archive: zipfile.ZipFile, name: str, size: int) -> bytes:
    with archive.open(name) as member:
        return member.read(size)


def _pt2_root(archive: zipfile.ZipFile, names: list[str]) -> str | None:
    roots = {n.split("/", 1)[0] for n in names if "/" in n}
    for root in sorted(roots):
        entry = f"{root}/{PT2_FORMAT_FILE}"
        if entry in names and _head(archive, entry, 16).strip() == PT2_FORMAT_VALUE:
            return root
    return None


def is_pickle(head: bytes) -> bool:
    """Whether bytes open as a pickle of protocol 2 to 5 (the PROTO opcode)."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _runs_code(head: bytes) -> bool:
    return is_pickle(head) or head.startswith((b"PK\x03\x04", ELF_MAGIC))


def _raw_blob(root: str, name: str) -> bool:
    """Weights and tensor constants: raw bytes the loader never unpickles."""
    rest = name[len(root) + 1:]
    return rest.startswith(RAW_PREFIXES) and not rest.endswith(".json")


def _pt2_format(archive: zipfile.ZipFile, root: str, names: list[str]) -> str:
    inspected = [n for n in names if not _raw_blob(root, n)]
    if len(inspected) > MAX_MEMBERS:
        return "pytorch"
    try:
        heads = (_head(archive, n, MEMBER_HEAD) for n in inspected)
        return "pytorch" if any(_runs_code(h) for h in heads) else "torch_export"
    except _READ_ERRORS:
        return "pytorch"


def _npz_format(archive: zipfile.ZipFile, names: list[str]) -> str:
    if len(names) > MAX_MEMBERS:
        return "pickle"
    try:
        heads = (_head(archive, n, MAX_NPY_HEADER + 12) for n in names)
        return "pickle" if any(npy_format(h) != "numpy" for h in heads) else "npz"
    except _READ_ERRORS:
        return "pickle"


def archive_format(archive: zipfile.ZipFile) -> str | None:
    """``torch_export``/``pytorch`` for a .pt2, ``npz``/``pickle`` for an .npz, else None."""
    names = [i.filename for i in archive.infolist() if not i.is_dir()]
    try:
        root = _pt2_root(archive, names)
    except _READ_ERRORS:
        return "pytorch"  # it names a pt2 archive_format file that cannot be read
    if root is not None:
        return _pt2_format(archive, root, names)
    if names and all(n.endswith(".npy") for n in names):
        return _npz_format(archive, names)
    return None
