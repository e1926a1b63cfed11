"""Safe document parsing: bounded YAML, strict JSON, front matter, confined paths."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gate.documents import InputFiles, parse_document, parse_json, parse_yaml, split_front_matter
from gate.errors import BundleError, DocumentError

BOMB = """
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_yaml_alias_bomb_is_refused_without_expanding_it() -> None:
    start = time.process_time()
    with pytest.raises(DocumentError, match="expands to more than"):
        parse_yaml(BOMB, Path("bomb.yaml"))
    # Not a timing assertion on speed, but a guard that nothing was expanded:
    # expanding 9**9 values would take minutes.
    assert time.process_time() - start < 5


def test_small_aliases_are_fine() -> None:
    doc = parse_yaml("base: &b {x: 1}\nother: *b\n")
    assert doc == {"base": {"x": 1}, "other": {"x": 1}}


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(DocumentError, match="contains itself"):
        parse_yaml("a: &a [*a]\n")


def test_yaml_dates_stay_strings_and_keys_become_strings() -> None:
    doc = parse_yaml("when: 2026-11-25\n1: one\nflag: yes\n")
    assert doc == {"when": "2026-11-25", "1": "one", "flag": "yes"}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("a: [1, 2\n", "not valid YAML"),
        ("x: !!binary aGVsbG8=\n", "binary data is not supported"),
        ("x: .nan\n", "not a finite number"),
        ("x: !!python/object:os.system {}\n", "not valid YAML"),
    ],
)
def test_bad_yaml_is_a_document_error(text: str, match: str) -> None:
    with pytest.raises(DocumentError, match=match):
        parse_yaml(text, Path("doc.yaml"))


def test_yaml_error_names_line() -> None:
    with pytest.raises(DocumentError) as info:
        parse_yaml("a: 1\nb: [\n", Path("x.yaml"))
    assert info.value.line is not None and info.value.line >= 2


def test_json_is_strict() -> None:
    with pytest.raises(DocumentError, match="NaN is not valid JSON"):
        parse_json('{"x": NaN}')
    with pytest.raises(DocumentError) as info:
        parse_json('{"x": 1,\n "y": }', Path("r.json"))
    assert info.value.line == 2
    with pytest.raises(DocumentError, match="nests deeper"):
        parse_json("[" * 100_000 + "]" * 100_000)


def test_front_matter() -> None:
    assert split_front_matter("---\na: 1\n---\n# body\n") == ("a: 1\n", "# body\n")
    assert split_front_matter("# no front matter\n") == ("", "# no front matter\n")
    with pytest.raises(DocumentError, match="never closed"):
        split_front_matter("---\na: 1\n")
    assert parse_document("---\nlicense: mit\n---\ntext", Path("card.md")) == {"license": "mit"}


def test_confinement(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "reports").mkdir(parents=True)
    (bundle / "reports" / "eval.json").write_text("{}")
    (tmp_path / "secret.json").write_text("{}")
    os.symlink(tmp_path / "secret.json", bundle / "link.json")
    os.symlink(bundle / "reports" / "eval.json", bundle / "inside.json")
    files = InputFiles(bundle)
    assert files.load("reports/eval.json", "report") == {}
    assert files.load("reports/../reports/eval.json", "report") == {}
    assert files.load("inside.json", "report") == {}
    with pytest.raises(BundleError, match="leaves the bundle folder"):
        files.resolve("../secret.json", "report")
    with pytest.raises(BundleError, match="symlink that resolves outside"):
        files.resolve("link.json", "report")
    with pytest.raises(BundleError, match="absolute path"):
        files.resolve(str(tmp_path / "secret.json"), "report")
    with pytest.raises(BundleError, match="file not found"):
        files.resolve("missing.json", "report")
    assert set(files.records) == {"reports/eval.json"}
    record = files.records["reports/eval.json"]
    assert record.sha256 == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


def test_non_utf8_document(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_bytes(b'{"x": "\xff"}')
    with pytest.raises(DocumentError, match="not UTF-8"):
        InputFiles(tmp_path).load("r.json", "report")


def test_yaml_12_booleans() -> None:
    # YAML 1.1 would read these keys and values as booleans (`on:` -> `true:`).
    doc = parse_yaml("on: yes\noff: no\nt: true\nf: False\nn: null\n")
    assert doc == {"on": "yes", "off": "no", "t": True, "f": False, "n": None}


def test_nul_byte_and_fifo_are_refused(tmp_path: Path) -> None:
    files = InputFiles(tmp_path)
    with pytest.raises(BundleError, match="cannot resolve"):
        files.resolve("a\x00b", "model card")
    os.mkfifo(tmp_path / "pipe.yaml")
    with pytest.raises(BundleError, match="not a regular file"):
        files.load("pipe.yaml", "model card")


# --- read_document: the one read -> hash -> decode -> parse of a file outside a bundle -----


def test_read_document_words_each_step_as_its_caller_asks(tmp_path: Path) -> None:
    import hashlib

    from gate.documents import load_file, read_document
    from gate.errors import RollbackError

    def read(path: Path) -> object:
        return read_document(path, "shown.json", error=RollbackError, missing="plan not found",
                             missing_hint="pass one", unreadable="cannot read the plan",
                             not_utf8="bad byte {start}")

    with pytest.raises(RollbackError) as missing:
        read(tmp_path / "none.json")
    assert (missing.value.message, missing.value.hint, missing.value.path) == (
        "plan not found", "pass one", "shown.json")
    with pytest.raises(RollbackError, match=r"^cannot read the plan: it is a folder"):
        read(tmp_path)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"a": "\xe9"}')
    with pytest.raises(DocumentError, match=r"^bad byte 7$"):
        read(latin)
    with pytest.raises(DocumentError, match=r"^not UTF-8 text \(byte 7 is invalid\)$"):
        load_file(latin)
    with pytest.raises(FileNotFoundError):  # no file is a fresh start for this caller
        read_document(tmp_path / "none.json", "shown.json", missing=None)

    yaml_file = tmp_path / "doc.yaml"
    yaml_file.write_bytes(b"\xef\xbb\xbfa: 1\n")
    doc, sha = read_document(yaml_file, "doc.yaml")
    assert doc == {"a": 1} and sha == hashlib.sha256(yaml_file.read_bytes()).hexdigest()
    with pytest.raises(DocumentError, match="not valid JSON") as as_json:
        read_document(yaml_file, "shown.yaml", json_only=True)
    assert as_json.value.path == "shown.yaml"
    with pytest.raises(DocumentError, match="not valid JSON"):  # no BOM allowed in utf-8
        read_document(yaml_file, "shown.yaml", encoding="utf-8", json_only=True)


def test_read_document_shows_the_digest_before_it_decodes(tmp_path: Path) -> None:
    from gate.documents import read_document
    from gate.errors import RollbackError

    seen: list[str] = []

    def refuse(sha: str) -> None:
        seen.append(sha)
        raise RollbackError("not the promised plan")

    latin = tmp_path / "plan.json"
    latin.write_bytes(b"\xff")
    with pytest.raises(RollbackError, match="not the promised plan"):
        read_document(latin, "plan.json", on_digest=refuse)
    assert len(seen) == 1
