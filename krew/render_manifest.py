"""Render the Krew manifest for a release: version, uri and sha256 filled in from the built archives.

    python krew/render_manifest.py --dist dist --repo OWNER/NAME [--tag v0.1.0] [-o aksdoctor.yaml]

The version is aksdoctor's own (`aksdoctor.__version__`, the one place it is set); `--tag` guards against
releasing a tag that disagrees with it. Every platform of the template needs its archive in --dist (the file
name is the template uri's last part); `--allow-missing` keeps the placeholder checksum of the others, for a
local `kubectl krew install --manifest aksdoctor.yaml --archive dist/<archive>` (never for a release). The
template's text is kept (comments aside), so the description and caveats reach krew-index exactly as written.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "aksdoctor.yaml"
VERSION_LINE = re.compile(r"^(\s+version: ).*$")
HOMEPAGE_LINE = re.compile(r"^(\s+homepage: ).*$")
URI_LINE = re.compile(r"^(\s+uri: )(\S+)$")
SHA_LINE = re.compile(r"^(\s+sha256: ).*$")


def project_version() -> str:
    try:
        from aksdoctor import __version__
    except ImportError:  # a checkout without the package installed
        sys.path.insert(0, str(HERE.parent / "shared"))
        from aksdoctor import __version__
    return __version__


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def render(template: str, *, version: str, repo: str, dist: Path, allow_missing: bool = False) -> str:
    """The manifest text for `version` (with its leading v), archives in `dist`, released on GitHub `repo`."""
    base = f"https://github.com/{repo}"
    out: list[str] = [f"# Rendered by krew/render_manifest.py from krew/aksdoctor.yaml for {version}."]
    archive: str | None = None
    for line in template.splitlines():
        if line.startswith("#"):
            continue
        if m := VERSION_LINE.match(line):
            line = m.group(1) + version
        elif m := HOMEPAGE_LINE.match(line):
            line = m.group(1) + base
        elif m := URI_LINE.match(line):
            archive = PurePosixPath(urlparse(m.group(2)).path).name
            line = f"{m.group(1)}{base}/releases/download/{version}/{archive}"
        elif m := SHA_LINE.match(line):
            if archive is None:
                raise ValueError("sha256 before uri in a platform of the template")
            path = dist / archive
            if path.is_file():
                line = f"{m.group(1)}{sha256(path)}"
            elif not allow_missing:
                raise FileNotFoundError(f"missing archive for the manifest: {path}")
            archive = None
        out.append(line)
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, required=True, help="folder holding every kubectl-aksdoctor_*.tar.gz")
    parser.add_argument("--repo", required=True, metavar="OWNER/NAME", help="GitHub repository of the release")
    parser.add_argument("--tag", help="release tag; must be v + the project version")
    parser.add_argument("--allow-missing", action="store_true", help="keep placeholders for absent archives")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)
    version = "v" + project_version()
    if args.tag and args.tag != version:
        print(f"error: tag {args.tag} does not match the project version {version}", file=sys.stderr)
        return 2
    try:
        text = render(
            args.template.read_text(encoding="utf-8"),
            version=version,
            repo=args.repo,
            dist=args.dist,
            allow_missing=args.allow_missing,
        )
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
