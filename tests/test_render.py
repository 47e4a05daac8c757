"""Renderers: every format from one hand-built Report per scope; goldens for the human formats.

Regenerate the goldens after an intended change with `UPDATE_GOLDEN=1 python -m pytest tests/test_render.py`,
then read the diff.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from aksdoctor import shell
from aksdoctor.errors import UsageError
from aksdoctor.model import CheckOutcome, Evidence, Finding, Fix, Report, Severity, Status, Target
from aksdoctor.render import FORMATS, path, render, should_color

GOLDEN = Path(__file__).parent / "golden"
APP_ID = "5b1f3c2e-8d4a-4f6b-9c1d-2e3f4a5b6c7d"
LONG_LOG = (
    "E1127 09:58:12.123456       1 azure_loadbalancer.go:142] failed to ensure load balancer for service "
    "default/web: Retriable: false, RetryAfter: 0s, HTTPStatusCode: 401, RawError: "
    '{"error":"invalid_client","error_description":"AADSTS7000222: The provided client secret keys for app '
    f"'{APP_ID}' are expired. Visit the Azure portal to create new keys for your app: "
    "https://aka.ms/NewClientSecret, or consider using certificate credentials for added security. "
    'Trace ID: 0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b Correlation ID: 9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4"}'
)
PATCH = [{"op": "add", "path": "/spec/template/spec/containers/0/readinessProbe", "value": {"httpGet": {"port": 8080}}}]


def service_report() -> Report:
    """One Service with findings at three severities and an outcome of every status."""
    findings = [
        Finding(
            id="lb.auth-failed",
            severity=Severity.CRITICAL,
            title="Cloud provider identity cannot sign in",
            resource="Service default/web",
            cause=(
                "The cluster's service principal secret has expired (AADSTS7000222), so the cloud provider "
                "cannot create or update the load balancer for any Service."
            ),
            evidence=(
                Evidence("Log", "kube-system/cloud-controller-manager-5d8f7-abcde", LONG_LOG),
                Evidence(
                    "Event",
                    "default/web.17a3b2c1d0e9f8a7",
                    "Error syncing load balancer: failed to ensure load balancer: clientSecretCredential: "
                    "invalid_client",
                ),
            ),
            fix=Fix(
                "Reset the service principal secret, then give the new secret to the cluster.",
                (
                    shell.command("az", "ad", "sp", "credential", "reset", "--id", APP_ID, "--query", "password"),
                    shell.command(
                        "az",
                        "aks",
                        "update-credentials",
                        "-g",
                        "prod-rg",
                        "-n",
                        "prod-aks",
                        "--reset-service-principal",
                        "--service-principal",
                        APP_ID,
                        "--client-secret",
                        "<new secret>",
                    ),
                ),
                action="reset-sp-credential",
            ),
            docs=("https://learn.microsoft.com/azure/aks/update-credentials",),
        ),
        Finding(
            id="lb.no-endpoints",
            severity=Severity.ERROR,
            title="Service has no ready endpoints",
            resource="Service default/web",
            cause="2 pod(s) match the selector but none is ready (2 not ready, 0 finished).",
            evidence=(
                Evidence("Service", "Service default/web spec.selector", "app=web"),
                Evidence(
                    "Event",
                    "default/web-7c9d8-x2k4q.17a3b2c1",
                    'Readiness probe failed: HTTP probe failed with statuscode: 503\nbody: {"status": "starting"}\n'
                    "waiting for `db` | cache",
                ),
            ),
            fix=Fix(
                "Find why the pods are not ready (failing readiness probe, crash loop, pending scheduling).",
                (shell.command("kubectl", "describe", "pod", "-n", "default", "web-7c9d8-x2k4q"),),
            ),
            docs=("https://kubernetes.io/docs/tasks/debug/debug-application/debug-service/",),
        ),
        Finding(
            id="lb.no-readiness-probe",
            severity=Severity.WARNING,
            title="Selected pods have no readiness probe",
            resource="Deployment default/web",
            cause="Container web has no readiness probe: a pod that is <not ready> still gets traffic.",
            evidence=(Evidence("Pod", "Pod default/web-7c9d8-x2k4q spec.containers[web].readinessProbe", "<none>"),),
            fix=Fix(
                "Add a readiness probe to the web container.",
                (
                    shell.command(
                        "kubectl",
                        "patch",
                        "deployment",
                        "web",
                        "-n",
                        "default",
                        "--type",
                        "json",
                        "-p",
                        json.dumps(PATCH),
                    ),
                ),
            ),
        ),
    ]
    azure_off = "Azure data not available (--no-azure)"
    checks = [
        CheckOutcome("lb.annotation-invalid", Status.PASSED),
        CheckOutcome("lb.auth-failed", Status.FAILED),
        CheckOutcome("lb.basic-sku", Status.SKIPPED, azure_off),
        CheckOutcome("lb.etp-local", Status.NOT_APPLICABLE, "externalTrafficPolicy is Cluster"),
        CheckOutcome("lb.ilb-hairpin", Status.NOT_APPLICABLE, "Service is not internal"),
        CheckOutcome("lb.ilb-subnet", Status.NOT_APPLICABLE, "Service is not internal"),
        CheckOutcome("lb.no-endpoints", Status.FAILED),
        CheckOutcome("lb.no-readiness-probe", Status.FAILED),
        CheckOutcome("lb.nsg-blocks-traffic", Status.SKIPPED, azure_off),
        CheckOutcome("lb.pending", Status.PASSED),
        CheckOutcome("lb.probe-mismatch", Status.SKIPPED, "internal error: KeyError: 'port|protocol'"),
        CheckOutcome("node.excluded-from-lb", Status.PASSED),
        CheckOutcome("node.not-cloud-initialized", Status.PASSED),
    ]
    return Report(
        target=Target("service", "prod-aks", "default", "web"),
        captured_at="2026-11-27T10:00:00Z",
        findings=findings,
        checks=checks,
        notes=["ignored 1 unrecognised snapshot file(s): extra/readme.txt"],
        tool_version="0.1.0",
    )


def cluster_report() -> Report:
    """The whole cluster: one check failing for two Services, cluster checks, every status."""
    no_endpoints = [
        Finding(
            id="lb.no-endpoints",
            severity=Severity.ERROR,
            title="Service has no ready endpoints",
            resource=f"Service {key}",
            cause=f"The selector app={key.split('/')[1]} matches no pod in namespace {key.split('/')[0]}.",
            evidence=(Evidence("Service", key, f"spec.selector: app={key.split('/')[1]}"),),
            fix=Fix(
                "Make the selector match the pods' labels (or deploy the pods).",
                (shell.command("kubectl", "get", "pods", "-n", key.split("/")[0], "--show-labels"),),
            ),
        )
        for key in ("default/web", "shop/cart")
    ]
    findings = [
        *no_endpoints,
        Finding(
            id="identity.sp-expired",
            severity=Severity.WARNING,
            title="Service principal secret expires soon",
            resource=f"Application {APP_ID}",
            cause="The cluster's service principal secret expires on 2026-12-10, in 13 days.",
            evidence=(
                Evidence("Graph", f"application/{APP_ID}", "passwordCredentials[0].endDateTime: 2026-12-10T00:00:00Z"),
            ),
            fix=Fix("Rotate the secret before it expires.", (), action="reset-sp-credential"),
            docs=("https://learn.microsoft.com/azure/aks/update-credentials",),
        ),
        Finding(
            id="identity.service-principal",
            severity=Severity.INFO,
            title="Cluster uses a service principal",
            resource="cluster prod-aks",
            cause="Managed identities have no secret to expire; a service principal does.",
            docs=("https://learn.microsoft.com/azure/aks/use-managed-identity",),
        ),
    ]
    checks = [
        CheckOutcome("identity.service-principal", Status.FAILED),
        CheckOutcome("identity.sp-expired", Status.FAILED),
        CheckOutcome("lb.ilb-subnet", Status.NOT_APPLICABLE, "Service is not internal"),
        CheckOutcome("lb.no-endpoints", Status.FAILED, "2 of 5 Services"),
        CheckOutcome("lb.pending", Status.PASSED, "skipped for 1: forbidden: events"),
        CheckOutcome("tunnel.unhealthy", Status.SKIPPED, "forbidden: cannot list pods in namespace kube-system"),
    ]
    return Report(
        target=Target("cluster", "prod-aks"),
        captured_at="2026-11-27T10:00:00Z",
        findings=findings,
        checks=checks,
        tool_version="0.1.0",
    )


REPORTS = {"service": service_report, "cluster": cluster_report}


def assert_golden(name: str, text: str) -> None:
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
        return
    assert golden.exists(), f"no golden {golden}: run with UPDATE_GOLDEN=1"
    if name.endswith(".json"):
        assert json.loads(text) == json.loads(golden.read_text(encoding="utf-8"))
    else:
        assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("scope", REPORTS)
@pytest.mark.parametrize(("fmt", "ext"), [("table", "txt"), ("markdown", "md"), ("json", "json")])
def test_golden(scope: str, fmt: str, ext: str) -> None:
    assert_golden(f"{fmt}_{scope}.{ext}", render(REPORTS[scope](), fmt))


def test_packet_path_golden() -> None:
    table = render(service_report(), "table")
    block = table.split("\n\n")[1]
    assert block.startswith("Packet path\n")
    assert_golden("path_service.txt", block + "\n")


def test_packet_path_verdicts() -> None:
    hops = {h.name: (h.verdict, h.detail) for h in path.hops(service_report())}
    assert list(hops) == [name for name, _ in path.HOPS]
    assert hops["Service"] == (path.Verdict.FAILED, "Cloud provider identity cannot sign in (lb.auth-failed)")
    assert hops["Frontend"] == (path.Verdict.UNJUDGED, "not applicable: Service is not internal")
    assert hops["Rule"] == (path.Verdict.UNJUDGED, "not checked")
    assert hops["Probe"][0] is path.Verdict.UNKNOWN
    assert hops["Probe"][1].startswith("lb.probe-mismatch skipped: internal error")
    assert hops["Backend pool"] == (path.Verdict.PASSED, "1 check passed")
    assert hops["NSG"] == (path.Verdict.UNKNOWN, "lb.nsg-blocks-traffic skipped: Azure data not available (--no-azure)")
    assert hops["Pod"] == (path.Verdict.FAILED, "Service has no ready endpoints (lb.no-endpoints) (+1 more)")


def test_cluster_table_has_no_packet_path() -> None:
    assert "Packet path" not in render(cluster_report(), "table")


def test_table_keeps_commands_whole_and_lines_within_width() -> None:
    report = service_report()
    commands = [c for f in report.findings if f.fix for c in f.fix.commands]
    for width in (60, 100, 160):
        lines = render(report, "table", width=width).splitlines()
        stripped = [line.strip() for line in lines]
        for command in commands:
            assert f"$ {command}" in stripped
        for line in lines:
            if "$ " not in line and "https://" not in line:
                assert len(line) <= width, line


def test_table_shows_evidence_exactly_and_cuts_long_details() -> None:
    wide = render(service_report(), "table", width=160)
    assert "17a3b2c1: Readiness probe failed: HTTP probe failed with statuscode: 503\n" in wide
    assert "\n                " + 'body: {"status": "starting"}\n' in wide
    assert "\n                waiting for `db` | cache\n" in wide  # every line of a multi-line detail, as captured
    table = render(service_report(), "table")
    assert "Event default/web.17a3b2c1d0e9f8a7: Error syncing load balancer" in table
    assert "Service default/web spec.selector: app=web" in table  # the ref names the kind: not said twice
    assert "waiting for `db`" not in table  # the detail's first line wraps, so its third is cut at width 100
    assert "HTTPStatusCode: 401" in table
    assert "Correlation ID" not in table  # the long log line is cut to three lines
    assert " …\n" in table
    assert "-o json or -o yaml shows it in full" in table


def test_table_lists_skipped_checks_with_reasons_and_counts() -> None:
    table = render(service_report(), "table")
    assert "Checks  13 run: 3 failed, 4 passed, 3 skipped, 3 not-applicable" in table
    assert re.search(r"lb\.nsg-blocks-traffic +Azure data not available \(--no-azure\)", table)
    assert table.rstrip().endswith("Summary  1 critical, 1 error, 1 warning, 0 info")


def test_table_colour_only_when_asked() -> None:
    report = service_report()
    plain = render(report, "table")
    coloured = render(report, "table", color=True)
    assert "\033[" not in plain
    assert "\033[1;31mCRITICAL (1)\033[0m" in coloured
    assert "\033[33mWARNING (1)\033[0m" in coloured
    assert re.sub(r"\033\[[0-9;]*m", "", coloured) == plain


class FakeStream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("tty", "env", "expected"),
    [
        (True, {}, True),
        (False, {}, False),
        (True, {"NO_COLOR": "1"}, False),
        (True, {"NO_COLOR": "false"}, False),
        (True, {"TERM": "dumb"}, False),
        (True, {"TERM": "xterm-256color"}, True),
    ],
)
def test_should_color(monkeypatch: pytest.MonkeyPatch, tty: bool, env: dict[str, str], expected: bool) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert should_color(FakeStream(tty)) is expected


def test_should_color_without_isatty() -> None:
    assert should_color(object()) is False


@pytest.mark.parametrize("scope", REPORTS)
def test_yaml_is_the_json_document(scope: str) -> None:
    report = REPORTS[scope]()
    assert yaml.safe_load(render(report, "yaml")) == json.loads(render(report, "json")) == report.to_dict()


def test_markdown_escapes_table_cells_and_fences_multiline_evidence() -> None:
    md = render(service_report(), "markdown")
    table_rows = [line for line in md.splitlines() if line.startswith("| ")]
    for row in table_rows:
        cells = re.split(r"(?<!\\)\|", row)[1:-1]
        assert len(cells) in (2, 3), row
    assert "| `lb.probe-mismatch` | skipped | internal error: KeyError: 'port\\|protocol' |" in md
    assert "  ```\n  Readiness probe failed: HTTP probe failed with statuscode: 503\n" in md
    assert "- `Pod default/web-7c9d8-x2k4q spec.containers[web].readinessProbe`: `<none>`" in md
    assert "- Event `default/web.17a3b2c1d0e9f8a7`: `Error syncing load balancer" in md
    assert "a pod that is \\<not ready> still gets traffic" in md
    assert "```sh\n" + shell.command("kubectl", "describe", "pod", "-n", "default", "web-7c9d8-x2k4q") in md


# The parts of the SARIF 2.1.0 schema (https://json.schemastore.org/sarif-2.1.0.json) this output uses:
# required properties, enums and types, written out by hand so the test needs no network.
_MESSAGE = {"type": "object", "anyOf": [{"required": ["text"]}, {"required": ["id"]}]}
SARIF_SUBSET = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "$schema": {"type": "string", "format": "uri"},
        "version": {"enum": ["2.1.0"]},
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tool"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "version": {"type": "string"},
                                    "informationUri": {"type": "string", "format": "uri"},
                                    "rules": {
                                        "type": "array",
                                        "uniqueItems": True,
                                        "items": {
                                            "type": "object",
                                            "required": ["id"],
                                            "properties": {
                                                "id": {"type": "string"},
                                                "shortDescription": {"type": "object", "required": ["text"]},
                                                "helpUri": {"type": "string", "format": "uri"},
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "invocations": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["executionSuccessful"],
                            "properties": {
                                "executionSuccessful": {"type": "boolean"},
                                "toolExecutionNotifications": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["message"],
                                        "properties": {
                                            "message": _MESSAGE,
                                            "level": {"enum": ["none", "note", "warning", "error"]},
                                            "descriptor": {"type": "object", "required": ["id"]},
                                        },
                                    },
                                },
                            },
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message"],
                            "properties": {
                                "ruleId": {"type": "string"},
                                "ruleIndex": {"type": "integer", "minimum": -1},
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "message": _MESSAGE,
                                "locations": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "logicalLocations": {
                                                "type": "array",
                                                "items": {
                                                    "type": "object",
                                                    "properties": {
                                                        "name": {"type": "string"},
                                                        "kind": {"type": "string"},
                                                    },
                                                },
                                            }
                                        },
                                    },
                                },
                                "properties": {"type": "object"},
                            },
                        },
                    },
                    "properties": {"type": "object"},
                },
            },
        },
    },
}


@pytest.mark.parametrize("scope", REPORTS)
def test_sarif_structure(scope: str) -> None:
    report = REPORTS[scope]()
    doc = json.loads(render(report, "sarif"))
    assert doc["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert doc["version"] == "2.1.0"
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "aksdoctor"
    assert driver["version"] == "0.1.0"
    rule_ids = [r["id"] for r in driver["rules"]]
    assert rule_ids == [c.id for c in report.checks]
    assert len(run["results"]) == len(report.findings)
    for result, finding in zip(run["results"], report.findings, strict=True):
        assert result["ruleId"] == finding.id == rule_ids[result["ruleIndex"]]
        assert result["message"]["text"] == finding.cause
        assert result["locations"] == [{"logicalLocations": [{"name": finding.resource, "kind": "resource"}]}]
        assert result["properties"]["evidence"] == [e.to_dict() for e in finding.evidence]
        rule = driver["rules"][result["ruleIndex"]]
        assert rule["shortDescription"]["text"] == finding.title
        if finding.docs:
            assert rule["helpUri"] == finding.docs[0]
    assert [r["level"] for r in run["results"]] == [
        {"critical": "error", "error": "error", "warning": "warning", "info": "note"}[f.severity.label]
        for f in report.findings
    ]
    skipped = [c.id for c in report.checks if c.status is Status.SKIPPED]
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert [n["descriptor"]["id"] for n in notes] == skipped


@pytest.mark.parametrize("scope", REPORTS)
def test_sarif_matches_schema_subset(scope: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(json.loads(render(REPORTS[scope](), "sarif")), SARIF_SUBSET)


def test_sarif_levels_for_every_severity() -> None:
    report = service_report()
    report.findings.append(
        Finding("lb.etp-local", Severity.INFO, "Local traffic policy", "Service default/web", "by design")
    )
    results = json.loads(render(report, "sarif"))["runs"][0]["results"]
    assert [r["level"] for r in results] == ["error", "error", "warning", "note"]


@pytest.mark.parametrize("scope", REPORTS)
def test_junit_parses_with_counts(scope: str) -> None:
    report = REPORTS[scope]()
    root = ET.fromstring(render(report, "junit"))
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "aksdoctor"
    statuses = [c.status for c in report.checks]
    assert int(suite.get("tests")) == len(statuses)
    assert int(suite.get("failures")) == statuses.count(Status.FAILED)
    assert int(suite.get("skipped")) == statuses.count(Status.SKIPPED) + statuses.count(Status.NOT_APPLICABLE)
    assert suite.get("errors") == "0"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [c.id for c in report.checks]
    assert {c.get("classname") for c in cases} == {f"aksdoctor.{scope}"}
    for case, outcome in zip(cases, report.checks, strict=True):
        children = [child.tag for child in case]
        expected = {Status.FAILED: ["failure"], Status.PASSED: []}.get(outcome.status, ["skipped"])
        assert children == expected, outcome.id


def test_junit_failure_and_skip_text() -> None:
    suite = ET.fromstring(render(cluster_report(), "junit")).find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    failure = cases["lb.no-endpoints"].find("failure")
    assert failure.get("message") == "Service has no ready endpoints"
    assert failure.get("type") == "error"
    assert "[error] Service default/web:" in failure.text
    assert "[error] Service shop/cart:" in failure.text
    assert "$ kubectl get pods -n shop --show-labels" in failure.text
    skipped = cases["tunnel.unhealthy"].find("skipped")
    assert skipped.get("message") == "skipped: forbidden: cannot list pods in namespace kube-system"
    assert cases["lb.ilb-subnet"].find("skipped").get("message") == "not applicable: Service is not internal"
    properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert properties == {"scope": "cluster", "cluster": "prod-aks", "capturedAt": "2026-11-27T10:00:00Z"}


def test_unknown_format_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as err:
        render(service_report(), "html")
    message = str(err.value)
    assert "\n" not in message
    assert "'html'" in message
    assert ", ".join(FORMATS) in message


@pytest.mark.parametrize("scope", REPORTS)
def test_every_format_renders_an_empty_report(scope: str) -> None:
    assert FORMATS == ("table", "json", "yaml", "markdown", "sarif", "junit")
    empty = Report(Target(scope, "", "default", "web"), captured_at="")
    for fmt in FORMATS:
        assert render(empty, fmt).endswith("\n")
    assert "Summary  no findings" in render(empty, "table")


def test_importing_render_loads_no_yaml_or_xml() -> None:
    code = (
        "import sys\n"
        "import aksdoctor.render\n"
        "heavy = [m for m in ('yaml', 'xml.etree.ElementTree') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
