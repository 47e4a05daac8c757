"""Checks on the arguments that need no network, so a typo fails before any call to Azure or the cluster.

They raise ValueError: knack reports a validator's ValueError as az's ValidationError with exit code 2, the code
argparse gives every other usage error (an unknown --fail-on value, a missing --name).
"""

from __future__ import annotations

import os
import re

# Namespaces and Service names are DNS labels (RFC 1123): lower-case alphanumerics and '-', at most 63 characters.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
# Why a diagnosis argument means nothing in the other modes.
_MODE_CONFLICTS = {
    "--fix": "a fix acts on the whole cluster, re-runs the checks its action addresses, and its outcome sets the "
    "exit code",
    "--collect": "collect writes the whole cluster's snapshot; diagnose it afterwards with --snapshot",
}


def validate_doctor(namespace):
    namespace.service = parse_service(namespace.service) if namespace.service else None
    namespace.check = split_ids(namespace.check)
    namespace.skip = split_ids(namespace.skip)
    _validate_check_ids(namespace.check, namespace.skip)
    if namespace.snapshot and not os.path.exists(namespace.snapshot):
        raise ValueError(f"--snapshot: no such file or directory: {namespace.snapshot}")
    _validate_mode(namespace)


def _validate_mode(ns) -> None:
    """--fix and --collect are modes of the command: each refuses the arguments that make no sense with it."""
    if ns.fix and ns.collect:
        raise ValueError("--fix and --collect cannot be used together: run one, then the other")
    mode = "--fix" if ns.fix else "--collect" if ns.collect else ""
    if mode:
        given = {"--service": ns.service, "--check": ns.check, "--skip": ns.skip, "--fail-on": ns.fail_on}
        stray = [flag for flag, value in given.items() if value]
        if stray:
            raise ValueError(f"{stray[0]} cannot be used with {mode}: {_MODE_CONFLICTS[mode]}")
    fix_only = {
        "--yes": ns.yes,
        "--timeout": ns.timeout is not None,
        "--years": ns.years is not None,
        "--end-date": ns.end_date,
        "--show-secret": ns.show_secret,
        "--remove-expired": ns.remove_expired,
    }
    stray = [flag for flag, value in fix_only.items() if value]
    if stray and not ns.fix:
        raise ValueError(f"{stray[0]} only applies with --fix ACTION")
    if ns.anonymize and not ns.collect:
        raise ValueError("--anonymize only applies with --collect")
    if ns.fix:
        _validate_fix(ns, [f for f in stray if f not in ("--yes", "--timeout")])
    if ns.collect:
        _validate_collect(ns)


def _validate_fix(ns, action_flags: list[str]) -> None:
    from datetime import datetime, timezone

    from aksdoctor.errors import UsageError
    from aksdoctor.fixes import get_action

    if ns.yes and ns.snapshot:
        raise ValueError("--yes cannot be used with --snapshot: a snapshot can be planned from, never applied to")
    if ns.timeout is not None and ns.timeout < 0:
        raise ValueError(f"--timeout {ns.timeout}: seconds, 0 or more")
    action = get_action(ns.fix)
    own = {"--" + f.replace("_", "-") for f in getattr(action, "flags", ())}
    if any(f not in own for f in action_flags):
        raise ValueError(f"{', '.join(action_flags)} only apply to reset-sp-credential, not {ns.fix}")
    if ns.years is not None and ns.years < 1:  # the action would read 0 as "not given" (one year)
        raise ValueError("--years must be 1 or more")
    if action_flags:
        # The action's own reading of its flags (--years with --end-date, a malformed or past date), so a typo fails
        # here, before any call to Azure, exactly as it would when planning.
        configured = action.configured(vars(ns))
        try:
            configured._end(datetime.now(timezone.utc))
        except UsageError as exc:
            raise ValueError(str(exc)) from None


def _validate_collect(ns) -> None:
    if ns.snapshot:
        raise ValueError("--collect reads the live cluster; it cannot be used with --snapshot")
    dest = ns.collect
    if not dest.endswith(ARCHIVE_SUFFIXES) and dest.endswith((".gz", ".tar", ".zip")):
        raise ValueError(f"--collect {dest}: an archive is a gzipped tar, so name it *.tar.gz (or name a directory)")


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
