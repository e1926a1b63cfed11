"""Suites over Spark data (pyspark in local mode): catalog tables and paths Spark reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from gx_support import bundle, example, exp, snapshot, spark_session, spark_skip_reason, suite

from gate.errors import ValidationError
from gate.validations import run_validations

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,  # starting Spark takes seconds
    # pyspark 4 warns about pandas 3 whenever the test builds a DataFrame; gate's own
    # calls are quieted (gate.validations.context.quiet)
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

SUITE = suite(
    exp("expect_column_values_to_be_between", column="roc_auc", min_value=0.9),
    exp("expect_column_values_to_be_between", "warning", column="count", min_value=1000),
    exp("expect_table_row_count_to_be_between", min_value=8),
    exp("expect_column_mean_to_be_between", column="roc_auc", min_value=0.93),
    meta={"gate": {"id_columns": ["slice"]}},
)
FAILED = ["gx.{}.expect_column_values_to_be_between.roc_auc",
          "gx.{}.expect_column_values_to_be_between.count",
          "gx.{}.expect_column_mean_to_be_between.roc_auc"]


@pytest.fixture(scope="module")
def spark() -> Any:
    reason = spark_skip_reason()
    if reason:
        pytest.skip(reason)
    return spark_session()


def test_spark_table_csv_path_and_parquet_folder(spark: Any, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    root = example(tmp_path)
    regressed = pd.read_csv(root / "reports" / "slices_regressed.csv")
    (root / "lake" / "slices").mkdir(parents=True)
    regressed.to_parquet(root / "lake" / "slices" / "part-0000.parquet", index=False)
    spark.createDataFrame(regressed.to_dict("records")).createOrReplaceTempView("gate_eval_slices")
    m = bundle(root, [
        {"name": "table", "suite": "s.json", "spark": {"table": "gate_eval_slices"}},
        {"name": "csv", "suite": "s.json", "spark": {"path": "reports/slices_regressed.csv"}},
        {"name": "lake", "suite": "s.json", "spark": {"path": "lake/slices", "format": "parquet"}},
    ], {"s.json": SUITE})
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    before = snapshot(root, cwd)
    entries, findings = run_validations(m)
    assert snapshot(root, cwd) == before  # no spark-warehouse, no gx/
    assert [e["data"] for e in entries] == ["spark table gate_eval_slices",
                                            "spark csv reports/slices_regressed.csv",
                                            "spark parquet lake/slices"]
    for e in entries:
        assert e["statistics"] == {"evaluated": 4, "successful": 1, "unsuccessful": 3}
        assert e["results"][2]["observed_value"] == 8
    assert [f.id for f in findings] == [i.format(n) for n in ("table", "csv", "lake")
                                        for i in FAILED]
    auc = findings[0]
    assert "slice='region=us/segment=retail', roc_auc=0.889" in auc.message
    assert auc.details["unexpected_count"] == 2
    assert abs(findings[2].details["observed_value"] - 0.921) < 1e-9
    assert {"reports/slices_regressed.csv", "lake/slices/part-0000.parquet"} <= set(m.files.records)


@pytest.mark.parametrize(("spec", "words"), [
    ({"table": "gate_no_such_table"}, "Spark cannot read table 'gate_no_such_table'"),
    ({"path": "missing/slices.parquet"}, "file not found"),
    ({"path": "reports/slices.csv", "format": "orc"}, "Spark cannot read 'reports/slices.csv'"),
])
def test_spark_problems_are_errors_naming_the_validation(spark: Any, tmp_path: Path,
                                                         spec: dict[str, str],
                                                         words: str) -> None:
    root = example(tmp_path)
    m = bundle(root, [{"name": "slices", "suite": "s.json", "spark": spec}], {"s.json": SUITE})
    with pytest.raises(ValidationError) as info:
        run_validations(m)
    assert "validation 'slices'" in info.value.message and words in info.value.message
