"""The engine: check selection, fact prefetch, isolation of crashing checks, outcomes, yielding checks."""

from __future__ import annotations

import pytest
from builders import findings, outcome, pod, run_snapshot, service, write_snapshot

from aksdoctor import engine
from aksdoctor.checks import all_checks
from aksdoctor.checks.base import REGISTRY, NotApplicable, check
from aksdoctor.errors import UsageError


@pytest.fixture
def scratch_checks():
    """Register throwaway checks for one test, then restore the real catalog."""
    all_checks()
    saved = dict(REGISTRY)
    yield
    REGISTRY.clear()
    REGISTRY.update(saved)


def test_select_checks_by_glob_and_skip():
    chosen = [c.id for c in engine.select_checks("service", include=["lb.*"], exclude=["lb.pending"])]
    assert chosen and all(c.startswith("lb.") for c in chosen)
    assert "lb.pending" not in chosen
    assert "version.unsupported" not in [c.id for c in engine.select_checks("service")]
    assert "version.unsupported" in [c.id for c in engine.select_checks("cluster")]


def test_unknown_check_id_is_a_usage_error():
    with pytest.raises(UsageError, match=r"unknown check id 'lb\.nope'"):
        engine.select_checks("cluster", include=["lb.nope"])


def test_crashing_check_becomes_visible_skip(tmp_path, scratch_checks):
    @check(id="test.crash", title="crashes", severity="error", scope="service", needs=("services",))
    def crash(ctx):
        raise ZeroDivisionError("boom")

    report = run_snapshot(write_snapshot(tmp_path, [service()]), service="default/web")
    assert outcome(report, "test.crash") == ("skipped", "internal error: ZeroDivisionError: boom")
    assert outcome(report, "lb.annotation-invalid")[0] == "passed"


def test_undeclared_fact_is_caught(tmp_path, scratch_checks):
    @check(id="test.sneaky", title="reads pods", severity="error", scope="service", needs=("services",))
    def sneaky(ctx):
        return ctx.pods

    report = run_snapshot(write_snapshot(tmp_path, [service(), pod("web-1")]), service="default/web")
    status, reason = outcome(report, "test.sneaky")
    assert status == "skipped"
    assert "undeclared fact 'pods'" in reason


def test_missing_fact_skips_with_its_reason(tmp_path, scratch_checks):
    @check(id="test.nodes", title="needs nodes", severity="error", scope="cluster", needs=("nodes",))
    def needs_nodes(ctx):
        return []

    report = run_snapshot(write_snapshot(tmp_path, [service()]))
    assert outcome(report, "test.nodes") == ("skipped", "not in snapshot: nodes")


def test_cluster_scope_tallies_service_outcomes(tmp_path, scratch_checks):
    @check(id="test.odd", title="odd", severity="warning", scope="service", needs=("services",))
    def odd(ctx):
        if ctx.service["metadata"]["name"] == "b":
            raise NotApplicable("not for b")
        if ctx.service["metadata"]["name"] == "a":
            yield ctx.finding("a is odd")

    snap = write_snapshot(tmp_path, [service("a"), service("b"), service("c")])
    report = run_snapshot(snap)
    assert outcome(report, "test.odd") == ("failed", "1 of 3 Services")
    assert [f.resource for f in findings(report, "test.odd")] == ["Service default/a"]


def test_yielding_check_gives_way_to_a_more_specific_error(tmp_path, scratch_checks):
    @check(id="test.specific", title="specific", severity="error", scope="service", needs=("services",))
    def specific(ctx):
        yield ctx.finding("the real cause")

    @check(
        id="test.generic",
        title="generic",
        severity="error",
        scope="service",
        needs=("services",),
        yields_to=("test.specific",),
    )
    def generic(ctx):
        yield ctx.finding("something is wrong")

    report = run_snapshot(write_snapshot(tmp_path, [service()]), service="default/web")
    assert outcome(report, "test.generic") == ("not-applicable", "explained by test.specific")
    assert findings(report, "test.generic") == []
    assert len(findings(report, "test.specific")) == 1
