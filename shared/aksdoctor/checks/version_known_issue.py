"""Known cloud-provider bugs and behaviour changes that this cluster's version has, with the evidence that they
bite here.

A version match alone is a warning ("you run a release with this bug"); the same match plus trigger evidence
(the bug's error code or log line, or the objects that set it off) is an error. Entries whose version match the
data cannot decide, and behaviour changes with no fixed release, are reported only with trigger evidence. The
bugs, their versions and their triggers are data (knowledge/known_issues.yaml); this module holds only the few
kinds of trigger matching.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aksdoctor import kube, shell
from aksdoctor.azure.errors import classify
from aksdoctor.checks._version import cluster_version, get_upgrades_command, upgrade_command, version_evidence
from aksdoctor.checks.base import CheckContext, check, event_evidence, field_evidence, log_evidence, warning_events
from aksdoctor.facts import LogLine
from aksdoctor.model import Evidence, Finding, Fix, Severity
from aksdoctor.text import names_text
from aksdoctor.versions import KnownIssue, KubeVersion, Verdict, known_issues, parse_range

DOCS = ("https://learn.microsoft.com/azure/aks/upgrade-aks-cluster",)
MAX_HITS = 5  # evidence items and subjects named per finding; the rest are counted


@dataclass(frozen=True)
class Hit:
    """One piece of trigger evidence: what it is about (named in the cause), the evidence, an optional fix."""

    subject: str
    evidence: Evidence
    resource: str | None = None  # the object a finding could be filed under
    command: str | None = None


Source = Mapping[str, Any] | tuple[str, int]  # an event, or (log ref, line number)


class Observed:
    """The data triggers search, each fact read once and optional (an absent fact just gives no evidence)."""

    def __init__(self, ctx: CheckContext):
        self.ctx = ctx

    def objects(self, name: str) -> list[dict]:
        return self.ctx.fact_or(name, [])

    @functools.cached_property
    def texts(self) -> list[tuple[str, Source]]:
        """(text, where) for every Warning event message and every controller log line."""
        out: list[tuple[str, Source]] = [
            (msg, e) for e in warning_events(self.objects("events")) if (msg := e.get("message") or "")
        ]
        for log in self.objects("provider_logs"):
            out.extend((line, (log.ref, n)) for n, line in enumerate(log.text.splitlines(), start=1))
        return out

    @functools.cached_property
    def error_codes(self) -> dict[str, list[Hit]]:
        """Hits per ARM error code any known issue names (lower-cased), found in one pass. The classifier
        confirms each code, so a code named in prose does not count; it runs only on texts holding a wanted code
        and the word "code" in some case (every form of ARM error the classifier reads has it)."""
        wanted = frozenset(c.lower() for issue in known_issues() for c in issue.error_codes)
        named = re.compile("|".join(re.escape(c) for c in sorted(wanted)))  # on lower-cased text: re.I is slow
        found: dict[str, list[Hit]] = {}
        for text, source in self.texts:
            if not ("ode" in text or "ODE" in text) or not named.search(text.lower()):
                continue
            for error in classify(text):
                code = error.code.lower()
                if code in wanted:
                    found.setdefault(code, []).append(_text_hit(text, source, f"{error.code} in "))
        return found


def _text_hit(text: str, source: Source, prefix: str = "") -> Hit:
    if isinstance(source, tuple):
        ref, number = source
        return Hit(f"{prefix}log line {ref}:{number}", log_evidence(LogLine(ref, number, text)))
    inv = source.get("involvedObject") or {}
    about = f"{inv.get('kind', '')} {inv.get('namespace') or kube.namespace(source)}/{inv.get('name', '')}"
    return Hit(f"{prefix}event {source.get('reason') or ''} on {about}", event_evidence(source))


# ---- trigger kinds: (observed, issue, parameters) -> hits -------------------------------------------------


def _error_code_hits(seen: Observed, issue: KnownIssue, _: Mapping[str, Any]) -> list[Hit]:
    codes = sorted({c.lower() for c in issue.error_codes})
    return [hit for code in codes for hit in seen.error_codes.get(code, ())]


@functools.cache
def _signature_regex(signature: str) -> re.Pattern[str]:
    """A provider log format string as a regex: literal text, each Go verb (%s, %v, %q, %d) matching anything."""
    parts = re.split(r"%[-+# 0-9.]*[a-zA-Z]", signature)
    return re.compile(".+?".join(re.escape(p) for p in parts), re.IGNORECASE)


def _log_signature_hits(seen: Observed, issue: KnownIssue, _: Mapping[str, Any]) -> list[Hit]:
    regex = _signature_regex(issue.log_signature or "")
    return [_text_hit(text, source) for text, source in seen.texts if regex.search(text)]


def _node_label_hits(seen: Observed, _: KnownIssue, params: Mapping[str, Any]) -> list[Hit]:
    wanted: Mapping[str, Any] = params["labels"]
    hits = []
    for node in seen.objects("nodes"):
        labels = kube.labels(node)
        for key, value in wanted.items():
            if key in labels and (value is None or labels[key] == str(value)):
                ref = kube.ref("Node", node)
                hits.append(
                    Hit(
                        f"{ref} ({key}={labels[key]})", field_evidence("Node", node, f"labels[{key}]", labels[key]), ref
                    )
                )
                break
    return hits


def _service_annotation_hits(seen: Observed, _: KnownIssue, params: Mapping[str, Any]) -> list[Hit]:
    key, value = params["key"], str(params["value"])
    hits = []
    for svc in seen.objects("services"):
        annotations = kube.annotations(svc)
        if key in annotations and str(annotations[key]) == value:
            ref = kube.ref("Service", svc)
            shown = f'"{annotations[key]}"'
            hits.append(
                Hit(f"{ref} ({key}={shown})", field_evidence("Service", svc, f"annotations[{key}]", shown), ref)
            )
    return hits


def _app_protocol_hits(seen: Observed, _: KnownIssue, params: Mapping[str, Any]) -> list[Hit]:
    """Service ports whose appProtocol makes the provider probe HTTP(S) `/` because nothing else chose the probe."""
    protocols = {p.lower() for p in params["app_protocols"]}
    fix_key, fix_value = next(iter(params["fix_annotation"].items()))
    hits = []
    for svc in seen.objects("services"):
        spec = kube.spec(svc)
        if not kube.is_load_balancer(svc) or spec.get("externalTrafficPolicy") == "Local":
            continue
        annotations = kube.annotations(svc)
        for i, port in enumerate(spec.get("ports") or ()):
            app_protocol = str(port.get("appProtocol") or "")
            if app_protocol.lower() not in protocols or (port.get("protocol") or "TCP") != "TCP":
                continue
            number = port.get("port")
            if _probe_chosen(annotations, number, params):
                continue
            ref = kube.ref("Service", svc)
            command = shell.command(
                "kubectl", "annotate", "service", "-n", kube.namespace(svc), kube.name(svc), f"{fix_key}={fix_value}"
            )
            hits.append(
                Hit(
                    f"{ref} port {number} (appProtocol {app_protocol})",
                    field_evidence("Service", svc, f"spec.ports[{i}].appProtocol", app_protocol),
                    ref,
                    command,
                )
            )
    return hits


def _probe_chosen(annotations: Mapping[str, str], port: Any, params: Mapping[str, Any]) -> bool:
    def key(template: str) -> str:
        return template.replace("{port}", str(port))

    if any(str(annotations.get(key(k)) or "") for k in params.get("probe_annotations", ())):
        return True
    return any(
        str(annotations.get(key(k)) or "").lower() == "true" for k in params.get("probe_disabling_annotations", ())
    )


TriggerFn = Callable[[Observed, KnownIssue, Mapping[str, Any]], list[Hit]]
TRIGGER_KINDS: Mapping[str, TriggerFn] = {
    "error_code": _error_code_hits,
    "log_signature": _log_signature_hits,
    "node_label": _node_label_hits,
    "service_annotation": _service_annotation_hits,
    "service_app_protocol_without_probe_path": _app_protocol_hits,
}


def triggers(issue: KnownIssue) -> list[Mapping[str, Any]]:
    """The entry's trigger specs: error_codes and log_signature fields, then its `triggers` list."""
    specs: list[Mapping[str, Any]] = []
    if issue.error_codes:
        specs.append({"kind": "error_code"})
    if issue.log_signature:
        specs.append({"kind": "log_signature"})
    specs.extend(issue.extra.get("triggers") or ())
    return specs


