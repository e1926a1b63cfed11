"""Regenerate reports/predictions.db: a sample of the candidate's scored predictions (SQLite).

Deterministic (fixed seed), so the committed file and its sha256 stay stable:
    python examples/validations/make_predictions_db.py
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

OUT = Path(__file__).parent / "reports" / "predictions.db"


def main() -> None:
    rng = random.Random(240)
    OUT.unlink(missing_ok=True)
    with sqlite3.connect(OUT) as db:
        db.execute("CREATE TABLE predictions (prediction_id TEXT PRIMARY KEY, region TEXT NOT NULL,"
                   " score REAL NOT NULL, label INTEGER NOT NULL)")
        rows = []
        for i in range(500):
            label = int(rng.random() < 0.08)
            score = min(1.0, max(0.0, rng.gauss(0.78 if label else 0.12, 0.12)))
            region = rng.choice(["eu", "uk", "us", "apac"])
            rows.append((f"p-{i:05d}", region, round(score, 4), label))
        db.executemany("INSERT INTO predictions VALUES (?, ?, ?, ?)", rows)
    db.close()


if __name__ == "__main__":
    main()
