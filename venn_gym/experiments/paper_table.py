"""Reproduce the Venn paper's Table 1 (speed-up over Random) and its Low/High ablation.

Each run of ``venn-gym paper-table`` simulates one version of the paper scenarios
(``--version``, default 1) and records it in ``OUT/table1-v<version>.json``;
``table1.md`` / ``table1.csv`` are rendered from every recorded version, so the
``-v1`` figures stand next to the ``-v0`` ones and the paper's.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import SpecError
from ..metrics import censored_jct
from ..outputs import machine_description, output_folder, write_atomically
from .compare import RunSpec, run_many, summarise, write_outputs

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
TABLE_POLICIES = ("random", "random-order", "fifo", "srsf", "venn", "venn-ref")
ABLATION_POLICIES = ("venn-no-sched", "venn-no-match")
POLICY_TITLES = {
    "random-order": "Random-order",
    "fifo": "FIFO",
    "srsf": "SRSF",
    "venn": "Venn",
    "venn-ref": "Venn-ref (authors' order)",
    "venn-no-sched": "Venn w/o scheduling",
    "venn-no-match": "Venn w/o matching",
    "random": "Random",
}

NOTES = """\
How to read these tables:
- Speed-up = Random's mean JCT / the policy's, per seed, then averaged (± sd over seeds). On `-v1`
  Random does not finish every job before the horizon (the authors' trace length), so its `-v1`
  speed-ups use the mean JCT censored at the horizon (an unfinished job counts as ending there): a
  lower bound on Random's true mean, hence on the speed-up. Where every job finishes the two means agree.
- `-v0` times a round's deadline from the dispatch of its last device (a round that cannot fill
  never fails); `-v1` from the round's request, as the authors' simulator and production FL do.
- Venn orders a group by remaining service (this round plus all rounds to come); Venn-ref by the
  current round's remaining demand (the authors' rule, as SRSF). Both use tier matching.

Where the `-v1` shape differs from the paper's (as measured in the runs recorded above):
- Against uniform Random every policy looks 2.3-4.5x faster, far beyond the paper's 1.4-1.9x:
  under request timing uniform Random spreads devices over every open round, nearly all of its
  rounds fail (96-100 % of its tasks wasted) and most jobs are unfinished at the horizon. The
  authors' own code ranks rounds by a random priority per request (`random-order`); against it
  the speed-ups come out 7-31 % above the paper's, in the paper's order: Venn first everywhere,
  SRSF ahead of FIFO on Even, Small and Low, FIFO level with or ahead of SRSF on Large and High.
- The ablation does not reproduce: without its group allocation (`venn-no-sched`) Venn is within
  2 % or faster, where the paper loses 13-14 %; without tier matching it is level, as on `-v0`. With
  the authors' order inside a group the group allocation does pay on Large and High (`venn-ref`
  is about 10 % ahead of SRSF there, level elsewhere), but venn_gym's order (remaining service)
  gains 6-16 % over the authors' and leaves the allocation nothing to add. Whether the real
  FedScale trace's contention changes that cannot be checked here (it cannot be downloaded).