def trigger_hits(seen: Observed, issue: KnownIssue) -> list[Hit]:
    return [hit for spec in triggers(issue) for hit in TRIGGER_KINDS[spec["kind"]](seen, issue, spec)]


# ---- the check ------------------------------------------------------------------------------------------


@check(
    id="version.known-issue",
    title="Known cloud-provider issue in this version",
    severity="warning",
    scope="cluster",
    needs=("version",),
    optional=("services", "nodes", "events", "provider_logs", "cluster"),
    docs=DOCS,
    also_in_lb=True,
)
def run(ctx: CheckContext) -> Iterator[Finding]:
    text, version = cluster_version(ctx)
    seen = Observed(ctx)
    for issue in known_issues():
        verdict = issue.verdict(version)
        if verdict is Verdict.NOT_AFFECTED:
            continue
        behaviour = bool(issue.extra.get("behaviour_change"))
        if behaviour and not _behaviour_applies(issue, version):
            continue
        hits = trigger_hits(seen, issue)
        if verdict is Verdict.AFFECTED and not behaviour:
            severity = Severity.ERROR if hits else Severity.WARNING
        elif not hits:
            continue
        elif behaviour:
            severity = Severity.parse(issue.extra.get("severity") or "warning")
        else:
            severity = Severity.INFO
        yield _finding(ctx, issue, verdict, behaviour, severity, version, text, hits)


