"""`version` and `checks`: the commands that must start fast, so they import no engine and no client library."""

from __future__ import annotations

import argparse
import json
import sys

from aksdoctor.errors import EXIT_OK, UsageError


def list_checks(args: argparse.Namespace) -> int:
    from aksdoctor.checks import all_checks

    rows = [
        {
            "id": c.id,
            "severity": c.severity.label,
            "scope": c.scope + (" (+lb)" if c.also_in_lb else ""),
            "title": c.title,
            "fix": c.fix_action or "",
            "docs": list(c.docs),
        }
        for c in all_checks().values()
    ]
    if args.output == "json":
        print(json.dumps(rows, indent=2))
    elif args.output == "yaml":
        import yaml

        sys.stdout.write(yaml.safe_dump(rows, sort_keys=False))
    elif args.output == "table":
        widths = [max(len(str(r[k])) for r in rows) for k in ("id", "severity", "scope")] if rows else [2, 8, 5]
        for r in rows:
            fix = f"  [fix: {r['fix']}]" if r["fix"] else ""
            print(f"{r['id']:<{widths[0]}}  {r['severity']:<{widths[1]}}  {r['scope']:<{widths[2]}}  {r['title']}{fix}")
    else:
        raise UsageError(f"unknown output format {args.output!r} (expected table, json or yaml)")
    return EXIT_OK


def version(args: argparse.Namespace) -> int:
    from aksdoctor.buildinfo import build_info

    info = build_info()
    if args.output == "json":
        print(json.dumps(info, indent=2))
    elif args.output == "text":
        libs = ", ".join(f"{k} {v}" for k, v in info["libraries"].items())
        commit = f" (commit {info['commit']})" if info.get("commit") else ""
        print(f"aksdoctor {info['version']}{commit}")
        print(f"python {info['python']}; {libs}")
    else:
        raise UsageError(f"unknown output format {args.output!r} (expected text or json)")
    return EXIT_OK
