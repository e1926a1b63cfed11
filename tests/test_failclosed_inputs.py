"""Issue 17, part A: every input gate reads fails closed.

Each test here names a class of input that used to be read wrongly and asserts
the behaviour now: exit 2, the file (and line) named, and no verdict. The
bundle of `make_bundle` blocks (exit 1) only when its data document is read:
its floor of 0.99 is above the reported accuracy of 0.9. A run that skips the
data silently would pass (exit 0), which is exactly what must never happen.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gate.cli import cli
from gate.documents import parse_json, parse_yaml
from gate.errors import DocumentError

GATE = str(Path(sys.executable).with_name("gate"))
ENV = {"NO_COLOR": "1", "GITHUB_ACTIONS": "", "GITLAB_CI": "", "CI": ""}
TIMEOUT = 60

POLICY = """package release

import rego.v1

# METADATA
# title: Accuracy floor
# custom:
#   id: EVAL-001
#   severity: critical
deny_accuracy contains result if {
	input.evaluation.metrics.accuracy < data.floors.accuracy
	floor := data.floors.accuracy
	result := {"msg": sprintf("accuracy below %v", [floor]), "_loc": loc}
}

default loc := null

loc := data.loc
"""

MANIFEST = """version: 1
model:
  name: tiny
  version: 1.1.0
  artifacts: [model.bin]
evaluation:
  report: eval.json
policies: [policies/]
data: [policies/data/]
rollback:
  target: {version: 1.0.0}