def _behaviour_applies(issue: KnownIssue, version: KubeVersion) -> bool:
    """False only when the entry's `behaviour_versions` range surely excludes the version."""
    versions = parse_range(issue.extra.get("behaviour_versions"))
    return versions is None or versions.contains(version) is not False


def _finding(
    ctx: CheckContext,
    issue: KnownIssue,
    verdict: Verdict,
    behaviour: bool,
    severity: Severity,
    version: KubeVersion,
    text: str,
    hits: Sequence[Hit],
) -> Finding:
    if behaviour:
        introduced = issue.extra.get("introduced")
        cause = f"{issue.title}. This is cloud-provider behaviour with no fixed release"
        cause += f" (introduced: {introduced})." if introduced else "."
    elif verdict is Verdict.AFFECTED:
        cause = f"Kubernetes {version} has a known cloud-provider bug ({issue.id}): {issue.title}."
    else:
        cause = (
            f"Signs of a known cloud-provider bug ({issue.id}): {issue.title}. The version match is uncertain: the "
            f"known-issue data cannot tell whether Kubernetes {version} has it."
        )
    first_fixed = None if behaviour else issue.first_fixed(version)
    if not behaviour:
        cause += _fixed_text(issue, version, first_fixed if verdict is Verdict.AFFECTED else None)
    if issue.trigger:
        cause += f" It is set off by: {issue.trigger}."
    cause += _hits_text(hits, searched=bool(triggers(issue)))
    if issue.workaround:
        cause += f" Workaround: {issue.workaround}."
    if issue.note:
        cause += f" Note: {issue.note}."

    evidence = [version_evidence(ctx, text)]
    data = _version_data(issue)
    if data:
        evidence.append(Evidence("Version", f"known issue {issue.id}", data))
    evidence.extend(h.evidence for h in hits[:MAX_HITS])

    resources = {h.resource for h in hits}
    resource = resources.pop() if len(resources) == 1 else None
    return ctx.finding(
        cause,
        evidence,
        fix=_fix(ctx, issue, behaviour, first_fixed, hits),
        resource=resource,
        severity=severity,
        title=f"Known issue: {issue.title}",
        docs=(*issue.refs, *issue.fix_prs),
    )


def _fixed_text(issue: KnownIssue, version: KubeVersion, first_fixed: KubeVersion | None) -> str:
    if first_fixed is None:
        listed = ", ".join(issue.fixed_in) or _variants(issue) or "none recorded"
        return f" Fixed releases listed: {listed}."
    if (first_fixed.major, first_fixed.minor) == (version.major, version.minor):
        fixed = f" Fixed in {first_fixed} for {version.series}"
    else:
        fixed = f" No fix was released for {version.series}; the first fixed release after it is {first_fixed}"
    return f"{fixed} (all fixed releases: {', '.join(issue.fixed_in) or _variants(issue)})."


def _variants(issue: KnownIssue) -> str:
    return "; ".join(f"{name}: {', '.join(items)}" for name, items in issue.fixed_in_variants.items())


def _version_data(issue: KnownIssue) -> str:
    parts = []
    if issue.affected:
        parts.append(f"affected: {issue.affected}")
    if issue.fixed_in:
        parts.append(f"fixed_in: {', '.join(issue.fixed_in)}")
    if issue.fixed_in_variants:
        parts.append(f"fixed_in by variant: {_variants(issue)}")
    return "; ".join(parts)


def _hits_text(hits: Sequence[Hit], *, searched: bool) -> str:
    if not hits and searched:
        return " No sign of it was found in the Services, nodes, events and logs read: the version alone matches."
    if not hits:
        return " It leaves no trace aksdoctor can look for: the version alone matches."
    subjects = list(dict.fromkeys(h.subject for h in hits))
    return f" Seen here: {names_text(subjects, MAX_HITS)}."


def _fix(
    ctx: CheckContext, issue: KnownIssue, behaviour: bool, first_fixed: KubeVersion | None, hits: Sequence[Hit]
) -> Fix:
    if behaviour:
        commands = tuple(dict.fromkeys(h.command for h in hits if h.command))[:MAX_HITS]
        advice = issue.workaround or issue.note or "adapt the configuration to the provider's behaviour"
        return Fix(f"Workaround: {advice}", commands)
    target = str(first_fixed) if first_fixed else None
    summary = (
        f"Upgrade to Kubernetes {target} or later" if target else "Upgrade to a release that carries the fix"
    ) + " (on AKS: az aks upgrade; self-managed: Kubernetes or cloud-provider-azure)"
    summary += f", or apply the workaround: {issue.workaround}." if issue.workaround else "."
    return Fix(summary, (get_upgrades_command(ctx), upgrade_command(ctx, target)))
