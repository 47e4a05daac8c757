"""`-o json`: the report document, the contract scripts read."""

from __future__ import annotations

import json

from aksdoctor.model import Report


def render(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2) + "\n"
