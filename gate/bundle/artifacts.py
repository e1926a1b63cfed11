"""Model artifacts -> ``input.model.artifacts``: streaming sha256 and format by content.

Each file is read once, in 1 MiB chunks into one reused buffer, so hashing a
multi-gigabyte model costs constant memory; the first chunk also feeds format
detection. Formats are told by magic bytes first and by extension only where
the content carries no magic (ONNX is bare protobuf), so a pickle renamed to
``model.onnx`` is still reported as ``pickle``: policies that ban unsafe
deserialisation must not be fooled by a file name.
"""

from __future__ import annotations

import bz2
import lzma
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from gate.bundle.formats.containers import archive_format, is_pickle, npy_format
from gate.documents import InputFiles
from gate.errors import BundleError
from gate.fsutil import digest_file, open_regular

CHUNK = 1 << 20
# The first chunk is kept for detection: a bz2 stream yields nothing before its first
# block (up to ~900 KB) is complete.
HEAD = CHUNK
ROLE = "model artifact"
MAX_DEPTH = 64  # folders below an artifact folder

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
HDF5_OFFSETS = (0, 512, 1024, 2048)  # HDF5 allows a user block before the signature
# torch.save's legacy format opens with a pickled magic number (protocol 2, LONG1).
TORCH_LEGACY = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
JOBLIB_MARKER = b"joblib.numpy_pickle"  # the class joblib pickles in place of each array
LZ4_MAGIC = b"\x04\x22\x4d\x18"  # joblib's lz4 files; no decoder in the stdlib
SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024  # the limit the safetensors format sets
# ModelProto field number -> protobuf wire type (0 varint, 2 length-delimited).
ONNX_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}
JOBLIB_SUFFIXES = (".joblib", ".pkl")
EXTENSIONS = {".pkl": "pickle", ".pickle": "pickle", ".joblib": "joblib", ".tflite": "tflite"}
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
              NotImplementedError, struct.error)


def sha256_file(path: Path) -> tuple[str, int]:
    """(hex sha256, size in bytes) of a file, read in constant memory."""
    digest, size, _ = _digest(path)
    return digest, size


def _digest(path: Path, buf: bytearray | None = None) -> tuple[str, int, bytes]:
    """(sha256, size, first chunk) of a regular file (gate.fsutil.digest_file)."""
    return digest_file(path, buf, HEAD)


def _decompressors(head: bytes) -> Callable[[], Any] | None:
    if head.startswith(b"\x1f\x8b"):
        return lambda: zlib.decompressobj(zlib.MAX_WBITS | 16)
    if len(head) >= 2 and head[0] == 0x78 and (head[0] << 8 | head[1]) % 31 == 0:
        return zlib.decompressobj
    if head.startswith((b"\xfd7zXZ\x00", b"]\x00\x00")):
        return lzma.LZMADecompressor
    if head.startswith(b"BZh"):
        return bz2.BZ2Decompressor
    return None


def _is_compressed_pickle(head: bytes) -> bool:
    """Whether the head is zlib/gzip/xz/lzma/bz2 data that inflates to a pickle (joblib)."""
    make = _decompressors(head)
    if make is None:
        return False
    try:
        # max_length bounds the output: a compression bomb is never inflated.
        return is_pickle(make().decompress(head, 16))
    except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError):
        return False


def _zip_format(path: Path, suffix: str) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            inside = archive_format(archive)  # torch.export (.pt2), NumPy (.npz)
    except ZIP_ERRORS:
        return "unknown"
    if inside is not None:
        return inside
    if any(n.count("/") == 1 and n.endswith("/data.pkl") for n in names):
        return "pytorch"
    if suffix == ".keras" or ("config.json" in names and "model.weights.h5" in names):
        return "keras"
    return "zip"


def _varint(data: bytes, pos: int) -> tuple[int, int] | None:
    value = 0
    for shift in range(0, 70, 7):
        if pos >= len(data):
            return None
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
    return None


def _looks_like_onnx(head: bytes, size: int) -> bool:
    """A sanity check for bare protobuf: the first field must be one a ModelProto has."""
    tag = _varint(head, 0)
    if tag is None or ONNX_FIELDS.get(tag[0] >> 3) != tag[0] & 7:
        return False
    value = _varint(head, tag[1])
    if value is None:
        return False
    if tag[0] >> 3 == 1:  # ir_version: a small positive number
        return 1 <= value[0] <= 64
    return tag[0] & 7 == 0 or value[1] + value[0] <= size


