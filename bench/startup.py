"""Startup of the built binary through kubectl, side by side with kubectl itself, and the archive's size.

    python bench/startup.py [--archive dist/kubectl-aksdoctor_<os>_<arch>.tar.gz] [--runs 15] [--build]

The archive is installed the way Krew lays it out (tests/krew_rules.py) in a temporary Krew root; then, in
fresh processes and interleaved so load spreads evenly, it times `kubectl version --client`,
`kubectl aksdoctor version`, `kubectl aksdoctor --help` and the binary run directly. Target (issue 6):
`kubectl aksdoctor version` within 1.5x `kubectl version --client`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "kubectl_plugin")]

import build  # noqa: E402  (bench scripts run from a checkout)
import yaml  # noqa: E402
from krew_rules import install  # noqa: E402

TARGET_RATIO = 1.5


def time_commands(commands: dict[str, list[str]], env: dict[str, str], runs: int, warmup: int = 2) -> dict:
    """Wall-clock milliseconds of each command over `runs` rounds (after `warmup` rounds), round-robin."""
    samples: dict[str, list[float]] = {label: [] for label in commands}
    for round_no in range(warmup + runs):
        for label, cmd in commands.items():
            started = time.perf_counter()
            rc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
            elapsed = (time.perf_counter() - started) * 1000
            if rc != 0:
                raise SystemExit(f"{' '.join(cmd)} exited {rc}")
            if round_no >= warmup:
                samples[label].append(elapsed)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, help="default: dist/ archive for this platform")
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command (default 15, at least 10)")
    parser.add_argument("--build", action="store_true", help="build the archive first (python kubectl_plugin/build.py)")
    args = parser.parse_args()
    os_name, arch = build.go_platform()
    archive = args.archive or REPO / "dist" / build.archive_name(os_name, arch)
    if args.build:
        started = time.perf_counter()
        archive = build.build(archive.parent.resolve(), Path(tempfile.mkdtemp(prefix="aksdoctor-build-")))
        print(f"build: {time.perf_counter() - started:.0f} s")
    if not archive.is_file():
        raise SystemExit(f"no archive at {archive}: run python kubectl_plugin/build.py (or pass --build)")
    kubectl = shutil.which("kubectl")
    if not kubectl:
        raise SystemExit("kubectl is not on PATH")
    manifest = yaml.safe_load((REPO / "krew" / "aksdoctor.yaml").read_text())

    with tempfile.TemporaryDirectory(prefix="aksdoctor-krew-") as root:
        link = install(manifest, archive, Path(root), os_name, arch, verify_sha256=False)
        store = link.resolve().parent
        files = [p for p in store.rglob("*") if p.is_file()]
        env = {**os.environ, "PATH": f"{link.parent}{os.pathsep}{Path(kubectl).parent}"}
        commands = {
            "kubectl version --client": [kubectl, "version", "--client"],
            "kubectl aksdoctor version": [kubectl, "aksdoctor", "version"],
            "kubectl aksdoctor --help": [kubectl, "aksdoctor", "--help"],
            "kubectl-aksdoctor version (direct)": [str(link), "version"],
        }
        samples = time_commands(commands, env, max(args.runs, 10))

    with tarfile.open(archive) as tar:
        unpacked = sum(m.size for m in tar.getmembers() if m.isreg())
    print(
        f"archive {archive.name}: {archive.stat().st_size / 1e6:.1f} MB packed, "
        f"{unpacked / 1e6:.1f} MB in {len(files)} files installed"
    )
    print(f"startup, median of {max(args.runs, 10)} runs (min-max), load average {os.getloadavg()[0]:.2f}:")
    reference = statistics.median(samples["kubectl version --client"])
    for label, values in samples.items():
        median = statistics.median(values)
        print(
            f"  {label:<36} {median:7.1f} ms  ({min(values):.1f}-{max(values):.1f})  {median / reference:4.2f}x kubectl"
        )
    ratio = statistics.median(samples["kubectl aksdoctor version"]) / reference
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"target: kubectl aksdoctor version <= {TARGET_RATIO}x kubectl version --client: {verdict} ({ratio:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
