"""Checks on the arguments that need no network, so a typo fails before any call to Azure or the cluster.

They raise ValueError: knack reports a validator's ValueError as az's ValidationError with exit code 2, the code
argparse gives every other usage error (an unknown --fail-on value, a missing --name).
"""

from __future__ import annotations

import os
import re

# Namespaces and Service names are DNS labels (RFC 1123): lower-case alphanumerics and '-', at most 63 characters.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def validate_doctor(namespace):
    namespace.service = parse_service(namespace.service) if namespace.service else None
    namespace.check = split_ids(namespace.check)
    namespace.skip = split_ids(namespace.skip)
    _validate_check_ids(namespace.check, namespace.skip)
    if namespace.snapshot and not os.path.exists(namespace.snapshot):
        raise ValueError(f"--snapshot: no such file or directory: {namespace.snapshot}")


def parse_service(text: str) -> str:
    """`NAME` or `NAMESPACE/NAME` -> `NAMESPACE/NAME` (namespace `default` when omitted)."""
    namespace, _, name = text.strip().rpartition("/")
    namespace = namespace or "default"
    if not all(_DNS_LABEL.fullmatch(part) for part in (namespace, name)):
        raise ValueError(
            f"--service {text!r} is not NAMESPACE/NAME or NAME: namespaces and Service names are lower-case "
            "letters, digits and '-' (at most 63), for example --service default/web"
        )
    return f"{namespace}/{name}"


def split_ids(values: list[str] | None) -> list[str]:
    """`--check a,b c` -> [a, b, c]."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def _validate_check_ids(include: list[str], exclude: list[str]) -> None:
    """Every id or glob must name at least one check; the error lists the catalog."""
    import fnmatch

    from aksdoctor.checks import all_checks

    catalog = list(all_checks())
    unknown = [p for p in (*include, *exclude) if not any(fnmatch.fnmatchcase(cid, p) for cid in catalog)]
    if unknown:
        raise ValueError(f"unknown check id {unknown[0]!r}; known checks: {', '.join(catalog)}")
