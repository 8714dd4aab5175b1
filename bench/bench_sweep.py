"""The sweep's own timing: one 24-cell grid on the local executor (a pool of
--jobs processes) and on a local Ray instance with --jobs CPUs, side by side,
each from a fresh table, start-up and shut-down included. Runs alternate
(local, Ray, Ray, local, ...) so that a change in the machine's load falls on
both; the rows of the two executors must agree except for the timings.

    python bench/bench_sweep.py [--jobs 2] [--repeats 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from markdown import table, write_section  # noqa: E402

from superpose.sweep import LocalExecutor, RayExecutor, load_spec, run_sweep  # noqa: E402
from superpose.sweep.table import TIMINGS  # noqa: E402

SPEC = """# 24 cells: uand, 1,024 pairs of 512 inputs; hub at 3 targets, paper-uand at 3 widths, 4 seeds each
samples = 200
programs = [{generator = "uand", m = 512, n_gates = 1024, sparsity = 3, label = "uand-1024"}]
seeds = [0, 1, 2, 3]

[[grid]]
strategies = ["hub"]
targets = [0.01, 0.02, 0.05]

[[grid]]
strategies = ["paper-uand"]
widths = [128, 256, 512]
"""


def load_average() -> str:
    """The 1-minute load average and the core count, e.g. '6.8 on 2 cores'."""
    return f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def timed_run(spec_path: Path, folder: Path, name: str, executor) -> tuple[float, list[dict], str]:
    """(wall seconds, rows, load before) of the whole grid into a fresh table."""
    load = load_average()
    started = time.perf_counter()
    result = run_sweep(load_spec(spec_path), folder / f"{name}.csv", executor)
    wall = time.perf_counter() - started
    if result.failures or len(result.rows) != 24:
        raise SystemExit(f"{name}: {len(result.rows)} rows; failed: "
                         + "; ".join(f"{cell.describe()}: {message}" for cell, message in result.failures))
    return wall, result.rows, load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2, help="local processes, and CPUs of the Ray instance")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each executor, alternating")
    args = parser.parse_args()
    runs: dict[str, list[tuple[float, list[dict], str]]] = {"local": [], "ray": []}
    with tempfile.TemporaryDirectory() as folder:
        spec_path = Path(folder) / "bench.toml"
        spec_path.write_text(SPEC, encoding="utf-8")
        order = [("local", "ray"), ("ray", "local")]
        for repeat in range(args.repeats):
            for name in order[repeat % 2]:
                executor = LocalExecutor(args.jobs) if name == "local" else RayExecutor("local", args.jobs)
                runs[name].append(timed_run(spec_path, Path(folder), f"{name}{repeat}", executor))
                print(f"{name}: {runs[name][-1][0]:.1f} s (load {runs[name][-1][2]})", flush=True)
    strip = lambda rows: [{k: v for k, v in r.items() if k not in TIMINGS} for r in rows]  # noqa: E731
    assert all(strip(rows) == strip(runs["local"][0][1]) for name in runs for _, rows, _ in runs[name]), \
        "the executors' rows differ beyond their timings"
    rows = []
    for name, label in (("local", f"local, {args.jobs} processes"), ("ray", f"Ray local instance, {args.jobs} CPUs")):
        walls = [wall for wall, _, _ in runs[name]]
        work = [sum(r["compile_s"] + r["report_s"] for r in cells) for _, cells, _ in runs[name]]
        rows.append([label, ", ".join(f"{w:.1f}" for w in walls), f"{min(walls):.1f}",
                     ", ".join(f"{w:.1f}" for w in work), ", ".join(f"{c / w:.2f}" for c, w in zip(work, walls)),
                     ", ".join(load for _, _, load in runs[name])])
    ratio = min(w for w, _, _ in runs["ray"]) / min(w for w, _, _ in runs["local"])
    print(f"Ray / local (best of each): {ratio:.2f}")
    header = ["executor", "wall s per run", "best wall s", "cell work s per run (compile + report)",
              "cores kept busy (work / wall)", "load average before each run"]
    body = (f"Command: `python bench/bench_sweep.py --jobs {args.jobs} --repeats {args.repeats}`. The same 24-cell "
            "grid (uand, 1,024 random pairs of 512 inputs, sparsity 3; hub at targets 1%, 2%, 5% and paper-uand at "
            "widths 128, 256, 512; 4 seeds; 200 samples per gate) from a fresh table each run, start-up and "
            "shut-down of the pool or the Ray instance included; runs alternate between the executors, and their "
            f"rows agree except for the timings. Ray / local wall time (best of each): **{ratio:.2f}**. This "
            "machine (2 cores) was shared with other work; the load average before each run is in the table, "
            "and the cell work column (the cells' own compile + report seconds, summed) shows how much the "
            "cells themselves were slowed by it. Work / wall is the figure the load disturbs least: how many of "
            f"the {args.jobs} cores an executor kept busy with cells, start-up and scheduling being the rest."
            "\n\n" + table(header, rows))
    write_section("sweep", body)


if __name__ == "__main__":
    main()
