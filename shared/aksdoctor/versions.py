"""Kubernetes versions: parsing, which known cloud-provider bugs a version has, and its AKS support status.

The knowledge is data (knowledge/known_issues.yaml, knowledge/aks_versions.yaml); this module only reads it.
Versions are always compared numerically (1.9 < 1.10), never as strings.
"""

from __future__ import annotations

import calendar
import enum
import functools
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from typing import Any

from aksdoctor import knowledge

_NUM = r"[0-9]{1,9}"  # ASCII only, and short enough that int() can never fail
_VERSION_RE = re.compile(
    rf"[vV]?(?P<major>{_NUM})\.(?P<minor>{_NUM})"
    rf"(?:\.(?P<patch>{_NUM})(?:-(?P<suffix>[0-9A-Za-z][0-9A-Za-z.-]*))?(?:\+[0-9A-Za-z.-]+)?)?"
)
# Kubernetes' own pre-release tags. Other suffixes are distribution builds of a release (v1.30.3-gke.1,
# v1.29.4-eks-036c24b), and "+..." is build metadata (v1.28.5+k3s1): both are the release itself.
_PRE_RE = re.compile(r"(?:alpha|beta|rc)(?![A-Za-z])", re.IGNORECASE)


@functools.total_ordering
@dataclass(frozen=True)
class KubeVersion:
    """A Kubernetes version.

    `patch` is None when only the minor is known (`v1.33`, an AKS alias version); such a version sorts before
    every patch of its minor, and the matchers answer "unknown" when the answer depends on the patch.
    `pre` is a Kubernetes pre-release tag (`alpha.1`, `beta.0`, `rc.2`); it sorts before the release.
    """

    major: int
    minor: int
    patch: int | None = None
    pre: str = ""

    @property
    def series(self) -> str:
        """The minor as AKS names it, e.g. "1.29"."""
        return f"{self.major}.{self.minor}"

    def _key(self) -> tuple[Any, ...]:
        if self.pre:
            idents = tuple((0, int(p)) if p.isdecimal() else (1, p) for p in self.pre.split("."))
            pre: tuple[Any, ...] = (0, idents)
        else:
            pre = (1,)
        return (self.major, self.minor, -1 if self.patch is None else self.patch, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, KubeVersion):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        text = self.series if self.patch is None else f"{self.series}.{self.patch}"
        return f"{text}-{self.pre}" if self.pre else text


def parse_version(text: str | None) -> KubeVersion | None:
    """Parse a version as servers and AKS report it; None for anything else (never raises)."""
    if not isinstance(text, str):
        return None
    m = _VERSION_RE.fullmatch(text.strip())
    if m is None:
        return None
    suffix = m["suffix"] or ""
    return KubeVersion(
        int(m["major"]),
        int(m["minor"]),
        None if m["patch"] is None else int(m["patch"]),
        suffix if _PRE_RE.match(suffix) else "",
    )


def _decide(
    holds: Callable[[KubeVersion], bool | None], version: KubeVersion, bounds: Iterable[KubeVersion]
) -> bool | None:
    """Evaluate `holds` at `version`. A minor-only version stands for all patches of its minor, so it is
    evaluated at every patch where the answer can change (up to one past the highest bound in that minor):
    one answer if they all agree, else None."""
    if version.patch is not None:
        return holds(version)
    same_minor = [b.patch or 0 for b in bounds if (b.major, b.minor) == (version.major, version.minor)]
    answers = {holds(replace(version, patch=p, pre="")) for p in range(max(same_minor, default=0) + 2)}
    return answers.pop() if len(answers) == 1 else None


