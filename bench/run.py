"""Benchmarks that print figures: startup imports, and `lb` / `cluster` wall time and peak RSS on a big snapshot.

    python bench/run.py [--nodes 5000 --services 2000 --pods 50000 --events 100000] [--repeat 3]

Targets (2-core machine): lb <= 1 s, cluster <= 20 s, peak RSS <= 1.5 GB; `version` and `--help` import
neither `kubernetes` nor any `azure` package.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate_snapshot import generate  # noqa: E402  (bench scripts run from a checkout)

HEAVY_PREFIXES = ("kubernetes", "azure", "msal", "yaml")


def imported_modules(argv: list[str]) -> set[str]:
    """Top-level packages a command imports, from `python -X importtime` (stderr)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "kubectl_aksdoctor", *argv],
        capture_output=True,
        text=True,
        check=False,
    )
    mods = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            mods.add(name.split(".")[0])
    return mods


def timed_run(argv: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, exit code) of one CLI run in a fresh process."""
    cmd = [
        sys.executable,
        "-c",
        "import resource, subprocess, sys, time;"
        "t=time.perf_counter();"
        "rc=subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode;"
        "w=time.perf_counter()-t;"
        "print(w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)",
        sys.executable,
        "-m",
        "kubectl_aksdoctor",
        *argv,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), int(out[1]) / 1024, int(out[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--pods", type=int, default=50000)
    parser.add_argument("--events", type=int, default=100000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the snapshot here and keep it")
    args = parser.parse_args()

    print("== startup imports")
    for argv in (["version"], ["--help"]):
        heavy = sorted(m for m in imported_modules(argv) if m.startswith(HEAVY_PREFIXES))
        print(f"  {' '.join(argv):<10} heavy imports: {', '.join(heavy) or 'none'}")
    walls = []
    for _ in range(10):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kubectl_aksdoctor", "version"], capture_output=True, check=True)
        walls.append(time.perf_counter() - t)
    print(f"  version    median {statistics.median(walls) * 1000:.0f} ms over 10 runs (python -m)")

    with tempfile.TemporaryDirectory() as tmp:
        snap = args.keep or Path(tmp) / "snapshot"
        t = time.perf_counter()
        generate(snap, args.nodes, args.services, args.pods, args.events)
        size = sum(f.stat().st_size for f in snap.rglob("*") if f.is_file()) / 2**20
        print(
            f"== snapshot: {args.nodes} nodes, {args.services} LoadBalancer Services, {args.pods} pods, "
            f"{args.events} events ({size:.0f} MiB, generated in {time.perf_counter() - t:.1f} s)"
        )
        runs = {
            "lb": ["lb", "svc-123", "-n", "team-23", "--snapshot", str(snap), "-o", "json"],
            "cluster": ["cluster", "--snapshot", str(snap), "-o", "json"],
        }
        for label, argv in runs.items():
            results = [timed_run(argv) for _ in range(args.repeat)]
            wall = statistics.median(r[0] for r in results)
            rss = max(r[1] for r in results)
            print(f"  {label:<8} wall median {wall:6.2f} s   peak RSS {rss:7.0f} MiB   exit {results[0][2]}")
    print(f"(cpu count {os.cpu_count()}, python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
