"""`-o yaml`: the same document as `-o json`, in YAML (key order kept, C dumper when libyaml is present)."""

from __future__ import annotations

import yaml

from aksdoctor.model import Report

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def render(report: Report) -> str:
    return yaml.dump(report.to_dict(), Dumper=_Dumper, sort_keys=False, allow_unicode=True)