_OPS: Mapping[str, Callable[[KubeVersion, KubeVersion], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
    "==": operator.eq,
}


@dataclass(frozen=True)
class _Cond:
    """One condition on a version: a comparison, or (op "pre") "is a pre-release of bound with its tag"."""

    op: str
    bound: KubeVersion

    def holds(self, v: KubeVersion) -> bool:
        if self.op == "pre":
            b = self.bound
            same_core = (v.major, v.minor, v.patch) == (b.major, b.minor, b.patch)
            return same_core and bool(v.pre) and v.pre.lower().startswith(b.pre.lower())
        return _OPS[self.op](v, self.bound)


# In range text a pre-release tag must start with a letter, which is what tells "1.10.0-beta.1" (a version)
# from "1.11.0-1.11.9" (an interval).
_RANGE_VER = rf"[vV]?{_NUM}\.{_NUM}(?:\.{_NUM}(?:-[A-Za-z][0-9A-Za-z.]*)?)?"
_COMMENT_RE = re.compile(r"\([^()]*\)")
_PRERELEASES_RE = re.compile(rf"({_RANGE_VER})\s+pre-?releases?", re.IGNORECASE)
_INTERVAL_RE = re.compile(rf"({_RANGE_VER})\s*[-–]\s*({_RANGE_VER})")
_COMPARATOR_RE = re.compile(rf"\s*(>=|<=|==|=|>|<)\s*({_RANGE_VER})\s*")


def _parse_term(term: str) -> tuple[_Cond, ...] | None:
    if m := _PRERELEASES_RE.fullmatch(term):
        core = parse_version(m[1])
        return (_Cond("pre", core),) if core is not None and core.patch is not None else None
    if m := _INTERVAL_RE.fullmatch(term):
        lo, hi = parse_version(m[1]), parse_version(m[2])
        if lo is None or hi is None or lo.patch is None or hi.patch is None or hi < lo:
            return None
        return (_Cond(">=", lo), _Cond("<=", hi))
    if (single := parse_version(term)) is not None:
        # A bare minor ("1.15") is too vague to mean either one version or the whole minor.
        return (_Cond("=", single),) if single.patch is not None else None
    conds: list[_Cond] = []
    pos = 0
    for m in _COMPARATOR_RE.finditer(term):
        if m.start() != pos:
            return None
        bound = parse_version(m[2])
        if bound is None:
            return None
        conds.append(_Cond(m[1], bound if bound.patch is not None else replace(bound, patch=0)))
        pos = m.end()
    return tuple(conds) if conds and pos == len(term) else None


@dataclass(frozen=True)
class VersionRange:
    """A union (comma-separated) of terms, each an intersection of conditions. See `parse_range`."""

    text: str
    terms: tuple[tuple[_Cond, ...], ...]

    @property
    def bounds(self) -> tuple[KubeVersion, ...]:
        return tuple(c.bound for term in self.terms for c in term)

    def _holds(self, v: KubeVersion) -> bool:
        return any(all(c.holds(v) for c in term) for term in self.terms)

    def contains(self, version: KubeVersion) -> bool | None:
        """True/False; None only for a minor-only version whose minor is partly in the range."""
        return _decide(self._holds, version, self.bounds)


def parse_range(text: str | None) -> VersionRange | None:
    """Parse an affected-versions text; None when any part cannot be read (callers then answer "unknown").

    Grammar: terms separated by commas, each one of `>=1.9.0 <1.9.4` (comparators, all must hold; `<1.9` means
    `<1.9.0`), `1.15.7-1.15.9` (closed interval), `1.14.10` (exact), `1.10.0-beta pre-releases` (pre-releases of
    1.10.0 whose tag starts with "beta"). Text in parentheses is a comment: `<1.9 (reported on 1.8.x)`.
    """
    if not isinstance(text, str):
        return None
    terms = []
    for raw in _COMMENT_RE.sub(" ", text).split(","):
        term = _parse_term(raw.strip())
        if term is None:
            return None
        terms.append(term)
    return VersionRange(text, tuple(terms))


_FixedIn = Mapping[tuple[int, int], KubeVersion]


def _parse_fixed_in(items: Iterable[str]) -> _FixedIn | None:
    """First fixed patch per minor; None if any item is not a plain full version (comments in parentheses
    aside), because a list we only half understand must not decide anything."""
    fixed: dict[tuple[int, int], KubeVersion] = {}
    for item in items:
        v = parse_version(_COMMENT_RE.sub(" ", item))
        if v is None or v.patch is None or (v.major, v.minor) in fixed:
            return None
        fixed[(v.major, v.minor)] = v
    return fixed


def _affected_before_fix(fixed: _FixedIn, v: KubeVersion) -> bool | None:
    """The fixed_in rule, for a version with a patch.

    Own minor listed: affected below the listed patch (its pre-releases included). Minor above the highest
    listed: fixed (later minors carry the fix). Minor below the lowest listed: affected (the bug predates the
    fix and the oldest backport target is the lowest listed minor). Minor between listed minors with no entry:
    None, because such a minor was still maintained when the fix landed and probably got a backport that the
    table does not record.
    """
    key = (v.major, v.minor)
    if key in fixed:
        return v < fixed[key]
    if key > max(fixed):
        return False
    if key < min(fixed):
        return True
    return None


class Verdict(str, enum.Enum):
    AFFECTED = "affected"
    NOT_AFFECTED = "not-affected"
    UNKNOWN = "unknown"  # the data cannot tell; never report as a match, at most as a hint beside evidence


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (str(value),) if isinstance(value, str) else tuple(str(v) for v in value)


@dataclass(frozen=True)
class KnownIssue:
    """One row of the known-bug table; `verdict` says whether a version has it.

    Rules: `affected`, when given, alone decides (so fixed_in cannot make older minors affected when the bug
    was introduced later). Otherwise every list in `fixed_in` / `fixed_in_variants` is applied with
    `_affected_before_fix`, and the answer is confident only if all lists agree. No version data, unparseable
    text, or `verified` False (confidence: unverified, or "UNVERIFIED" in the version text) give UNKNOWN.
    """

    id: str
    title: str
    refs: tuple[str, ...]
    fix_prs: tuple[str, ...] = ()
    affected: str | None = None
    fixed_in: tuple[str, ...] = ()
    fixed_in_variants: Mapping[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    trigger: str | None = None
    error_codes: tuple[str, ...] = ()
    log_signature: str | None = None
    workaround: str | None = None
    note: str | None = None
    verified: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)  # other source fields, verbatim

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KnownIssue:
        variants = {str(k): _strings(v) for k, v in (data.get("fixed_in_variants") or {}).items()}
        affected = data.get("affected")
        fixed_in = _strings(data.get("fixed_in"))
        version_text = [str(affected or ""), *fixed_in, *(s for v in variants.values() for s in v)]
        verified = str(data.get("confidence", "")).lower() != "unverified" and not any(
            "UNVERIFIED" in s.upper() for s in version_text
        )
        return cls(
            id=str(data["id"]),
            title=str(data["title"]),
            refs=_strings(data["refs"]),
            fix_prs=_strings(data.get("fix_prs")),
            affected=None if affected is None else str(affected),
            fixed_in=fixed_in,
            fixed_in_variants=variants,
            trigger=data.get("trigger"),
            error_codes=_strings(data.get("error_codes")),
            log_signature=data.get("log_signature"),
            workaround=data.get("workaround"),
            note=data.get("note"),
            verified=verified,
            extra={k: v for k, v in data.items() if k not in _OWN_KEYS},
        )

    @functools.cached_property
    def _parsed(self) -> tuple[VersionRange | None, tuple[_FixedIn | None, ...]]:
        lists = ((self.fixed_in,) if self.fixed_in else ()) + tuple(self.fixed_in_variants.values())
        return parse_range(self.affected), tuple(_parse_fixed_in(items) for items in lists)

    def _holds(self, v: KubeVersion) -> bool | None:
        affected, fixed_lists = self._parsed
        if self.affected is not None:
            return None if affected is None else affected.contains(v)
        if not fixed_lists or None in fixed_lists:
            return None
        answers = {_affected_before_fix(fixed, v) for fixed in fixed_lists if fixed is not None}
        return answers.pop() if len(answers) == 1 else None

    def verdict(self, version: KubeVersion) -> Verdict:
        if not self.verified:
            return Verdict.UNKNOWN
        affected, fixed_lists = self._parsed
        bounds = [*(affected.bounds if affected else ()), *(v for f in fixed_lists if f for v in f.values())]
        answer = _decide(self._holds, version, bounds)
        if answer is None:
            return Verdict.UNKNOWN
        return Verdict.AFFECTED if answer else Verdict.NOT_AFFECTED

    def first_fixed(self, version: KubeVersion) -> KubeVersion | None:
        """The first release after `version`, in its minor or a later one, that every fixed_in list calls fixed
        (so it is safe whichever variant applies); None when the data does not say."""
        _, fixed_lists = self._parsed
        if not fixed_lists or None in fixed_lists:
            return None
        key = (version.major, version.minor)
        targets = []
        for fixed in fixed_lists:
            later = [v for k, v in (fixed or {}).items() if k >= key and v > version]
            if not later:
                return None
            targets.append(min(later))
        return max(targets)


# Keys KnownIssue reads itself; every other key of a row goes to `extra` unchanged.
_OWN_KEYS = frozenset({f.name for f in fields(KnownIssue)} - {"verified", "extra"} | {"confidence"})


@functools.cache
def known_issues() -> tuple[KnownIssue, ...]:
    """The packaged known-bug table."""
    return tuple(KnownIssue.from_dict(row) for row in knowledge.load("known_issues")["issues"])


def affected_issues(version: KubeVersion) -> list[KnownIssue]:
    """Known bugs that verified data says `version` has."""
    return [i for i in known_issues() if i.verdict(version) is Verdict.AFFECTED]


def uncertain_issues(version: KubeVersion) -> list[KnownIssue]:
    """Known bugs the data cannot rule in or out for `version`: mention only beside matching evidence."""
    return [i for i in known_issues() if i.verdict(version) is Verdict.UNKNOWN]


SUPPORT_STATES = ("supported", "platform-support", "lts-only", "end-of-life", "preview/unknown")


@dataclass(frozen=True)
class SupportStatus:
    """AKS support of a minor at a given time. Dates given by month in the calendar are that month's last day."""

    minor: str
    state: str  # one of SUPPORT_STATES
    ga: date | None
    end_of_life: date | None
    lts_end: date | None
    message: str
    upgrade_to: str | None = None  # the oldest minor supported at that time that is newer than this one


@dataclass(frozen=True)
class _Release:
    key: tuple[int, int]
    ga: date
    end_of_life: date
    lts_end: date | None


def _calendar_date(value: Any) -> date:
    """`YYYY-MM` is the month's last day (the AKS doc's rule for end of life; for GA, the latest it can be)."""
    if isinstance(value, date):
        return value
    text = str(value)
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}", text):
        year, month = int(text[:4]), int(text[5:])
        return date(year, month, calendar.monthrange(year, month)[1])
    return date.fromisoformat(text)


