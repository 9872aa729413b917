"""Reproduce the Venn paper's Table 1 (speed-up over Random) and its Low/High ablation."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .compare import RunSpec, machine_description, run_many, summarise, write_outputs

# Liu et al., MLSys 2025: Table 1 (average JCT speed-up over Random) and Fig. 11 (ablation).
PAPER_TABLE1 = {
    "even": {"fifo": 1.38, "srsf": 1.69, "venn": 1.87},
    "small": {"fifo": 1.48, "srsf": 1.68, "venn": 1.78},
    "large": {"fifo": 1.64, "srsf": 1.57, "venn": 1.72},
    "low": {"fifo": 1.55, "srsf": 1.66, "venn": 1.88},
    "high": {"fifo": 1.42, "srsf": 1.41, "venn": 1.63},
}
PAPER_ABLATION = {
    "low": {"venn-no-sched": 1.62, "venn-no-match": 1.79, "venn": 1.88},
    "high": {"venn-no-sched": 1.42, "venn-no-match": 1.63, "venn": 1.63},
}
TABLE_POLICIES = ("random", "fifo", "srsf", "venn")
ABLATION_POLICIES = ("venn-no-sched", "venn-no-match")

WHY_DIFFERENT = """\
Why our figures differ from the paper's:
- Devices. The authors replay FedScale's real availability trace (136 k devices, a week, repeated);
  it cannot be downloaded here, so we use the calibrated synthetic diurnal generator (300 k check-ins
  a day, device speeds from AI Benchmark, categories from the authors' eligibility sample). Its
  contention differs from the real trace's, and contention decides how much ordering matters.
- Rounds. A round's deadline counts from the dispatch of its last device (see JobSpec); at this density
  almost no round fails, so nearly all of a JCT is scheduling delay and tier matching (which multiplies
  the scheduling delay by about V) rarely pays off: Venn and Venn without matching are close.
- Ordering keys. SRSF orders by the current round's remaining demand (as the paper describes it); Venn
  orders inside a group by remaining service (the rest of this round plus all rounds to come). Part of
  Venn's lead over SRSF here comes from that key, not only from the group allocation.
- Seeds. The paper reports its own runs; ours are the mean of per-seed speed-ups over the seeds listed.
"""


def reproduce_table1(workloads, seeds: int, scale: float, workers: int, out: Path, command: str) -> None:
    from tqdm import tqdm

    options = () if scale == 1.0 else (("scale", scale),)
    specs = []
    for workload in workloads:
        policies = TABLE_POLICIES + (ABLATION_POLICIES if workload in PAPER_ABLATION else ())
        specs += [RunSpec(f"paper/{workload}-v0", seed, p, options) for seed in range(seeds) for p in policies]
    start = time.time()
    with tqdm(total=len(specs), unit="run", dynamic_ncols=True) as bar:
        runs = run_many(specs, workers=min(workers, len(specs)), on_done=lambda run: bar.update())
    wall = time.time() - start
    summaries = {}
    for workload in workloads:
        mine = [r for r in runs if r.spec.scenario == f"paper/{workload}-v0"]
        summaries[workload] = summarise(mine)
        write_outputs(mine, summaries[workload], out / "paper" / workload, command)
    _write_tables(summaries, out, command, seeds, scale, wall)


def _speedup(summary: dict, policy: str) -> tuple[float, float]:
    p = summary["policies"][policy]
    return p["speedup_vs_random"], p["speedup_vs_random_std"]


def _write_tables(summaries: dict, out: Path, command: str, seeds: int, scale: float, wall_s: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    header = [
        f"Produced by `{command}` on {machine_description()}, seeds 0..{seeds - 1}, "
        f"scale {scale}, in {wall_s / 60:.0f} min of wall time. Speed-up = Random's mean JCT / the "
        "policy's, per seed, then averaged (± sd over seeds). Paper: Liu et al., MLSys 2025, Table 1 / Fig. 11.",
        "",
    ]
    csv_rows = ["table,workload,policy,ours_speedup,ours_sd,paper_speedup,ours_mean_jct_h,random_mean_jct_h"]
    lines = header + ["## Table 1: average JCT speed-up over Random", "",
                      "| workload | FIFO (ours / paper) | SRSF (ours / paper) | Venn (ours / paper) | Random mean JCT (h) |",
                      "|---|---|---|---|---|"]
    for workload, summary in summaries.items():
        cells = []
        for policy in ("fifo", "srsf", "venn"):
            ours, sd = _speedup(summary, policy)
            paper = PAPER_TABLE1.get(workload, {}).get(policy)
            cells.append(f"{ours:.2f}x ± {sd:.2f} / {paper:.2f}x" if paper else f"{ours:.2f}x ± {sd:.2f} / -")
            csv_rows.append(_csv_row("table1", workload, policy, summary, paper))
        random_h = summary["policies"]["random"]["mean_jct_s"] / 3600
        lines.append(f"| {workload} | " + " | ".join(cells) + f" | {random_h:.0f} |")
    ablation = [w for w in summaries if w in PAPER_ABLATION]
    if ablation:
        lines += ["", "## Ablation (Fig. 11): speed-up over Random", "",
                  "| workload | Venn w/o scheduling (ours / paper) | Venn w/o matching (ours / paper) | Venn (ours / paper) |",
                  "|---|---|---|---|"]
        for workload in ablation:
            cells = []
            for policy in ABLATION_POLICIES + ("venn",):
                ours, sd = _speedup(summaries[workload], policy)
                cells.append(f"{ours:.2f}x ± {sd:.2f} / {PAPER_ABLATION[workload][policy]:.2f}x")
                if policy != "venn":
                    csv_rows.append(_csv_row("ablation", workload, policy, summaries[workload],
                                             PAPER_ABLATION[workload][policy]))
            lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    lines += ["", WHY_DIFFERENT]
    (out / "table1.md").write_text("\n".join(lines))
    (out / "table1.csv").write_text("\n".join([f"# {header[0]}", *csv_rows]) + "\n")
    record = {"command": command, "seeds": seeds, "scale": scale, "wall_s": wall_s, "summaries": summaries}
    (out / "table1.json").write_text(json.dumps(record, indent=1) + "\n")


def rewrite_tables(out: Path) -> None:
    """Re-render table1.md/.csv from the simulations recorded in table1.json (no new runs)."""
    record = json.loads((out / "table1.json").read_text())
    _write_tables(record["summaries"], out, record["command"], record["seeds"], record["scale"], record["wall_s"])


def _csv_row(table: str, workload: str, policy: str, summary: dict, paper) -> str:
    ours, sd = _speedup(summary, policy)
    mean_h = summary["policies"][policy]["mean_jct_s"] / 3600
    random_h = summary["policies"]["random"]["mean_jct_s"] / 3600
    return f"{table},{workload},{policy},{ours:.4f},{sd:.4f},{paper if paper else ''},{mean_h:.2f},{random_h:.2f}"
