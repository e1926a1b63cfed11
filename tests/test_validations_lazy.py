"""Great Expectations, pandas and SQLAlchemy are imported only for manifests with validations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from gx_support import REPO, write

HEAVY = ("great_expectations", "pandas", "sqlalchemy", "pyspark", "numpy")

SCRIPT = """
import json, sys
from pathlib import Path
import gate.validations
from gate.manifest import load_manifest
from gate.validations import run_validations

after_import = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
entries, findings = run_validations(load_manifest(Path(sys.argv[1])))
after_run = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
print(json.dumps({"entries": entries, "findings": len(findings),
                  "after_import": after_import, "after_run": after_run}))
"""


def test_a_suite_less_flow_never_imports_gx_pandas_or_sqlalchemy(tmp_path: Path) -> None:
    write(tmp_path, "bundle/gate.yaml", "version: 1\nmodel: {name: m, version: '1'}\n")
    script = write(tmp_path, "probe.py", f"HEAVY = {HEAVY!r}\n{SCRIPT}")
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "bundle" / "gate.yaml")],
                         capture_output=True, text=True, cwd=REPO, check=True, timeout=120)
    result = json.loads(out.stdout)
    assert result == {"entries": [], "findings": 0, "after_import": [], "after_run": []}


@pytest.mark.slow  # runs a fresh interpreter
def test_python_dash_c_fails_closed_rather_than_exiting_zero(tmp_path: Path) -> None:
    """pyspark's Spark Connect import calls sys.exit(0) under `python -c` (GX imports it).

    An exit 0 would read as a passing gate; gate turns it into a ValidationError.
    Where pyspark is absent, or its connect extras are installed, the suite runs.
    """
    code = ("import sys; from pathlib import Path; from gate.manifest import load_manifest; "
            "from gate.validations import run_validations; "
            "e, f = run_validations(load_manifest(Path(sys.argv[1]))); print('FINDINGS', len(f))")
    target = REPO / "examples" / "validations" / "gate-failing.yaml"
    out = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True,
                         text=True, cwd=tmp_path, timeout=120, check=False)
    if out.returncode == 0:
        assert "FINDINGS 5" in out.stdout
    else:
        assert "tried to end the process" in out.stderr
