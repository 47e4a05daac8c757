"""Azure annotations the provider ignores (typos, other clouds'), rejects (bad values), or no longer reads.

A typo in `azure-load-balancer-internal` silently gives a Service a public IP; a bad idle timeout keeps it
pending. The provider reports neither until it tries, and some never: so the annotations are checked as data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from aksdoctor import kube, shell
from aksdoctor.annotations import AnnotationProblem, validate_service_annotations
from aksdoctor.checks.base import ServiceContext, check
from aksdoctor.model import Evidence, Finding, Fix

DOCS = ("https://cloud-provider-azure.sigs.k8s.io/topics/loadbalancer/#loadbalancer-annotations",)
_KEY_IN_SUGGESTION = re.compile(r"(service\.beta\.kubernetes\.io/[A-Za-z0-9_.{}-]+)")
_SPEC_PREFIX = "spec."


@check(
    id="lb.annotation-invalid",
    title="Invalid, unknown or deprecated Azure annotation",
    severity="warning",
    scope="service",
    needs=("services",),
    docs=DOCS,
)
def run(ctx: ServiceContext) -> Iterator[Finding]:
    for problem in validate_service_annotations(ctx.service):
        detail = f"{problem.key}: {problem.value!r}" if problem.value else problem.key
        field = "spec" if problem.key.startswith(_SPEC_PREFIX) else "metadata.annotations"
        cause = f"{problem.key}: {problem.message}"
        if problem.suggestion:
            cause += f" ({problem.suggestion})"
        yield ctx.finding(
            cause,
            [Evidence("Service", f"{kube.ref('Service', ctx.service)} {field}", detail)],
            fix=_fix(ctx, problem),
            severity=problem.severity,
        )


def _fix(ctx: ServiceContext, problem: AnnotationProblem) -> Fix | None:
    ns, name = kube.namespace(ctx.service), kube.name(ctx.service)
    if problem.key.startswith(_SPEC_PREFIX):
        return Fix(
            problem.suggestion or "Correct the field.", (shell.command("kubectl", "edit", "service", "-n", ns, name),)
        )
    remove = shell.command("kubectl", "annotate", "service", "-n", ns, name, f"{problem.key}-")
    target = _KEY_IN_SUGGESTION.search(problem.suggestion or "")
    if problem.kind in ("unknown", "deprecated") and target and "{" not in target.group(1):
        rename = shell.command(
            "kubectl", "annotate", "service", "-n", ns, name, "--overwrite", f"{target.group(1)}={problem.value}"
        )
        return Fix(f"Use {target.group(1)} instead (the Service is re-synced by the provider).", (rename, remove))
    if problem.kind in ("unknown", "deprecated", "other-cloud"):
        return Fix("Remove the annotation; the Azure provider does not read it.", (remove,))
    return Fix(
        problem.suggestion or "Set a valid value (the provider retries on the next sync).",
        (shell.command("kubectl", "annotate", "service", "-n", ns, name, "--overwrite", f"{problem.key}=<value>"),),
    )
