"""Krew's manifest rules and install layout, re-implemented for tests that cannot reach Krew or krew-index.

Rules follow Krew's published validation (structure, plugin name, semver with a leading v, sha256 format,
selectors with only os/arch keys, supported and non-overlapping platforms, `files` operations, line lengths)
and krew-index's review (a license file installed, Windows entry points ending in .exe). The installer
lays a plugin out as `kubectl krew install` does: extract (regular files and directories only), apply
`files` into store/<name>/<version>/, link `bin` as bin/kubectl-<name with - as _>.
"""

from __future__ import annotations

import glob
import hashlib
import os
import posixpath
import re
import shutil
import tarfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

API_VERSION = "krew.googlecontainertools.github.com/v1alpha2"
SAFE_NAME = re.compile(r"^[\w-]+$")
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
SEMVER = re.compile(
    r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
SHA256 = re.compile(r"^[a-f0-9]{64}$")
SUPPORTED = [
    *(("windows", a) for a in ("386", "amd64", "arm64")),
    *(("linux", a) for a in ("386", "amd64", "arm", "arm64", "ppc64le")),
    *(("darwin", a) for a in ("386", "amd64", "arm64")),
]
LICENSE_NAME = re.compile(r"^(LICENSE(\.txt|\.md)?|LICENSES.*|COPYING.*)$")
LINE_LIMITS = {"shortDescription": 70, "description": 80, "caveats": 80}


class InstallError(Exception):
    pass


def validate(doc: Any, filename: str) -> list[str]:
    """Every rule the manifest breaks (empty when valid); `filename` is the manifest's file name."""
    if not isinstance(doc, Mapping):
        return ["the manifest is not a mapping"]
    problems: list[str] = []
    if doc.get("apiVersion") != API_VERSION:
        problems.append(f"apiVersion must be {API_VERSION}")
    if doc.get("kind") != "Plugin":
        problems.append("kind must be Plugin")
    stem, ext = posixpath.splitext(filename)
    if ext != ".yaml":
        problems.append(f"manifest file must end in .yaml, not {ext!r}")
    name = (doc.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not SAFE_NAME.match(name) or name.upper() in WINDOWS_RESERVED:
        problems.append(f"plugin name {name!r} is not allowed")
    elif name != stem:
        problems.append(f"plugin name {name!r} must equal the file name {stem!r}")
    spec = doc.get("spec") or {}
    short = spec.get("shortDescription")
    if not isinstance(short, str) or not short.strip():
        problems.append("shortDescription is required")
    elif "\n" in short or "\r" in short:
        problems.append("shortDescription must be one line")
    if not isinstance(spec.get("description"), str) or not spec["description"].strip():
        problems.append("description is required")
    for field, limit in LINE_LIMITS.items():
        for line in str(spec.get(field) or "").splitlines():
            if len(line) > limit and " " in line.strip():
                problems.append(f"{field} line longer than {limit} characters: {line!r}")
    version = spec.get("version")
    if not isinstance(version, str) or not SEMVER.match(version):
        problems.append(f"version {version!r} is not semver with a leading v")
    platforms = spec.get("platforms")
    if not isinstance(platforms, list) or not platforms:
        return [*problems, "at least one platform is required"]
    for i, platform in enumerate(platforms):
        problems.extend(f"platforms[{i}]: {p}" for p in _platform_problems(platform))
    if not problems:
        problems.extend(_coverage_problems(platforms))
    return problems


def _platform_problems(platform: Mapping[str, Any]) -> list[str]:
    problems = []
    if not platform.get("uri"):
        problems.append("uri is required")
    sha = platform.get("sha256")
    if not isinstance(sha, str) or not SHA256.match(sha):
        problems.append(f"sha256 {sha!r} must be 64 lowercase hex characters")
    if not platform.get("bin"):
        problems.append("bin is required")
    files = platform.get("files")
    if files is not None:
        if not isinstance(files, list) or not files:
            problems.append("files must be left out or non-empty")
        else:
            for op in files:
                if not op.get("from") or not op.get("to"):
                    problems.append(f"files entry {op} needs from and to")
                elif posixpath.normpath(op["to"]) != op["to"]:
                    problems.append(f"files `to` {op['to']!r} is not a clean path")
    problems.extend(_selector_problems(platform.get("selector")))
    return problems


def _selector_problems(selector: Any) -> list[str]:
    if not isinstance(selector, Mapping):
        return ["selector is required"]
    labels, exprs = selector.get("matchLabels"), selector.get("matchExpressions")
    if not labels and not exprs:
        return ["selector must not be empty"]
    problems = []
    keys = [*(labels or {}), *(e.get("key") for e in exprs or ())]
    problems.extend(f"selector key {k!r} is not supported (only os, arch)" for k in keys if k not in ("os", "arch"))
    problems.extend(f"selector value {v!r} must be a string" for v in (labels or {}).values() if not isinstance(v, str))
    return problems


def _coverage_problems(platforms: list[Mapping[str, Any]]) -> list[str]:
    problems = []
    for i, platform in enumerate(platforms):
        matched = [pair for pair in SUPPORTED if selector_matches(platform["selector"], *pair)]
        if not matched:
            problems.append(f"platforms[{i}] selector matches no supported os/arch")
        if any(os_name == "windows" for os_name, _ in matched) and not platform["bin"].endswith(".exe"):
            problems.append(f"platforms[{i}] is for Windows: bin must end in .exe")
    for os_name, arch in SUPPORTED:
        hits = [i for i, p in enumerate(platforms) if selector_matches(p["selector"], os_name, arch)]
        if len(hits) > 1:
            problems.append(f"platforms {hits} overlap on {os_name}/{arch}")
    return problems


def selector_matches(selector: Mapping[str, Any], os_name: str, arch: str) -> bool:
    """Kubernetes label-selector semantics over the labels {os, arch}."""
    labels = {"os": os_name, "arch": arch}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or ():
        value, op, values = labels.get(expr["key"]), expr["operator"], expr.get("values") or []
        ok = {
            "In": value in values,
            "NotIn": value not in values,
            "Exists": value is not None,
            "DoesNotExist": value is None,
        }[op]
        if not ok:
            return False
    return True


def platform_for(doc: Mapping[str, Any], os_name: str, arch: str) -> Mapping[str, Any]:
    matches = [p for p in doc["spec"]["platforms"] if selector_matches(p["selector"], os_name, arch)]
    if len(matches) != 1:
        raise InstallError(f"{len(matches)} platforms match {os_name}/{arch}")
    return matches[0]


def install(
    doc: Mapping[str, Any], archive: Path, root: Path, os_name: str, arch: str, *, verify_sha256: bool = True
) -> Path:
    """Install `archive` under the Krew root `root` as `kubectl krew install --manifest --archive` would.

    Returns the link in root/bin that kubectl finds on PATH.
    """
    name, version = doc["metadata"]["name"], doc["spec"]["version"]
    platform = platform_for(doc, os_name, arch)
    data = archive.read_bytes()
    if verify_sha256 and hashlib.sha256(data).hexdigest() != platform["sha256"]:
        raise InstallError(f"sha256 of {archive.name} does not match the manifest")
    staging = root / "download" / name
    shutil.rmtree(staging, ignore_errors=True)
    extract(archive, staging)
    store = root / "store" / name / version
    shutil.rmtree(store, ignore_errors=True)
    store.mkdir(parents=True)
    for op in platform.get("files") or [{"from": "*", "to": "."}]:
        _move(staging, store, op)
    binary = (store / platform["bin"]).resolve()
    if not binary.is_relative_to(store.resolve()) or not binary.is_file():
        raise InstallError(f"bin {platform['bin']!r} is not a file inside the installed plugin")
    if os_name != "windows" and not os.access(binary, os.X_OK):
        raise InstallError(f"bin {platform['bin']!r} is not executable")
    if not any(LICENSE_NAME.match(p.name) and p.is_file() for p in store.iterdir()):
        raise InstallError("no license file (LICENSE, COPYING, ...) in the installed plugin")
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    link = bin_dir / ("kubectl-" + name.replace("-", "_") + (".exe" if os_name == "windows" else ""))
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(binary)
    return link


def extract(archive: Path, target: Path) -> None:
    """Krew's tar extractor: regular files and directories only, nothing outside `target`."""
    target.mkdir(parents=True)
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            rel = PurePosixPath(member.name)
            if rel.is_absolute() or ".." in rel.parts:
                raise InstallError(f"archive entry {member.name!r} points outside the plugin folder")
            if not (member.isreg() or member.isdir()):
                raise InstallError(f"unable to handle file type of {member.name!r} in tar (only files and folders)")
            dest = target.joinpath(*rel.parts)
            if member.isdir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as src, open(dest, "wb") as out:  # type: ignore[union-attr]
                shutil.copyfileobj(src, out)
            dest.chmod(member.mode & 0o777)


def _move(src_dir: Path, dst_dir: Path, op: Mapping[str, str]) -> None:
    """One `files` entry: a path that exists moves to `to` (a name, or `.` for its own name); else `from` is a
    glob whose matches move into the folder `to`."""
    direct = src_dir / op["from"]
    if direct.exists():
        dest = dst_dir / (direct.name if op["to"] == "." else op["to"])
        moves = [(direct, dest)]
    else:
        matches = sorted(glob.glob(str(src_dir / op["from"])))
        if not matches:
            raise InstallError(f"no files in the plugin archive matched the glob pattern={op['from']}")
        moves = [(Path(m), dst_dir / op["to"] / Path(m).name) for m in matches]
    for src, dest in moves:
        if not dest.resolve().is_relative_to(dst_dir.resolve()):
            raise InstallError(f"can't move {src} outside the plugin folder")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.is_dir():
            shutil.rmtree(dest)
        shutil.move(str(src), str(dest))