def detect_format(path: Path, head: bytes, size: int, name: str | None = None) -> str:
    """The artifact's format from its first bytes, falling back to the extension of ``name``.

    ``name`` defaults to ``path``; pass the name the bundle shows when ``path`` is a
    symlink's target, since the shown name is the one deploy tooling goes by.
    """
    suffix = Path(name or path.name).suffix.lower()
    if not head:
        return "unknown"
    if head.startswith(b"GGUF"):
        return "gguf"
    if (array := npy_format(head)) is not None:  # .npy: numpy, or pickle if it holds objects
        return array
    if any(head[o : o + 8] == HDF5_MAGIC for o in HDF5_OFFSETS):
        return "keras_h5"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_format(path, suffix)
    if len(head) >= 9 and head[8:9] == b"{":
        # Checked before pickle: a header length like 0x0380 starts with 80 03.
        length = int.from_bytes(head[:8], "little")
        if 0 < length <= min(size - 8, SAFETENSORS_MAX_HEADER):
            return "safetensors"
    if head.startswith(TORCH_LEGACY):
        return "pytorch"
    if is_pickle(head):
        return "joblib" if suffix == ".joblib" or JOBLIB_MARKER in head else "pickle"
    if _is_compressed_pickle(head) or (head.startswith(LZ4_MAGIC) and suffix in JOBLIB_SUFFIXES):
        return "joblib"
    if head[4:8] == b"TFL3":
        return "tflite"
    if suffix == ".onnx":
        return "onnx" if _looks_like_onnx(head, size) else "unknown"
    return EXTENSIONS.get(suffix, "unknown")


def _regular(files: InputFiles, shown: str) -> Path:
    real = files.resolve(shown, ROLE)
    try:
        mode = real.stat().st_mode
    except OSError as e:
        raise BundleError(f"{ROLE}: cannot read the file: {e.strerror}", path=shown) from e
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise BundleError(f"{ROLE}: not a regular file or folder", path=shown,
                          hint="artifacts must be files or folders of files")
    return real


# Digests known from an earlier read of the same files (gate rollout keeps them in its
# state between polls): path -> {dev, ino, size, mtime_ns, sha256}. A file whose device,
# inode, size and modification time all match is not hashed again.
KNOWN_DIGESTS: ContextVar[dict[str, dict[str, Any]] | None] = ContextVar(
    "gate_known_digests", default=None)


@contextmanager
def known_digests(cache: dict[str, dict[str, Any]]) -> Iterator[dict[str, dict[str, Any]]]:
    """Within this block, reuse the digests in ``cache`` and add the ones computed."""
    token = KNOWN_DIGESTS.set(cache)
    try:
        yield cache
    finally:
        KNOWN_DIGESTS.reset(token)


def _identity(real: Path) -> dict[str, int]:
    st = real.stat()
    return {"dev": st.st_dev, "ino": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _artifact(files: InputFiles, shown: str, real: Path, buf: bytearray) -> dict[str, Any]:
    cache = KNOWN_DIGESTS.get()
    try:
        if cache is not None:
            ident = _identity(real)
            known = cache.get(shown)
            if known is not None and all(known.get(k) == v for k, v in ident.items()):
                with open_regular(real) as f:  # the head names the format; no full read
                    head = f.read(HEAD)
                sha, size = str(known["sha256"]), ident["size"]
            else:
                sha, size, head = _digest(real, buf)
                cache[shown] = {**ident, "sha256": sha}
        else:
            sha, size, head = _digest(real, buf)
    except OSError as e:
        raise BundleError(f"{ROLE}: cannot read the file: {e.strerror or e}", path=shown) from e
    files.record(shown, ROLE, sha, size)
    return {"path": shown, "sha256": sha, "size_bytes": size,
            "format": detect_format(real, head, size, shown)}


def load_artifacts(files: InputFiles, rels: list[str]) -> list[dict[str, Any]]:
    """Hash and classify each artifact file; folders contribute every file, sorted."""
    out: list[dict[str, Any]] = []
    done: set[str] = set()
    buf = bytearray(CHUNK)
    for rel in rels:
        shown = Path(os.path.normpath(rel)).as_posix() if isinstance(rel, str) and rel else rel
        real = _regular(files, shown)
        paths = (files.files_under(shown, real, ROLE, MAX_DEPTH) if real.is_dir()
                 else [(shown, real)])
        if not paths:
            raise BundleError(f"{ROLE}: the folder holds no files", path=shown,
                              hint="name the folder that holds the model files, or remove it")
        for path, target in paths:
            if path not in done:
                done.add(path)
                out.append(_artifact(files, path, target, buf))
    return out