"""


def make_bundle(root: Path, *, data: str = "floors:\n  accuracy: 0.99\n") -> Path:
    (root / "policies" / "data").mkdir(parents=True)
    (root / "policies" / "release.rego").write_text(POLICY, "utf-8")
    (root / "policies" / "data" / "floors.yaml").write_text(data, "utf-8")
    (root / "model.bin").write_bytes(b"weights")
    (root / "eval.json").write_text('{"metrics": {"accuracy": 0.9}}\n', "utf-8")
    (root / "gate.yaml").write_text(MANIFEST, "utf-8")
    return root


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return make_bundle(tmp_path / "bundle")


def check(root: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["check", "--config", str(root / "gate.yaml"),
              "--output-dir", str(root.parent / "out"), *args], env=ENV)


def run_gate(args: list[str], cwd: Path, timeout: float = TIMEOUT,
             **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **ENV}
    proc: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
        [GATE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env,
        check=False, **kwargs)
    return proc


def refused(result: Result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    for needle in needles:
        assert needle in result.output, result.output


def test_the_bundle_blocks_when_its_data_is_read(bundle: Path) -> None:
    result = check(bundle)
    assert result.exit_code == 1, result.output


# --- 1. the walk of policy and data folders ---------------------------------------------


@pytest.mark.parametrize(("make", "needles"), [
    (lambda d: os.mkfifo(d / "more.yaml"), ["policies/data/more.yaml", "named pipe"]),
    (lambda d: (d / "more.yaml").symlink_to("missing.yaml"),
     ["policies/data/more.yaml", "does not exist"]),
    (lambda d: (d / "loop.yaml").symlink_to("loop.yaml"), ["policies/data/loop.yaml"]),
    (lambda d: (d / "a.json").symlink_to("b.json") or (d / "b.json").symlink_to("a.json"),
     ["policies/data/a.json"]),
    (lambda d: (d / "extra.yaml").write_bytes(b""), ["policies/data/extra.yaml", "empty"]),
    (lambda d: (d / "extra.yml").write_text("# all commented out\n"),
     ["policies/data/extra.yml", "empty"]),
    (lambda d: (d / "floors.yaml").write_bytes(b""), ["policies/data/floors.yaml", "empty"]),
    (lambda d: (d / "null.yaml").write_text("null\n"), ["policies/data/null.yaml", "empty"]),
])
def test_a_data_folder_entry_that_cannot_be_read_is_an_error(bundle: Path, make: object,
                                                              needles: list[str]) -> None:
    make(bundle / "policies" / "data")  # type: ignore[operator]
    refused(check(bundle), *needles)


def test_a_policy_named_fifo_or_dangling_link_is_an_error(bundle: Path) -> None:
    os.mkfifo(bundle / "policies" / "extra.rego")
    refused(check(bundle), "policies/extra.rego", "named pipe")
    (bundle / "policies" / "extra.rego").unlink()
    (bundle / "policies" / "extra.rego").symlink_to("gone.rego")
    refused(check(bundle), "policies/extra.rego", "does not exist")


def test_symlinks_out_of_the_bundle_are_refused(bundle: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "floors.yaml").write_text("floors:\n  accuracy: 0.5\n")
    (outside / "allow.rego").write_text("package other\n")
    data = bundle / "policies" / "data"
    (data / "floors.yaml").unlink()
    (data / "floors.yaml").symlink_to(outside / "floors.yaml")
    refused(check(bundle), "policies/data/floors.yaml", "outside the bundle")
    (data / "floors.yaml").unlink()
    (data / "floors.yaml").write_text("floors:\n  accuracy: 0.99\n")
    (data / "sub").symlink_to(outside)  # a folder link
    refused(check(bundle), "policies/data/sub", "outside the bundle")
    (data / "sub").unlink()
    (bundle / "policies" / "allow.rego").symlink_to(outside / "allow.rego")
    refused(check(bundle), "policies/allow.rego", "outside the bundle")


def test_links_inside_the_bundle_and_links_to_unread_files_still_work(bundle: Path,
                                                                      tmp_path: Path) -> None:
    data = bundle / "policies" / "data"
    shared = bundle / "shared"
    shared.mkdir()
    (data / "floors.yaml").rename(shared / "floors.yaml")
    (data / "floors.yaml").symlink_to(Path("../../shared/floors.yaml"))
    (data / "README").symlink_to(tmp_path)  # never read: not a data document, not a folder?
    (data / "README").unlink()
    (data / "NOTES.txt").symlink_to("/etc/hostname")  # not a data document: never read
    result = check(bundle)
    assert result.exit_code == 1, result.output


def test_an_unlistable_data_folder_is_an_error(bundle: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # As root, chmod 000 does not stop a read; EACCES is what a CI user gets.
    real = os.scandir
    target = (bundle / "policies" / "data").resolve()

    def scandir(path: str = ".") -> object:
        if Path(str(path)).resolve() == target:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    refused(check(bundle), "policies/data", "cannot list the folder", "Permission denied")


def test_an_unreadable_data_document_is_an_error(bundle: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.open
    target = str((bundle / "policies" / "data" / "floors.yaml").resolve())

    def fake_open(path: object, flags: int, *args: object) -> int:
        if str(path) == target:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", fake_open)
    refused(check(bundle), "policies/data/floors.yaml", "Permission denied")


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder an unprivileged user can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="gate-unpriv-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for sub in path.rglob("*"):
            if sub.is_dir() and not sub.is_symlink():
                sub.chmod(0o755)
        shutil.rmtree(path, ignore_errors=True)


def _as_unprivileged(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to run gate as an unprivileged user"
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]


@pytest.mark.parametrize("unreadable", ["policies/data", "policies/sub"])
@pytest.mark.slow  # runs gate as a process
def test_chmod_000_folders_are_errors_for_a_real_unprivileged_user(shared_tmp: Path,
                                                                   unreadable: str) -> None:
    root = make_bundle(shared_tmp / "bundle")
    (root / "policies" / "sub").mkdir()
    (root / "policies" / "sub" / "more.rego").write_text("package more\n")
    if os.geteuid() == 0:
        for path in [shared_tmp, *shared_tmp.rglob("*")]:
            os.chown(path, 65534, 65534, follow_symlinks=False)
    (root / unreadable).chmod(0)
    proc = subprocess.run(
        _as_unprivileged([GATE, "check", "--output-dir", str(shared_tmp / "out")]), cwd=root,
        capture_output=True, text=True, timeout=TIMEOUT, env={**os.environ, **ENV}, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert unreadable in proc.stderr and "Permission denied" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow  # runs gate as a process
def test_cli_paths_outside_the_bundle_keep_working_but_refuse_special_files(
        bundle: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra-data"
    extra.mkdir()
    (extra / "more.yaml").write_text("more: {x: 1}\n")
    assert check(bundle, "--data", str(extra)).exit_code == 1
    os.mkfifo(extra / "pipe.yaml")
    refused(check(bundle, "--data", str(extra)), "pipe.yaml", "named pipe")
    (extra / "pipe.yaml").unlink()
    (extra / "escape.yaml").symlink_to(bundle / "eval.json")
    refused(check(bundle, "--data", str(extra)), "escape.yaml", "outside the folder")
    (extra / "escape.yaml").unlink()
    fifo = tmp_path / "policy.rego"
    os.mkfifo(fifo)
    result = run_gate(["check", "--policy", str(fifo), "--output-dir", str(tmp_path / "o")],
                      cwd=bundle, timeout=30)
    assert result.returncode == 2 and "named pipe" in result.stderr, result.stderr


def test_deeply_nested_policy_folders_are_refused_quickly(bundle: Path) -> None:
    deep = bundle / "policies" / "data"
    for _ in range(40):
        deep = deep / "d"
    deep.mkdir(parents=True)
    refused(check(bundle), "nest deeper")


# --- 2. duplicate keys ---------------------------------------------------------------------


def test_a_second_key_in_gate_yaml_is_refused_with_its_line(bundle: Path) -> None:
    manifest = bundle / "gate.yaml"
    manifest.write_text(manifest.read_text() + "policies: []\n")
    refused(check(bundle), "gate.yaml:12:1", "duplicate key 'policies'", "first on line 8")


@pytest.mark.parametrize(("name", "text", "where"), [
    ("eval.json", '{"metrics": {"accuracy": 0.9,\n  "accuracy": 1.0}}', "eval.json:2:3"),
    ("eval.json", '{"metrics": {"accuracy": 0.9, "\\u0061ccuracy": 1.0}}', "eval.json:1:"),
    ("policies/data/floors.yaml", "floors:\n  accuracy: 0.99\n  accuracy: 0.5\n",
     "policies/data/floors.yaml:3:"),
    ("policies/data/floors.yaml", "floors: {accuracy: 0.99}\nfloors: {accuracy: 0.5}\n",
     "policies/data/floors.yaml:2:"),
    ("policies/data/floors.yaml", "floors:\n  1: a\n  '1': b\n", "policies/data/floors.yaml:3:"),
])
def test_duplicate_keys_are_refused_in_every_document(bundle: Path, name: str, text: str,
                                                      where: str) -> None:
    (bundle / name).write_text(text)
    refused(check(bundle), where, "duplicate key")


def test_a_plan_with_two_steps_keys_is_refused(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    steps = ('[{"name": "a", "kind": "run", "run": ["true"], "timeout_s": 5, "retries": 0, '
             '"backoff_s": 1}]')
    plan.write_text('{"kind": "gate.rollback-plan", "version": 1,\n'
                    f' "steps": [],\n "steps": {steps}\n}}\n')
    result = CliRunner().invoke(cli, ["rollback", str(plan)], env=ENV)
    assert result.exit_code == 2, result.output
    assert "plan.json:3" in result.output and "duplicate key 'steps'" in result.output


def test_merge_keys_may_be_overridden_but_not_repeated() -> None:
    doc = parse_yaml("base: &b {x: 1, y: 2}\nuse: {<<: *b, y: 3}\n")
    assert doc["use"] == {"x": 1, "y": 3}
    with pytest.raises(DocumentError, match="duplicate key 'y'") as e:
        parse_yaml("base: &b {x: 1}\nuse:\n  <<: *b\n  y: 3\n  y: 4\n")
    assert e.value.line == 5


def test_json_duplicate_positions_survive_escapes_and_nesting() -> None:
    text = '[{"a": {"b": "x\\"y", "c": [1, {"b": 2}]}},\n {"k": 1, "k": 2}]'
    with pytest.raises(DocumentError) as e:
        parse_json(text, Path("d.json"))
    assert (e.value.line, e.value.col) == (2, 11)
    assert "duplicate key 'k'" in e.value.message


# --- 3. YAML 1.1 numbers -------------------------------------------------------------------


@pytest.mark.parametrize(("value", "needle"), [
    ("012", "leading zero"),
    ("-07", "leading zero"),
    ("1:30", "YAML 1.1"),
    ("1_000", "YAML 1.1"),
    ("0b11", "YAML 1.1"),
    ("!!int 012", "leading zero"),
    (".inf", "not a finite number"),
    ("1e999", "not a finite number"),
    ("9" * 400, "larger than any engine"),
])
def test_yaml_1_1_numbers_in_a_floor_are_refused_at_their_line(bundle: Path, value: str,
                                                               needle: str) -> None:
    (bundle / "policies" / "data" / "floors.yaml").write_text(f"floors:\n  accuracy: {value}\n")
    refused(check(bundle), "policies/data/floors.yaml:2:", needle)


@pytest.mark.parametrize(("text", "value"), [
    ("12", 12), ("0o12", 10), ("0x1F", 31), ("1e-3", 0.001), ("1.5E3", 1500.0), (".5", 0.5),
    ("+3", 3), ("0", 0), ("on", "on"), ("yes", "yes"), ("2.4.0", "2.4.0"),
    ("2027-03-31", "2027-03-31"), ("'012'", "012"), ('"1:30"', "1:30"),
])
def test_yaml_is_read_as_yaml_1_2(text: str, value: object) -> None:
    assert parse_yaml(f"v: {text}\n") == {"v": value}


# --- 5. a finding's _loc --------------------------------------------------------------------


def _sarif_location(root: Path, loc: object, tmp: Path) -> dict[str, object]:
    (root / "policies" / "data" / "loc.json").write_text(json.dumps({"loc": loc}))
    out = tmp / "sarif-out"
    result = run_gate(["check", "--format", f"sarif={out}/gate.sarif", "--output-dir", str(out)],
                      cwd=root, timeout=30)
    assert result.returncode == 1, result.stderr
    sarif = json.loads((out / "gate.sarif").read_text())
    (finding,) = sarif["runs"][0]["results"]
    location: dict[str, object] = finding["locations"][0]["physicalLocation"]
    return location


@pytest.mark.slow  # runs gate as a process
def test_a_fifo_named_by_loc_does_not_hang_the_sarif_report(bundle: Path, tmp_path: Path) -> None:
    os.mkfifo(bundle / "fifo.json")
    location = _sarif_location(bundle, {"file": "fifo.json", "path": "$.a"}, tmp_path)
    assert location["artifactLocation"]["uri"].endswith("fifo.json")  # type: ignore[index]
    assert location.get("region", {}).get("startLine", 1) == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "symlink"])
@pytest.mark.slow  # runs gate as a process
def test_an_escaping_loc_is_never_read(bundle: Path, tmp_path: Path, kind: str) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text("a: 1\n" * 5 + "password_hint: 7\n")
    file = {"absolute": str(secret), "dotdot": "../secret.yaml", "symlink": "link.yaml"}[kind]
    if kind == "symlink":
        (bundle / "link.yaml").symlink_to(secret)
    location = _sarif_location(bundle, {"file": file, "path": "$.password_hint"}, tmp_path)
    uri = location["artifactLocation"]["uri"]  # type: ignore[index]
    assert "secret" not in uri and "link.yaml" not in uri, location
    assert location.get("region", {}).get("startLine") != 6  # type: ignore[attr-defined]


@pytest.mark.slow  # runs gate as a process
def test_a_confined_loc_still_gets_its_line(bundle: Path, tmp_path: Path) -> None:
    (bundle / "eval.json").write_text('{\n  "metrics": {\n    "accuracy": 0.9\n  }\n}\n')
    location = _sarif_location(bundle, {"file": "eval.json", "path": "$.metrics.accuracy"},
                               tmp_path)
    assert location["region"]["startLine"] == 3  # type: ignore[index]


# --- 7. outputs to devices, pipes and redirections -----------------------------------------


@pytest.mark.slow  # runs gate as a process
def test_dev_stdout_appended_with_shell_redirect(bundle: Path, tmp_path: Path) -> None:
    log = tmp_path / "ci.log"
    log.write_text("earlier build output\n")
    log.chmod(0o644)
    cmd = f"'{GATE}' check --format json=/dev/stdout --output-dir '{tmp_path}/o' >> '{log}'"
    proc = subprocess.run(["sh", "-c", cmd], cwd=bundle, capture_output=True, text=True,
                          timeout=TIMEOUT, env={**os.environ, **ENV}, check=False)
    assert proc.returncode == 1, proc.stderr
    text = log.read_text()
    assert text.startswith("earlier build output\n")
    assert '"decision": "fail"' in text
    assert stat.S_IMODE(log.stat().st_mode) == 0o644


@pytest.mark.slow  # runs gate as a process
def test_dev_stdout_streams_into_a_pipe(bundle: Path, tmp_path: Path) -> None:
    cmd = f"'{GATE}' check --format sarif=/dev/stdout --output-dir '{tmp_path}/o' | cat"
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=bundle, capture_output=True,
                          text=True, timeout=TIMEOUT, env={**os.environ, **ENV}, check=False)
    assert proc.returncode == 1, proc.stderr
    start = proc.stdout.index("{\n")  # after the text summary, if there is one
    assert json.loads(proc.stdout[start:])["version"] == "2.1.0"


@pytest.mark.slow  # runs gate as a process
def test_dev_fd_of_a_pipe(bundle: Path, tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.run(
            [GATE, "check", "--format", f"json=/dev/fd/{write_end}", "--output-dir",
             str(tmp_path / "o")], cwd=bundle, capture_output=True, text=True, timeout=TIMEOUT,
            env={**os.environ, **ENV}, check=False, pass_fds=(write_end,))
        os.close(write_end)
        write_end = -1
        data = b""
        while chunk := os.read(read_end, 65536):
            data += chunk
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(data)["decision"] == "fail"


def test_regular_outputs_respect_the_umask_and_keep_existing_modes(bundle: Path) -> None:
    out = bundle.parent / "out"
    old = os.umask(0o027)
    try:
        result = check(bundle, "--format", f"sarif={out}/gate.sarif")
    finally:
        os.umask(old)
    assert result.exit_code == 1
    assert stat.S_IMODE((out / "decision.json").stat().st_mode) == 0o640
    assert stat.S_IMODE((out / "gate.sarif").stat().st_mode) == 0o640
    (out / "decision.json").chmod(0o604)
    assert check(bundle).exit_code == 1
    assert stat.S_IMODE((out / "decision.json").stat().st_mode) == 0o604


@pytest.mark.slow  # runs gate as a process
def test_a_fifo_output_without_a_reader_is_an_error_not_a_hang(bundle: Path,
                                                              tmp_path: Path) -> None:
    fifo = tmp_path / "report.sarif"
    os.mkfifo(fifo)
    proc = run_gate(["check", "--format", f"sarif={fifo}", "--output-dir", str(tmp_path / "o")],
                    cwd=bundle, timeout=30)
    assert proc.returncode == 2 and "no process is reading" in proc.stderr, proc.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)


# --- 4. invisible waivers ------------------------------------------------------------------


def _waive(root: Path, reason: str, approved_by: str) -> None:
    entry = {"rule": "EVAL-001", "reason": reason, "approved_by": approved_by}
    (root / "exceptions.yaml").write_text(json.dumps({"exceptions": [entry]}, ensure_ascii=False),
                                           "utf-8")
    manifest = root / "gate.yaml"
    if "exceptions:" not in manifest.read_text():
        manifest.write_text(manifest.read_text() + "exceptions: exceptions.yaml\n")


@pytest.mark.parametrize(("reason", "approved_by", "field"), [
    ("\u200b\u200b\u200b", "risk@example.com", "reason"),             # zero-width spaces
    ("\u2060\ufeff\u180e", "risk@example.com", "reason"),             # word joiner, BOM, MVS
    ("\u3164\u3164", "risk@example.com", "reason"),                   # Hangul filler (Lo)
    ("\u2800\u2800", "risk@example.com", "reason"),                   # Braille blank (So)
    ("\u0301\u0308", "risk@example.com", "reason"),                   # combining marks alone
    ("\u00a0\u2003\u3000", "risk@example.com", "reason"),             # Zs spaces
    ("ok \u202e", "risk@example.com", "reason"),                      # bidi override
    ("accepted until RISK-1", "\u200b", "approved_by"),
    ("accepted until RISK-1", "risk@exam\u200bple.com", "approved_by"),
    ("accepted until RISK-1", "\u202emoc.elpmaxe@ksir", "approved_by"),
    ("accepted until RISK-1", "risk\u0007@example.com", "approved_by"),
])
def test_invisible_waiver_text_is_refused(bundle: Path, reason: str, approved_by: str,
                                          field: str) -> None:
    _waive(bundle, reason, approved_by)
    refused(check(bundle), "exceptions.yaml", f"$.exceptions[0].{field}")


@pytest.mark.parametrize(("reason", "approved_by"), [
    ("p95 latency accepted until RISK-1234 lands", "head-of-risk@example.com"),
    ("Akzeptiert bis zur Migration \u2014 Zo\u00eb \u2713", "Zo\u00eb \u00c5ngstr\u00f6m"),
    ("\u0915\u094d\u200d\u0937 ok \U0001f469\u200d\U0001f4bb", "\u674e\u96f7"),  # ZWJ in text
    ("line one\nline two\tend", "risk-team"),
])
def test_visible_waiver_text_applies(bundle: Path, reason: str, approved_by: str) -> None:
    _waive(bundle, reason, approved_by)
    result = check(bundle)
    assert result.exit_code == 0, result.output


# --- 6. deep folders: MLflow metrics and artifacts -----------------------------------------


def _nest(folder: Path, levels: int, leaf: str, content: bytes) -> None:
    here = os.getcwd()
    os.chdir(folder)  # relative steps: an absolute path this deep passes PATH_MAX
    try:
        for _ in range(levels):
            os.mkdir("a")
            os.chdir("a")
        Path(leaf).write_bytes(content)
    finally:
        os.chdir(here)


def test_a_deeply_nested_mlflow_run_is_refused_quickly(bundle: Path) -> None:
    import time

    (bundle / "run" / "metrics").mkdir(parents=True)
    _nest(bundle / "run" / "metrics", 300, "auc", b"1700000000000 0.5 0\n")
    manifest = bundle / "gate.yaml"
    manifest.write_text(manifest.read_text().replace("report: eval.json", "report: run"))
    start = time.monotonic()
    refused(check(bundle), "evaluation report", "nests deeper than 16 folders")
    assert time.monotonic() - start < 10


def test_a_shallow_mlflow_run_is_read(bundle: Path) -> None:
    (bundle / "run" / "metrics" / "eval").mkdir(parents=True)
    (bundle / "run" / "metrics" / "eval" / "accuracy").write_text("1700000000000 0.9 0\n")
    (bundle / "run" / "metrics" / "accuracy").write_text("1700000000000 0.9 0\n")
    manifest = bundle / "gate.yaml"
    manifest.write_text(manifest.read_text().replace("report: eval.json", "report: run"))
    assert check(bundle).exit_code == 1


def test_a_deeply_nested_artifact_folder_is_refused(bundle: Path) -> None:
    (bundle / "model").mkdir()
    _nest(bundle / "model", 100, "w.bin", b"weights")
    manifest = bundle / "gate.yaml"
    manifest.write_text(manifest.read_text().replace("[model.bin]", "[model/]"))
    refused(check(bundle), "model artifact", "nest deeper than 64")


def test_a_fifo_in_an_artifact_folder_is_refused(bundle: Path) -> None:
    (bundle / "model").mkdir()
    (bundle / "model" / "w.bin").write_bytes(b"weights")
    os.mkfifo(bundle / "model" / "pipe.bin")
    manifest = bundle / "gate.yaml"
    manifest.write_text(manifest.read_text().replace("[model.bin]", "[model/]"))
    refused(check(bundle), "model/pipe.bin", "not a regular file")


def test_a_lone_surrogate_is_refused_and_the_error_is_still_written(bundle: Path) -> None:
    (bundle / "eval.json").write_text('{"metrics": {"\\ud800": 0.9, "accuracy": 0.9}}')
    refused(check(bundle), 'eval.json at $.metrics["\\ud800"]', "lone surrogate")
    decision = json.loads((bundle.parent / "out" / "decision.json").read_text("utf-8"))
    assert "lone surrogate" in decision["error"]["message"]


def test_verify_does_not_follow_a_data_folder_link_out_of_the_working_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `gate verify` with no gate.yaml reads policies/ and policies/data/ of the
    # working folder: a data folder that is a link elsewhere is refused, not walked.
    work = tmp_path / "work"
    (work / "policies").mkdir(parents=True)
    (work / "policies" / "p.rego").write_text(
        "package p\n\nimport rego.v1\n\ntest_floor if data.floors.accuracy == 0.99\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "floors.yaml").write_text("floors: {accuracy: 0.99}\n")
    (work / "policies" / "data").symlink_to(outside)
    monkeypatch.chdir(work)
    result = CliRunner().invoke(cli, ["verify"], env=ENV)
    assert result.exit_code == 2, result.output
    assert "policies/data" in result.output and "outside" in result.output, result.output


def test_a_data_root_that_is_a_link_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    from gate.documents import InputFiles
    from gate.errors import PolicyError
    from gate.policy.loader import collect_data

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "floors.yaml").write_text("floors: {accuracy: 0.1}\n")
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "data").symlink_to(outside)
    with pytest.raises(PolicyError, match="resolves outside the bundle folder"):
        collect_data(InputFiles(tmp_path / "work"), [tmp_path / "work" / "data"])


def test_a_spark_data_folder_is_walked_confined(tmp_path: Path) -> None:
    from gate.documents import InputFiles
    from gate.errors import BundleError

    root = tmp_path / "bundle"
    (root / "snap").mkdir(parents=True)
    (root / "snap" / "part-0.parquet").write_bytes(b"PAR1")
    files = InputFiles(root)
    assert [s for s, _ in files.files_under("snap", root / "snap", "data")] == [
        "snap/part-0.parquet"]
    (root / "snap" / "leak.parquet").symlink_to(tmp_path)
    with pytest.raises(BundleError, match="symlink that resolves outside"):
        files.files_under("snap", root / "snap", "data")
    (root / "snap" / "leak.parquet").unlink()
    os.mkfifo(root / "snap" / "part-1.parquet")
    with pytest.raises(BundleError, match="not a regular file"):
        files.files_under("snap", root / "snap", "data")
