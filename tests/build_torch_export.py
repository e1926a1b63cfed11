"""Write the two torch.export archives tests/test_formats_arrays_torch_export.py reads.

Usage: python tests/build_torch_export.py OUT_DIR (needs torch; the project's
tests do not, they read the frozen copies in tests/fixtures/torch_export/,
written by this script with torch 2.13.0). The scheduled library-drift
workflow runs it with the newest torch and points GATE_TORCH_EXPORT_DIR at
OUT_DIR, so a change in what torch.export.save writes turns that job red.

* model.pt2: a small module exported with example inputs, which
  torch.export.save keeps as a torch.save file (pickled) in the archive;
* plain.pt2: the same program without example inputs.

torch records the absolute path of this script in each node's stack trace
(models/model.json). In the frozen copies that path was replaced by a
relative one of the same length (./././././tests//build_torch_export.py) and
the member's CRC updated, so that no machine's path is in the repository;
nothing else in the archives was changed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch


class Scorer(torch.nn.Module):  # type: ignore[misc]  # torch is untyped here
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(x))


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    program = torch.export.export(Scorer(), (torch.randn(2, 3),))
    torch.export.save(program, out / "model.pt2")
    program._example_inputs = None  # no public switch: what a program without inputs saves
    torch.export.save(program, out / "plain.pt2")
    print(f"torch {torch.__version__}: wrote model.pt2 and plain.pt2 in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
