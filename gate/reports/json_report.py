"""``--format json``: decision.json itself, on stdout or to a path."""

from __future__ import annotations

from gate.decision import CheckReport
from gate.fsutil import dump_json
from gate.reports import DocumentReporter, EmitContext


class JsonReporter(DocumentReporter[CheckReport]):
    """decision.json, exactly as written to the output folder."""

    name = "json"

    def render(self, report: CheckReport, ctx: EmitContext) -> str:
        return dump_json(report.to_json())
