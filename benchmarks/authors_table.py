"""Time venn_gym on the work the Venn authors' simulator is usually given: a 5-day check-in table
of 500,000 rows repeated 3 times (1.5 M check-ins over 15 days) and 50 jobs of the paper's Even
mix, each policy in a fresh process, CPU time counted from interpreter start-up (imports and
reading the table included).

    python benchmarks/authors_table.py                       # random,fifo,srsf,venn; prints a table
    python benchmarks/authors_table.py --rows 50000 --policies venn --out /tmp/t.md

The table is generated here (the authors' own file cannot be downloaded): device, start_s and
end_s of each online window, starts following the diurnal pattern of venn_gym's synthetic trace,
windows log-normal (median 15 min) plus the authors' 80 s online extension. The scenario is read
through a scenario file, as a user would (``trace: {csv: ..., period_s: 432000}``), with request-
timed rounds and a 15-day horizon. The authors' simulator takes 87-246 s and 1.3 GB on the same
work (the figures of the round-semantics issue, measured on this machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from venn_gym.outputs import machine_description, write_atomically

PERIOD_S = 5 * 86_400.0
ONLINE_EXTENSION_S = 80.0

# Start-up: the process's CPU up to a built scenario (interpreter, imports, reading the table).
RUN = r"""
import json, resource, sys, time
import venn_gym
from venn_gym.baselines import make_policy
scenario = venn_gym.make_scenario(sys.argv[1], seed=0)
startup_cpu_s = time.process_time()
start = time.perf_counter()
result = venn_gym.run_policy(scenario, make_policy(sys.argv[2]), keep_rounds=False)
s = result.summary()
print(json.dumps({"sim_wall_s": time.perf_counter() - start, "startup_cpu_s": startup_cpu_s,
                  "sim_cpu_s": time.process_time() - startup_cpu_s, "checkins": s["checkins"],
                  "finished_jobs": s["finished_jobs"], "failed_rounds": s["failed_rounds"],
                  "tasks": s["tasks"], "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_table(path: Path, rows: int, devices: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Diurnal starts: thinning of uniform times by 1 + 0.5 cos(2 pi (t - 2 h) / day).
    starts = np.empty(0)
    while len(starts) < rows:
        t = rng.uniform(0, PERIOD_S, 2 * rows)
        keep = rng.uniform(0, 1.5, len(t)) < 1 + 0.5 * np.cos(2 * np.pi * (t - 7200.0) / 86_400.0)
        starts = np.concatenate([starts, t[keep]])
    starts = np.sort(starts[:rows])
    ends = starts + rng.lognormal(np.log(900.0), 1.0, rows) + ONLINE_EXTENSION_S
    device = rng.integers(0, devices, rows)
    with open(path, "w") as f:
        f.write("device,start_s,end_s\n")
        np.savetxt(f, np.column_stack([device, starts, ends]), fmt=["%d", "%.3f", "%.3f"], delimiter=",")


def write_scenario(folder: Path, rows: int, devices: int) -> Path:
    path = folder / "authors-table-v0.yaml"
    path.write_text(
        "name: bench/authors-table-v0\n"
        f"devices: {{synthetic: {{n_devices: {devices}}}}}\n"
        f"trace: {{csv: table.csv, period_s: {PERIOD_S:.0f}}}\n"
        "workload: {paper: {mix: even, n_jobs: 50, scale: 1.0}}\n"
        f"horizon_s: {3 * PERIOD_S:.0f}\n"
        "round_deadline_from: request\n"
    )
    return path


def measure(scenario: Path, policy: str) -> dict:
    before = os.times()
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", RUN, str(scenario), policy], check=True, capture_output=True, text=True)
    after = os.times()
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures.update(
        cpu_s=(after.children_user - before.children_user) + (after.children_system - before.children_system),
        process_wall_s=time.perf_counter() - start,
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500_000, help="rows of the 5-day table")
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--policies", default="random,fifo,srsf,venn")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated table")
    parser.add_argument("--out", type=Path, default=None, help="also write the table as Markdown here")
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"Produced by `python {' '.join(sys.argv)}` on {machine_description()} (table seed {args.seed}, "
        f"scenario seed 0; load average before: {load}). The Venn authors' simulator takes 87-246 s and "
        "1.3 GB on the same work.",
        "",
        f"A {args.rows:,}-row 5-day table over {args.devices:,} devices, repeated 3 times; 50 Even jobs, "
        "request-timed rounds, 15-day horizon. CPU = the run's process from start-up to exit; of it, start-up = "
        "interpreter, imports and reading the table, simulation = the run itself.",
        "",
        "| policy | CPU (s) | start-up CPU (s) | simulation CPU (s) | process wall (s) | simulation wall (s) "
        "| check-ins | finished jobs | failed rounds | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_table(folder / "table.csv", args.rows, args.devices, args.seed)
        scenario = write_scenario(folder, args.rows, args.devices)
        for policy in [p.strip() for p in args.policies.split(",") if p.strip()]:
            m = measure(scenario, policy)
            line = (
                f"| {policy} | {m['cpu_s']:.1f} | {m['startup_cpu_s']:.1f} | {m['sim_cpu_s']:.1f} | "
                f"{m['process_wall_s']:.1f} | {m['sim_wall_s']:.1f} | {m['checkins']:,} | {m['finished_jobs']} | "
                f"{m['failed_rounds']:,} | {m['peak_rss_mb']:.0f} |"
            )
            lines.append(line)
            print(line, flush=True)
    if args.out is not None:
        write_atomically(args.out, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