Why our figures differ from the paper's:
- Devices. The authors replay FedScale's real availability trace (136 k devices, a week, repeated);
  it cannot be downloaded here, so we use the calibrated synthetic diurnal generator (300 k check-ins
  a day, device speeds from AI Benchmark, categories from the authors' eligibility sample). Its
  contention differs from the real trace's, and contention decides how much ordering matters.
- Random. Ours gives each check-in to a uniformly random eligible job with open demand (the
  production rule the paper describes); under request timing that spreads devices over every open
  round so that few rounds gather a quorum before their deadline, and Random collapses (many jobs
  unfinished at the horizon, most of its device work wasted), which the authors' simulator shows too.
  The paper's own Random speed-ups (1.4-1.9x) are far below that collapse.
- Seeds. The paper reports its own runs; ours are the mean of per-seed speed-ups over the seeds listed.
"""


def _check_record(path: Path, workloads, seeds: int, scale: float, overwrite: bool) -> None:
    """Before simulating: a record made with other seeds or scale would be replaced, and its other
    workloads lost, so that needs ``overwrite``."""
    if overwrite or not path.exists():
        return
    earlier = json.loads(path.read_text())
    lost = sorted(set(earlier["summaries"]) - set(workloads))
    if (earlier["seeds"], earlier["scale"]) != (seeds, scale) and lost:
        raise SpecError(
            f"{path} holds a run with {earlier['seeds']} seeds at scale {earlier['scale']}; this one "
            f"({seeds} seeds, scale {scale}) would replace it and lose its workloads {lost}: pass --overwrite, "
            "or write to another --out"
        )


def scenario_name(workload: str, version: int) -> str:
    return f"paper/{workload}-v{version}"


def reproduce_table1(
    workloads,
    seeds: int,
    scale: float,
    workers: int,
    out: Path,
    command: str,
    version: int = 1,
    overwrite: bool = False,
) -> None:
    from tqdm import tqdm

    _check_record(Path(out) / f"table1-v{version}.json", workloads, seeds, scale, overwrite)
    options = () if scale == 1.0 else (("scale", scale),)
    specs = []
    for workload in workloads:
        policies = TABLE_POLICIES + (ABLATION_POLICIES if workload in PAPER_ABLATION else ())
        specs += [
            RunSpec(scenario_name(workload, version), seed, p, options) for seed in range(seeds) for p in policies
        ]
    start = time.time()
    with tqdm(total=len(specs), unit="run", dynamic_ncols=True) as bar:
        runs = run_many(specs, workers=min(workers, len(specs)), on_done=lambda run: bar.update())
    wall = time.time() - start
    summaries = {}
    for workload in workloads:
        mine = [r for r in runs if r.spec.scenario == scenario_name(workload, version)]
        summaries[workload] = summarise(mine)
        with output_folder(out / f"paper-v{version}" / workload, overwrite=True) as folder:
            write_outputs(mine, summaries[workload], folder, command)
    record = {
        "command": command,
        "version": version,
        "seeds": seeds,
        "scale": scale,
        "wall_s": wall,
        "machine": machine_description(),
        "summaries": summaries,
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"table1-v{version}.json"
    if path.exists():  # workloads simulated earlier with the same seeds and scale stay in the record
        earlier = json.loads(path.read_text())
        if (earlier["seeds"], earlier["scale"]) == (seeds, scale):
            merged = {**earlier["summaries"], **summaries}
            order = [w for w in PAPER_TABLE1 if w in merged] + [w for w in merged if w not in PAPER_TABLE1]
            same = earlier["command"] == command or set(summaries) >= set(earlier["summaries"])
            record.update(
                summaries={w: merged[w] for w in order},
                wall_s=earlier["wall_s"] + wall,
                command=command if same else f"{earlier['command']}` and `{command}",
            )
    write_atomically(path, json.dumps(record, indent=1) + "\n")
    rewrite_tables(out)


def rewrite_tables(out: Path) -> None:
    """Render table1.md/.csv from every ``table1-v<N>.json`` recorded in ``out`` (no new runs)."""
    records = {}
    for path in sorted(out.glob("table1-v*.json")):
        record = json.loads(path.read_text())
        records[int(record.get("version", path.stem.rsplit("-v", 1)[1]))] = record
    if not records:
        raise FileNotFoundError(f"no table1-v<N>.json in {out}: run venn-gym paper-table first")
    _write_tables(records, out)


def _speedup(record: Optional[dict], workload: str, policy: str, reference: str) -> Optional[tuple[float, float]]:
    """Mean and sd over seeds of ``reference``'s mean JCT / ``policy``'s (censored at the horizon
    where recorded; records without it are older versions, where every job finished)."""
    policies = (record or {}).get("summaries", {}).get(workload, {}).get("policies", {})
    if policy not in policies or reference not in policies:
        return None
    base = {s["seed"]: censored_jct(s) for s in policies[reference]["per_seed"]}
    ratios = np.array([base[s["seed"]] / censored_jct(s) for s in policies[policy]["per_seed"] if s["seed"] in base])
    return float(ratios.mean()), float(ratios.std(ddof=1)) if len(ratios) > 1 else 0.0


def _cell(record: Optional[dict], workload: str, policy: str, reference: str, with_sd: bool = False) -> str:
    value = _speedup(record, workload, policy, reference)
    if value is None:
        return "-"
    return f"{value[0]:.2f}x ± {value[1]:.2f}" if with_sd else f"{value[0]:.2f}x"


def _write_tables(records: dict[int, dict], out: Path) -> None:
    latest = max(records)
    main = records[latest]
    older = [records[v] for v in sorted(records, reverse=True) if v != latest]
    header = []
    for version, record in sorted(records.items(), reverse=True):
        header.append(
            f"- `-v{version}`: produced by `{record['command']}` on "
            f"{record.get('machine', 'x86_64, 2 CPUs, CPython 3.11.7')}, seeds 0..{record['seeds'] - 1}, "
            f"scale {record['scale']}, in {record['wall_s'] / 60:.0f} min of wall time."
        )
    header += ["", "Paper: Liu et al., MLSys 2025, Table 1 / Fig. 11.", ""]
    lines = [f"# Table 1 on `paper/*-v{latest}`", "", *header]
    workloads = list(main["summaries"])
    compared = ("fifo", "srsf", "venn", "venn-ref")
    has_order = any("random-order" in main["summaries"][w]["policies"] for w in workloads)
    if has_order:
        lines += _speedup_table(
            f"Table 1: average JCT speed-up over Random-order (the authors' code's Random), v{latest} / paper",
            main,
            [],
            workloads,
            compared,
            "random-order",
            PAPER_TABLE1,
        )
    versions = " / ".join([f"v{latest}"] + [f"v{r['version']}" for r in older] + ["paper"])
    lines += _speedup_table(
        f"Table 1: average JCT speed-up over Random (uniform per device), {versions}",
        main,
        older,
        workloads,
        compared,
        "random",
        PAPER_TABLE1,
    )
    random_rows = [
        f"| {w} | " + " | ".join(_unfinished(main, w, p) for p in ("random", "random-order")) + " |" for w in workloads
    ]
    lines += [
        "",
        f"Jobs unfinished at the horizon on `-v{latest}` (mean per seed) and censored mean JCT:",
        "",
        "| workload | Random | Random-order |",
        "|---|---|---|",
        *random_rows,
    ]
    if all(_recorded(main["summaries"][w], TABLE_POLICIES, "wasted_task_share") for w in workloads):
        lines += _waste_and_order_tables(main, latest)
    ablation = [w for w in workloads if w in PAPER_ABLATION]
    if ablation:
        reference = "random-order" if has_order else "random"
        lines += _speedup_table(
            f"Ablation (Fig. 11): speed-up over {POLICY_TITLES[reference]}, v{latest} / paper",
            main,
            [],
            ablation,
            ABLATION_POLICIES + ("venn",),
            reference,
            PAPER_ABLATION,
        )
        if older:
            lines += _speedup_table(
                f"Ablation (Fig. 11): speed-up over Random, {versions}",
                main,
                older,
                ablation,
                ABLATION_POLICIES + ("venn",),
                "random",
                PAPER_ABLATION,
            )
    lines += ["", NOTES]
    csv_rows = [
        "version,workload,policy,reference,ours_speedup,ours_sd,paper_speedup,mean_jct_h,"
        "mean_jct_censored_h,unfinished_jobs,failed_rounds,wasted_task_share"
    ]
    for record in [main, *older]:
        for workload, summary in record["summaries"].items():
            paper = {**PAPER_TABLE1.get(workload, {}), **PAPER_ABLATION.get(workload, {})}
            for reference in ("random-order", "random"):
                for policy, p in summary["policies"].items():
                    value = _speedup(record, workload, policy, reference)
                    if value is None or policy == reference:
                        continue
                    csv_rows.append(
                        ",".join(
                            str(x)
                            for x in (
                                record["version"],
                                workload,
                                policy,
                                reference,
                                f"{value[0]:.4f}",
                                f"{value[1]:.4f}",
                                paper.get(policy, "") if reference == "random" else "",
                                f"{p['mean_jct_s'] / 3600:.2f}",
                                f"{censored_jct(p) / 3600:.2f}",
                                p.get("unfinished_jobs", ""),
                                p.get("failed_rounds", ""),
                                f"{p['wasted_task_share']:.4f}" if "wasted_task_share" in p else "",
                            )
                        )
                    )
    write_atomically(out / "table1.md", "\n".join(lines))
    write_atomically(
        out / "table1.csv", "\n".join([*(f"# {h[2:]}" for h in header if h.startswith("- ")), *csv_rows]) + "\n"
    )


def _speedup_table(
    title: str, main: dict, older: list[dict], workloads, policies, reference: str, paper: dict
) -> list[str]:
    lines = [
        "",
        f"## {title}",
        "",
        "| workload | " + " | ".join(POLICY_TITLES[p] for p in policies) + " |",
        "|---|" + "---|" * len(policies),
    ]
    for workload in workloads:
        cells = []
        for policy in policies:
            parts = [_cell(main, workload, policy, reference, with_sd=True)]
            parts += [_cell(record, workload, policy, reference) for record in older]
            figure = paper.get(workload, {}).get(policy)
            parts.append(f"{figure:.2f}x" if figure else "-")
            cells.append(" / ".join(parts))
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    return lines


def _unfinished(record: dict, workload: str, policy: str) -> str:
    p = record["summaries"][workload]["policies"].get(policy)
    if p is None:
        return "-"
    seeds = len(p["per_seed"])
    return f"{p['unfinished_jobs'] / seeds:.0f} of {p['per_seed'][0]['jobs']}, {censored_jct(p) / 3600:,.0f} h"


def _recorded(summary: dict, policies, field: str) -> bool:
    return all(field in summary["policies"].get(p, {}) for p in policies)


def _waste_and_order_tables(main: dict, latest: int) -> list[str]:
    lines = [
        "",
        f"## Failed rounds and wasted work on `-v{latest}` (mean per seed; wasted: share of tasks "
        "dispatched to rounds that failed)",
        "",
        "| workload | " + " | ".join(POLICY_TITLES[p] for p in TABLE_POLICIES) + " |",
        "|---|" + "---|" * len(TABLE_POLICIES),
    ]
    for workload, summary in main["summaries"].items():
        cells = [
            f"{summary['policies'][p]['failed_rounds']:,.0f} rounds, {summary['policies'][p]['wasted_task_share']:.0%}"
            for p in TABLE_POLICIES
        ]
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"## Venn's order (remaining service) against the authors' (this round's demand) on `-v{latest}`",
        "",
        "| workload | Venn mean JCT (h) | Venn-ref mean JCT (h) | Venn's gain |",
        "|---|---|---|---|",
    ]
    for workload, summary in main["summaries"].items():
        venn, ref = summary["policies"]["venn"], summary["policies"]["venn-ref"]
        lines.append(
            f"| {workload} | {venn['mean_jct_censored_s'] / 3600:.1f} | {ref['mean_jct_censored_s'] / 3600:.1f} "
            f"| {ref['mean_jct_censored_s'] / venn['mean_jct_censored_s'] - 1:+.1%} |"
        )
    return lines