@functools.cache
def _calendar() -> tuple[int, tuple[_Release, ...]]:
    """(how many minors back from N still get at least platform support, releases sorted by minor)."""
    data = knowledge.load("aks_versions")
    policy = data["policy"]
    releases = []
    for row in data["releases"]:
        major, minor = (int(p) for p in str(row["minor"]).split("."))
        lts = row.get("lts_end")
        releases.append(
            _Release(
                (major, minor),
                _calendar_date(row["ga"]),
                _calendar_date(row["end_of_life"]),
                None if lts is None else _calendar_date(lts),
            )
        )
    window = int(policy["supported_minors"]) + int(policy["platform_support_minors"])
    return window, tuple(sorted(releases, key=lambda r: r.key))


def support_status(version: KubeVersion, now: datetime | date) -> SupportStatus:
    """Where `version`'s minor stands in AKS support at `now`.

    The calendar's end-of-life date decides "supported" (AKS publishes it; the N-2 rule is how it picks it).
    After it: "platform-support" while the minor is within N-3 of N, the newest minor GA at `now`; then
    "lts-only" until the LTS end (Premium tier); then "end-of-life". A minor older than the calendar is
    end-of-life; one newer than it, or not GA yet, is "preview/unknown". When even N is past its end of life
    the calendar is outdated, so N-3 is not trusted and only dates decide.
    """
    today = now.date() if isinstance(now, datetime) else now
    window, releases = _calendar()
    name = version.series
    row = next((r for r in releases if r.key == (version.major, version.minor)), None)
    supported = [r for r in releases if r.ga <= today <= r.end_of_life]
    newer = [r for r in supported if r.key > (version.major, version.minor)]
    upgrade_to = _series(newer[0]) if newer else None
    upgrade = (
        f"Upgrade to {_series(supported[0])} or later."
        if supported
        else "Upgrade to a supported version (`az aks get-versions --location <region>`)."
    )

    if row is None:
        if releases and (version.major, version.minor) < releases[0].key:
            msg = f"Kubernetes {name} is older than any AKS-supported version and long out of support. {upgrade}"
            return SupportStatus(name, "end-of-life", None, None, None, msg, upgrade_to)
        newest = _series(releases[-1]) if releases else "none"
        msg = (
            f"Kubernetes {name} is not in aksdoctor's AKS release calendar (newest known: {newest}); "
            "it is a preview, or the calendar is outdated."
        )
        return SupportStatus(name, "preview/unknown", None, None, None, msg, upgrade_to)

    def status(state: str, msg: str) -> SupportStatus:
        return SupportStatus(name, state, row.ga, row.end_of_life, row.lts_end, msg, upgrade_to)

    if today < row.ga:
        return status("preview/unknown", f"Kubernetes {name} is not GA on AKS yet (GA planned by {row.ga}).")
    if today <= row.end_of_life:
        return status("supported", f"AKS supports Kubernetes {name} until {row.end_of_life}.")

    newest_ga = max(r.key for r in releases if r.ga <= today)
    ranks = [r.key for r in releases]
    rank = ranks.index(newest_ga) - ranks.index(row.key)
    stale = today > releases[ranks.index(newest_ga)].end_of_life
    in_lts = row.lts_end is not None and today <= row.lts_end
    if rank < window and not stale:
        lts = f" With LTS (Premium tier) it is supported until {row.lts_end}." if in_lts else ""
        msg = (
            f"Kubernetes {name} reached AKS end of life on {row.end_of_life}; it has platform support only "
            f"(N-3: Azure platform issues, no Kubernetes fixes, no new clusters).{lts} {upgrade}"
        )
        return status("platform-support", msg)
    if in_lts:
        msg = (
            f"Kubernetes {name} reached AKS end of life on {row.end_of_life}; only clusters on the Premium tier "
            f"with long-term support (LTS) are supported, until {row.lts_end}. {upgrade}"
        )
        return status("lts-only", msg)
    ended = f"LTS ended {row.lts_end}" if row.lts_end else f"end of life {row.end_of_life}"
    return status("end-of-life", f"Kubernetes {name} is out of AKS support ({ended}). {upgrade}")


def _series(release: _Release) -> str:
    return f"{release.key[0]}.{release.key[1]}"
