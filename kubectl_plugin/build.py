"""Build the kubectl plugin binary and its Krew archive: dist/kubectl-aksdoctor_<os>_<arch>.tar.gz.

    python kubectl_plugin/build.py [--dist DIR] [--work DIR]

PyInstaller freezes one OS/arch at a time (the one it runs on), in one-dir mode, from kubectl-aksdoctor.spec.
The archive holds the one-dir folder `kubectl-aksdoctor/` and `LICENSE`; Krew rejects archives with symlinks,
so any symlink PyInstaller leaves (macOS frameworks) is stored as the file it points to.

Reproducible: with the same source, interpreter and wheels, two builds give the same archive bytes.
PYTHONHASHSEED is pinned for PyInstaller, SOURCE_DATE_EPOCH (default: the commit's time) sets every mtime
in the archive, entries are sorted with owner 0/0 and normalised modes, and the gzip header carries no name
or time (as `gzip -n`). The commit is baked in as `aksdoctor._commit`, in the bundle only.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SPEC = HERE / "kubectl-aksdoctor.spec"
NAME = "kubectl-aksdoctor"
GO_OS = {"linux": "linux", "darwin": "darwin", "windows": "windows"}
GO_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
DEFAULT_EPOCH = 315532800  # 1980-01-01, the earliest time zip (base_library.zip) can store
HASH_SEED = "0"
GZIP_LEVEL = 6  # level 9 is 0.3% smaller and 8 s slower


def go_platform() -> tuple[str, str]:
    """This machine as Krew names platforms (Go's GOOS/GOARCH)."""
    system, machine = platform.system().lower(), platform.machine().lower()
    if system not in GO_OS or machine not in GO_ARCH:
        raise SystemExit(f"unsupported build platform {system}/{machine}")
    return GO_OS[system], GO_ARCH[machine]


def archive_name(os_name: str, arch: str) -> str:
    return f"{NAME}_{os_name}_{arch}.tar.gz"


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def commit() -> str:
    """HEAD's short hash, marked `-dirty` when tracked files differ from it; empty outside a git checkout."""
    head = _git("rev-parse", "--short=12", "HEAD")
    if head and _git("status", "--porcelain", "--untracked-files=no"):
        head += "-dirty"
    return head


def source_date_epoch() -> int:
    """$SOURCE_DATE_EPOCH, else the commit's time, else a fixed date: never the wall clock."""
    value = os.environ.get("SOURCE_DATE_EPOCH") or _git("log", "-1", "--format=%ct")
    return int(value) if value else DEFAULT_EPOCH


def freeze(work: Path, epoch: int, commit_id: str) -> Path:
    """Run PyInstaller on the spec; returns the one-dir folder."""
    generated = work / "generated"
    generated.mkdir(parents=True, exist_ok=True)
    commit_module = generated / "_commit.py"
    from aksdoctor.buildinfo import library_versions

    commit_module.write_text(
        f'"""Written by kubectl_plugin/build.py."""\n\nCOMMIT = {commit_id!r}\nLIBRARIES = {library_versions()!r}\n',
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "PYTHONHASHSEED": HASH_SEED,
        "SOURCE_DATE_EPOCH": str(epoch),
        "AKSDOCTOR_COMMIT_MODULE": str(commit_module),
    }
    cmd = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level=WARN",
        f"--distpath={work / 'dist'}",
        f"--workpath={work / 'build'}",
        str(SPEC),
    ]
    subprocess.run(cmd, env=env, check=True, cwd=REPO)
    return work / "dist" / NAME


def _entries(root: Path, arcroot: str) -> list[tuple[str, Path]]:
    """(archive name, path) for every directory and file under root, symlinks followed, sorted by name."""
    found = [(arcroot, root)]
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        rel = Path(dirpath).relative_to(root)
        for name in dirnames + filenames:
            found.append(((Path(arcroot) / rel / name).as_posix(), Path(dirpath) / name))
    return sorted(found)


def _tarinfo(arcname: str, path: Path, epoch: int) -> tarfile.TarInfo:
    st = path.stat()  # follows symlinks: the archive holds the target's bytes
    info = tarfile.TarInfo(arcname)
    info.mtime = epoch
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if path.is_dir():
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    else:
        info.type, info.size = tarfile.REGTYPE, st.st_size
        info.mode = 0o755 if st.st_mode & 0o111 else 0o644
    return info


def pack(bundle: Path, license_file: Path, target: Path, epoch: int) -> None:
    """Write the reproducible tar.gz: `kubectl-aksdoctor/...` and `LICENSE`, regular files and directories only."""
    entries = [*_entries(bundle, NAME), ("LICENSE", license_file)]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with (
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar,
    ):
        for arcname, path in entries:
            info = _tarinfo(arcname, path, epoch)
            if info.isdir():
                tar.addfile(info)
            else:
                with open(path, "rb") as fh:
                    tar.addfile(info, fh)
    tmp.replace(target)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build(dist: Path, work: Path) -> Path:
    """Freeze and pack; returns the archive path."""
    os_name, arch = go_platform()
    epoch = source_date_epoch()
    for sub in ("build", "dist", "generated"):  # a clean build every time: a cached analysis can hide a change
        shutil.rmtree(work / sub, ignore_errors=True)
    bundle = freeze(work, epoch, commit())
    archive = dist / archive_name(os_name, arch)
    pack(bundle, REPO / "LICENSE", archive, epoch)
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=REPO / "dist", help="where the archive goes (default dist/)")
    parser.add_argument(
        "--work", type=Path, default=None, help="scratch folder for PyInstaller (default: a temporary one)"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.work:
        archive = build(args.dist.resolve(), args.work.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="aksdoctor-build-") as work:
            archive = build(args.dist.resolve(), Path(work))
    size = archive.stat().st_size
    print(f"{archive}  {size / 1e6:.1f} MB  sha256 {sha256(archive)}  built in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
