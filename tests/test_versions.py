"""Version parsing, range semantics, the known-bug table and AKS support status (aksdoctor.versions)."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timezone

import pytest

from aksdoctor import knowledge
from aksdoctor.versions import (
    SUPPORT_STATES,
    KnownIssue,
    KubeVersion,
    Verdict,
    affected_issues,
    known_issues,
    parse_range,
    parse_version,
    support_status,
    uncertain_issues,
)


def v(text: str) -> KubeVersion:
    parsed = parse_version(text)
    assert parsed is not None, text
    return parsed


def issue(issue_id: str) -> KnownIssue:
    return next(i for i in known_issues() if i.id == issue_id)


# --- parsing -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v1.29.4", KubeVersion(1, 29, 4)),
        ("1.31.2", KubeVersion(1, 31, 2)),
        ("  v1.31.2\n", KubeVersion(1, 31, 2)),
        ("v1.30.3-gke.1", KubeVersion(1, 30, 3)),  # distribution build, not a pre-release
        ("v1.29.4-eks-036c24b", KubeVersion(1, 29, 4)),
        ("v1.28.5+k3s1", KubeVersion(1, 28, 5)),
        ("1.10.0-beta.1", KubeVersion(1, 10, 0, "beta.1")),
        ("v1.31.0-alpha.3.123+0123abcd", KubeVersion(1, 31, 0, "alpha.3.123")),
        ("v1.27.0-rc.2", KubeVersion(1, 27, 0, "rc.2")),
        ("v1.33", KubeVersion(1, 33, None)),
        ("1.9", KubeVersion(1, 9)),
    ],
)
def test_parse_version(text: str, expected: KubeVersion) -> None:
    assert parse_version(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        None,
        123,
        1.3,
        "",
        "   ",
        "latest",
        "1",
        "v",
        "1.2.3.4",
        "1.2.x",
        "1..2",
        "v1.2.3-",
        "1.10.0-beta pre-releases",
        "１.２.３",  # non-ASCII digits
        "99999999999999999999.1.1",
        "9" * 5000 + ".1.1",
    ],
)
def test_parse_version_garbage_is_none(text: object) -> None:
    assert parse_version(text) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "shown", "series"),
    [
        ("v1.29.4", "1.29.4", "1.29"),
        ("1.10.0-beta.1", "1.10.0-beta.1", "1.10"),
        ("v1.33", "1.33", "1.33"),
        ("v1.28.5+k3s1", "1.28.5", "1.28"),
    ],
)
def test_str_and_series(text: str, shown: str, series: str) -> None:
    assert str(v(text)) == shown
    assert v(text).series == series


def test_ordering_is_numeric_and_prereleases_come_first() -> None:
    ordered = [
        "1.8.15",
        "1.9.0",
        "1.9.10",
        "1.10",  # minor-only sorts before every patch of its minor
        "1.10.0-alpha.1",
        "1.10.0-beta.0",
        "1.10.0-beta.2",
        "1.10.0-beta.10",
        "1.10.0-rc.1",
        "1.10.0",
        "1.10.1",
        "1.10.10",
        "2.0.0",
    ]
    versions = [v(t) for t in ordered]
    assert sorted(reversed(versions)) == versions
    for a, b in itertools.pairwise(versions):
        assert a < b and b > a and a <= b and a != b


@pytest.mark.parametrize(("a", "b"), [("1.9.0", "1.10.0"), ("1.9", "1.10"), ("1.2.9", "1.2.10")])
def test_not_string_order(a: str, b: str) -> None:
    assert v(a) < v(b)


def test_vendor_suffix_equals_release() -> None:
    assert v("v1.30.3-gke.1") == v("1.30.3") == v("v1.30.3+k3s1")
    assert len({v("v1.30.3-gke.1"), v("1.30.3")}) == 1


def test_compare_with_other_types() -> None:
    assert v("1.2.3") != "1.2.3"
    with pytest.raises(TypeError):
        _ = v("1.2.3") < "1.2.4"  # type: ignore[operator]


# --- ranges --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "version", "inside"),
    [
        # comparators, all must hold
        (">=1.9.0 <1.9.4", "1.8.15", False),
        (">=1.9.0 <1.9.4", "1.9.0", True),
        (">=1.9.0 <1.9.4", "1.9.3", True),
        (">=1.9.0 <1.9.4", "1.9.4", False),
        (">=1.9.0 <1.9.4", "1.10.0", False),
        (">= 1.9.0, <= 1.8.1", "1.8.1", True),  # comma is a union
        ("<1.9", "1.8.99", True),
        ("<1.9", "1.9.0", False),
        ("<1.9", "1.9.0-beta.1", True),
        ("<1.9", "1.10.0", False),
        ("<1.9 (reported on 1.7.7 and 1.8.x)", "1.7.7", True),
        ("<1.9 (reported on 1.7.7 and 1.8.x)", "1.19.0", False),
        # comma-separated closed intervals
        ("1.11.0-1.11.9, 1.12.0-1.12.8", "1.11.0", True),
        ("1.11.0-1.11.9, 1.12.0-1.12.8", "1.11.9", True),
        ("1.11.0-1.11.9, 1.12.0-1.12.8", "1.11.10", False),
        ("1.11.0-1.11.9, 1.12.0-1.12.8", "1.12.8", True),
        ("1.11.0-1.11.9, 1.12.0-1.12.8", "1.12.9", False),
        ("1.11.0-1.11.9, 1.12.0-1.12.8", "1.13.0", False),
        ("1.11.0-1.11.9", "1.11.0-rc.1", False),
        ("1.11.0 - 1.11.9", "1.11.5", True),
        # single versions among intervals
        ("1.14.10, 1.15.7-1.15.9", "1.14.10", True),
        ("1.14.10, 1.15.7-1.15.9", "1.14.9", False),
        ("1.14.10, 1.15.7-1.15.9", "1.14.11", False),
        ("1.14.10, 1.15.7-1.15.9", "1.15.6", False),
        ("1.14.10, 1.15.7-1.15.9", "1.15.8", True),
        # pre-releases
        ("1.10.0-beta pre-releases", "1.10.0-beta.0", True),
        ("1.10.0-beta pre-releases", "1.10.0-beta.4", True),
        ("1.10.0-beta pre-releases", "1.10.0-alpha.3", False),
        ("1.10.0-beta pre-releases", "1.10.0", False),
        ("1.10.0-beta pre-releases", "1.10.1", False),
        ("1.10.0 pre-releases", "1.10.0-rc.1", True),
        ("1.10.0-beta.1-1.10.0-rc.1", "1.10.0-beta.2", True),
        ("1.10.0-beta.1-1.10.0-rc.1", "1.10.0", False),
    ],
)
def test_range_forms(text: str, version: str, inside: bool) -> None:
    rng = parse_range(text)
    assert rng is not None
    assert rng.contains(v(version)) is inside


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "reported on 1.20.15 (VMAS)",
        "UNVERIFIED",
        "1.19.x/1.20.0",
        "1.15",  # a bare minor is too vague
        "1.11-1.12",
        "1.11.9-1.11.0",  # reversed interval
        ">=1.9.0 garbage",
        "1.9.0,",
        "<",
        "some 1.22/1.23",
    ],
)
def test_unparseable_ranges(text: str | None) -> None:
    assert parse_range(text) is None


@pytest.mark.parametrize(
    ("text", "minor", "expected"),
    [
        ("1.15.7-1.15.9", "1.15", None),  # depends on the patch
        ("1.15.7-1.15.9", "1.16", False),
        ("<1.9", "1.8", True),
        ("<1.9", "1.9", False),
        (">=1.9.0 <1.9.4", "1.9", None),
    ],
)
def test_range_with_minor_only_version(text: str, minor: str, expected: bool | None) -> None:
    rng = parse_range(text)
    assert rng is not None
    assert rng.contains(v(minor)) is expected


# --- fixed_in semantics (own fixtures) -------------------------------------------------------------------------

FIXED_ONLY = KnownIssue(id="t-fixed", title="t", refs=("r",), fixed_in=("1.15.10", "1.16.7", "1.17.3", "1.18.0"))
GAP = KnownIssue(id="t-gap", title="t", refs=("r",), fixed_in=("1.16.14", "1.19.0"))
AFFECTED_WINS = KnownIssue(
    id="t-aff", title="t", refs=("r",), affected="1.15.8-1.15.11", fixed_in=("1.15.12", "1.16.9")
)
VARIANTS = KnownIssue(
    id="t-var",
    title="t",
    refs=("r",),
    fixed_in_variants={"basic": ("1.14.7", "1.15.4", "1.16.0"), "standard": ("1.15.12", "1.16.9")},
)


@pytest.mark.parametrize(
    ("known", "version", "expected"),
    [
        (FIXED_ONLY, "1.14.99", Verdict.AFFECTED),  # below the lowest listed minor, no affected range
        (FIXED_ONLY, "1.15.9", Verdict.AFFECTED),
        (FIXED_ONLY, "1.15.10", Verdict.NOT_AFFECTED),
        (FIXED_ONLY, "1.15.10-rc.1", Verdict.AFFECTED),
        (FIXED_ONLY, "1.16.6", Verdict.AFFECTED),
        (FIXED_ONLY, "1.16.7", Verdict.NOT_AFFECTED),
        (FIXED_ONLY, "1.18.0-beta.1", Verdict.AFFECTED),
        (FIXED_ONLY, "1.18.0", Verdict.NOT_AFFECTED),
        (FIXED_ONLY, "1.19.0", Verdict.NOT_AFFECTED),  # above the highest listed minor
        (FIXED_ONLY, "1.33.1", Verdict.NOT_AFFECTED),
        (FIXED_ONLY, "1.16", Verdict.UNKNOWN),  # minor-only, fix mid-minor
        (FIXED_ONLY, "1.18", Verdict.NOT_AFFECTED),  # minor-only, fixed from .0
        (FIXED_ONLY, "1.14", Verdict.AFFECTED),
        (GAP, "1.16.13", Verdict.AFFECTED),
        (GAP, "1.16.14", Verdict.NOT_AFFECTED),
        (GAP, "1.17.5", Verdict.UNKNOWN),  # between listed minors: backport not recorded
        (GAP, "1.18.20", Verdict.UNKNOWN),
        (GAP, "1.19.0", Verdict.NOT_AFFECTED),
        (GAP, "1.15.3", Verdict.AFFECTED),
        (AFFECTED_WINS, "1.14.5", Verdict.NOT_AFFECTED),  # fixed_in alone would say affected
        (AFFECTED_WINS, "1.15.8", Verdict.AFFECTED),
        (AFFECTED_WINS, "1.15.12", Verdict.NOT_AFFECTED),
        (AFFECTED_WINS, "1.16.0", Verdict.NOT_AFFECTED),
        (VARIANTS, "1.14.0", Verdict.AFFECTED),  # both variants agree
        (VARIANTS, "1.16.5", Verdict.UNKNOWN),  # fixed on Basic, not on Standard
        (VARIANTS, "1.17.0", Verdict.NOT_AFFECTED),
    ],
)
def test_fixed_in_semantics(known: KnownIssue, version: str, expected: Verdict) -> None:
    assert known.verdict(v(version)) is expected


@pytest.mark.parametrize(
    "known",
    [
        KnownIssue(id="t", title="t", refs=("r",), fixed_in=("1.19.x/1.20.0",)),
        KnownIssue(id="t", title="t", refs=("r",), fixed_in=("1.16.14", "later")),  # half-understood list
        KnownIssue(id="t", title="t", refs=("r",), fixed_in=("1.16.14", "1.16.15")),  # two fixes for one minor
        KnownIssue(id="t", title="t", refs=("r",), affected="reported on 1.20.15", fixed_in=("1.21.0",)),
        KnownIssue(id="t", title="t", refs=("r",), affected=">=1.9.0 <1.9.4", verified=False),
        KnownIssue(id="t", title="t", refs=("r",)),  # no version data at all
    ],
)
def test_cannot_tell_is_never_a_match(known: KnownIssue) -> None:
    for text in ["1.8.0", "1.9.0", "1.9.3", "1.16.13", "1.19.9", "1.20.15", "1.21.0", "1.33.2", "1.19"]:
        assert known.verdict(v(text)) is Verdict.UNKNOWN


@pytest.mark.parametrize(
    ("row", "verified"),
    [
        ({"confidence": "unverified", "fixed_in": ["1.20.0"]}, False),
        ({"fixed_in": ["UNVERIFIED (2022, v1.24.x)"]}, False),
        ({"affected": "1.20.0-1.20.3 unverified"}, False),
        ({"fixed_in_variants": {"a": ["1.2.3 UNVERIFIED"]}}, False),
        ({"fixed_in": ["1.20.0"]}, True),
        ({"fixed_in": ["1.20.0"], "note": "UNVERIFIED elsewhere does not count"}, True),
    ],
)
def test_from_dict_verified_flag(row: dict[str, object], verified: bool) -> None:
    known = KnownIssue.from_dict({"id": "t", "title": "t", "refs": ["r"], **row})
    assert known.verified is verified
    if not verified:
        assert known.verdict(v("1.20.1")) is Verdict.UNKNOWN


def test_from_dict_keeps_other_fields() -> None:
    known = KnownIssue.from_dict(
        {"id": "t", "title": "t", "refs": "r", "fixed_in": ["1.2.3"], "introduced": "x", "perf_followup": {"a": 1}}
    )
    assert known.refs == ("r",)
    assert known.extra == {"introduced": "x", "perf_followup": {"a": 1}}


# --- the packaged table --------------------------------------------------------------------------------------

ALL = known_issues()
BY_ID = {i.id: i for i in ALL}


def test_table_loads_whole_and_unique() -> None:
    rows = knowledge.load("known_issues")["issues"]
    assert len(ALL) == len(rows) == 24
    assert len(BY_ID) == len(ALL)


@pytest.mark.parametrize("known", ALL, ids=lambda i: i.id)
def test_every_entry_is_well_formed(known: KnownIssue) -> None:
    assert known.id and known.title
    assert known.refs and all(r.startswith("https://") for r in known.refs)
    assert all(p.startswith("https://") for p in known.fix_prs)
    assert all(isinstance(s, str) for s in (*known.fixed_in, *known.error_codes))
    # every verified, parseable entry agrees with itself: no fixed_in version is inside its affected range
    rng = parse_range(known.affected)
    if rng is not None:
        for text in known.fixed_in:
            fixed = parse_version(text)
            assert fixed is None or rng.contains(fixed) is False, text


UNVERIFIED_IDS = {
    "pip-rg-annotation-empty",
    "unmanaged-removed-from-lb-1.20.15",
    "instance-not-found-ensurehostinpool",
    "cnm-empty-providerid",
    "vmss-scale-from-zero-not-in-pool",
    "ipv6-ilb-floating-ip",
}
SWEEP = [f"1.{minor}.{patch}" for minor in range(6, 40) for patch in (0, 1, 4, 9, 10, 15, 30)] + [
    "1.10.0-beta.1",
    "1.20",
    "1.33",
]


def test_unverified_entries_are_flagged() -> None:
    assert {i.id for i in ALL if not i.verified} == UNVERIFIED_IDS


@pytest.mark.parametrize("issue_id", sorted(UNVERIFIED_IDS))
def test_unverified_entries_never_match(issue_id: str) -> None:
    known = BY_ID[issue_id]
    for text in SWEEP:
        assert known.verdict(v(text)) is Verdict.UNKNOWN
        assert known not in affected_issues(v(text))
    assert known in uncertain_issues(v("1.20.15"))


@pytest.mark.parametrize(
    "issue_id",
    ["orphan-pip-after-ccm-restart", "lb-delete-missing-rg", "http-probe-appprotocol", "excludemaster-doc-mismatch"],
)
def test_entries_without_readable_versions_never_match(issue_id: str) -> None:
    assert all(BY_ID[issue_id].verdict(v(text)) is Verdict.UNKNOWN for text in SWEEP)


@pytest.mark.parametrize(
    ("issue_id", "version", "expected"),
    [
        ("pip-dns-label-removed", "1.15.9", Verdict.AFFECTED),
        ("pip-dns-label-removed", "1.15.10", Verdict.NOT_AFFECTED),
        ("pip-dns-label-removed", "1.14.10", Verdict.AFFECTED),
        ("pip-dns-label-removed", "1.14.11", Verdict.NOT_AFFECTED),
        ("pip-dns-label-removed", "1.16.6", Verdict.AFFECTED),
        ("pip-dns-label-removed", "1.16.7", Verdict.NOT_AFFECTED),
        ("pip-dns-label-removed", "1.18.0", Verdict.NOT_AFFECTED),
        ("pip-dns-label-removed", "1.16", Verdict.UNKNOWN),
        ("instance-not-found-recreated-node", "1.16.13", Verdict.AFFECTED),
        ("instance-not-found-recreated-node", "1.16.14", Verdict.NOT_AFFECTED),
        ("instance-not-found-recreated-node", "1.17.9", Verdict.UNKNOWN),  # fixed_in_unverified backport
        ("instance-not-found-recreated-node", "1.19.0", Verdict.NOT_AFFECTED),
        ("unmanaged-nodes-in-vmss-pool", "1.16.13", Verdict.AFFECTED),
        ("unmanaged-nodes-in-vmss-pool", "1.16.14", Verdict.NOT_AFFECTED),
        ("unmanaged-nodes-in-vmss-pool", "1.20.0", Verdict.NOT_AFFECTED),
        ("nsg-source-address-prefixes-v18", "1.8.7", Verdict.AFFECTED),
        ("nsg-source-address-prefixes-v18", "1.9.0", Verdict.NOT_AFFECTED),
        ("ilb-empty-backend-pool-1.9", "1.9.3", Verdict.AFFECTED),
        ("ilb-empty-backend-pool-1.9", "1.9.4", Verdict.NOT_AFFECTED),
        ("ilb-empty-backend-pool-1.9", "1.8.0", Verdict.NOT_AFFECTED),
        ("msi-useManagedIdentityExtension-ignored", "1.10.0-beta.3", Verdict.AFFECTED),
        ("msi-useManagedIdentityExtension-ignored", "1.10.0", Verdict.NOT_AFFECTED),
        ("msi-useManagedIdentityExtension-ignored", "1.9.8", Verdict.NOT_AFFECTED),
        ("vmss-manual-upgrade-restarts-all", "1.13.5", Verdict.AFFECTED),
        ("vmss-manual-upgrade-restarts-all", "1.13.6", Verdict.NOT_AFFECTED),
        ("vmss-manual-upgrade-restarts-all", "1.10.12", Verdict.NOT_AFFECTED),
        ("vmss-cache-inconsistent", "1.14.5", Verdict.NOT_AFFECTED),
        ("vmss-cache-inconsistent", "1.17.4", Verdict.AFFECTED),
        ("vmss-backend-lost-on-latest-model", "1.14.6", Verdict.AFFECTED),
        ("vmss-backend-lost-on-latest-model", "1.16.5", Verdict.UNKNOWN),  # depends on LB SKU
        ("vmss-backend-lost-on-latest-model", "1.18.1", Verdict.NOT_AFFECTED),
        ("ilb-subnet-annotation-empty", "1.13.4", Verdict.AFFECTED),
        ("ilb-subnet-annotation-empty", "1.14.0", Verdict.NOT_AFFECTED),
    ],
)
def test_packaged_entries(issue_id: str, version: str, expected: Verdict) -> None:
    assert BY_ID[issue_id].verdict(v(version)) is expected


def test_modern_cluster_has_no_confident_known_issue() -> None:
    assert affected_issues(v("v1.33.2")) == []
    assert {i.id for i in uncertain_issues(v("v1.33.2"))} >= UNVERIFIED_IDS


def test_affected_issues_lists_each_match() -> None:
    ids = {i.id for i in affected_issues(v("1.15.9"))}
    assert {"pip-dns-label-removed", "vmss-cache-inconsistent", "route-table-concurrent-update"} <= ids
    assert not ids & UNVERIFIED_IDS


# --- AKS support status --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "now", "state"),
    [
        ("1.34", date(2026, 10, 15), "supported"),
        ("1.34", date(2026, 11, 30), "supported"),  # "Nov 2026" = last day of November
        ("1.36", date(2026, 11, 15), "supported"),
        ("1.37", date(2026, 11, 1), "supported"),
        ("1.37", date(2026, 10, 10), "preview/unknown"),  # GA "Oct 2026" is not certain before month end
        ("1.30", date(2025, 8, 22), "supported"),  # exact end-of-life date
        ("1.30", date(2025, 8, 23), "platform-support"),
        ("1.33", date(2026, 8, 21), "platform-support"),  # past end of life, N-3 of 1.36
        ("1.33", date(2026, 11, 15), "lts-only"),  # N-4 once 1.37 is GA; LTS until Jul 2027
        ("1.31", date(2026, 11, 27), "lts-only"),  # LTS until Nov 2026
        ("1.29", date(2026, 3, 15), "lts-only"),
        ("1.29", date(2026, 11, 27), "end-of-life"),  # LTS ended Apr 2026
        ("1.32", date(2027, 4, 15), "end-of-life"),
        ("1.24", date(2026, 8, 21), "end-of-life"),
        ("1.10", date(2026, 8, 21), "end-of-life"),  # older than the calendar
        ("1.40", date(2026, 11, 1), "preview/unknown"),
        ("2.0", date(2026, 11, 1), "preview/unknown"),
        ("1.37", date(2028, 1, 1), "lts-only"),  # calendar outdated: dates decide, no N-3 guess
        ("1.37", date(2029, 1, 1), "end-of-life"),
    ],
)
def test_support_status(minor: str, now: date, state: str) -> None:
    status = support_status(v(minor), now)
    assert status.state == state
    assert status.state in SUPPORT_STATES
    assert status.minor == minor
    assert status.message


def test_support_status_fields_and_datetime_now() -> None:
    status = support_status(v("v1.31.4"), datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc))
    assert status.state == "lts-only"
    assert status.ga == date(2024, 11, 30)
    assert status.end_of_life == date(2025, 11, 1)
    assert status.lts_end == date(2026, 11, 30)
    assert "Premium" in status.message and "2026-11-30" in status.message


def test_support_status_messages_point_to_upgrade() -> None:
    assert "Upgrade to 1.34 or later" in support_status(v("1.24.9"), date(2026, 8, 21)).message
    assert "platform support" in support_status(v("1.33"), date(2026, 8, 21)).message
    unknown = support_status(v("1.40.0"), date(2026, 11, 1))
    assert (unknown.ga, unknown.end_of_life, unknown.lts_end) == (None, None, None)


def test_calendar_rows_cover_old_and_new_minors() -> None:
    rows = knowledge.load("aks_versions")
    minors = [r["minor"] for r in rows["releases"]]
    assert all(isinstance(m, str) for m in minors)  # "1.30" must not become the float 1.3
    assert {f"1.{n}" for n in range(27, 38)} <= set(minors)
    assert rows["policy"] == {"supported_minors": 3, "platform_support_minors": 1}
