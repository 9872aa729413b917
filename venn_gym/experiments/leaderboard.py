"""The results leaderboard: ``venn-gym leaderboard --out results/``.

Rows: the baselines and every shipped agent (``agents/models/*.zip``, each with its
``.json`` training record); columns: scaled paper workloads; cells: mean JCT
speed-up over Random with a 95 % t-interval over held-out seeds. Writes
``leaderboard.md``, ``leaderboard.csv``, ``leaderboard.png`` and, per scenario,
the full evaluation (``leaderboard/<scenario>/summary.json`` etc., as ``venn-gym evaluate``).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Sequence

from ..agents.play import shipped_models, training_record
from ..outputs import machine_description, write_atomically
from ..suites import SUITES, Suite
from .evaluate import (
    BASELINES,
    agent_name,
    evaluate_suite,
    paired_ratio,
    paired_vs_venn,
    suite_rows,
    suite_scenario_dir,
    summary_rows,
    write_rows,
)

log = logging.getLogger(__name__)

DEFAULT_SUITE = "paper-v1"


def budget_text(rec: dict) -> str:
    if not rec:
        return "(no training record)"
    bc = rec.get("bc") or {}
    parts = [
        f"{rec['algo']} on {rec['env_id'].split('/')[-1]}",
        f"trained on {rec['scenario']} x{rec.get('scale')} (seeds >= 10000)",
        f"{rec['timesteps']:,} RL steps in {rec['wall_s'] / 60:.1f} min "
        f"({rec.get('env_steps_per_s') or 0:.0f} env steps/s)"
        if rec["timesteps"]
        else "no RL steps",
    ]
    if rec.get("residual"):
        res = rec["residual"]
        parts.append(
            f"residual over {res['teacher']} (correction weight {res['correction_weight']}), "
            f"reward relative to {res['teacher']} on the same seed"
        )
    if rec.get("knobs"):
        parts.append(
            f"chooses per step among {', '.join(rec['knobs']['menu'])}; reward relative to venn on the same seed"
        )
    if rec.get("holds"):
        parts.append(
            f"{rec['holds']['teacher']} allocates, the agent holds rounds back; reward relative to "
            f"{rec['holds']['teacher']} on the same seed"
        )
    if bc:
        parts.append(f"BC from {bc['teacher']} ({bc['samples']:,} samples, {bc.get('wall_s', 0):.0f} s)")
    return "; ".join(parts)


def leaderboard(
    out: Path,
    suite: Suite = SUITES[DEFAULT_SUITE],
    models: Path | None = None,
    workers: int = 1,
    command: str = "",
    run: bool = True,
) -> list[Path]:
    """Evaluate every agent and baseline on the suite's test split (unless ``run=False``: re-render
    the tables from the per-scenario summaries already in ``out/leaderboard/``), then write the tables;
    ``out/leaderboard/rows.csv`` holds the suite's leaderboard rows."""
    out = Path(out)
    agents = shipped_models(models)
    meta_path = out / "leaderboard" / "meta.json"
    if run:
        t0 = time.perf_counter()
        evaluate_suite(agents, suite, BASELINES, workers, out / "leaderboard", command, progress=True)
        meta = {
            "command": command or "venn-gym leaderboard --out results",
            "machine": machine_description(),
            "wall_s": time.perf_counter() - t0,
            "suite": suite.name,
            "scale": suite.scale,
            "seeds": list(suite.test_seeds),
            "scenarios": list(suite.scenarios),
            "workers": workers,
        }
        write_atomically(meta_path, json.dumps(meta, indent=2) + "\n")
    return render(out, agents)


def _scenario_dir(out: Path, scenario: str) -> Path:
    return suite_scenario_dir(Path(out) / "leaderboard", scenario)


def render(out: Path, agents: Sequence[Path]) -> list[Path]:
    import pandas as pd

    meta = json.loads((out / "leaderboard" / "meta.json").read_text())
    cols = meta["scenarios"]
    rows, breakdowns, summaries = [], [], {}
    suite = Suite(meta.get("suite", "unnamed"), "", tuple(cols), meta["scale"], tuple(meta["seeds"]))
    suite_table = []
    for scenario in cols:
        summary = json.loads((_scenario_dir(out, scenario) / "summary.json").read_text())
        summaries[scenario] = summary["policies"]
        suite_table += suite_rows(suite, summary, agents, meta["command"])
        rows += summary_rows(summary)
        breakdowns += [dict(r, scenario=scenario) for r in summary["breakdown"]]
    df = pd.DataFrame(rows)
    names = {agent_name(a): a for a in agents}
    df["kind"] = ["agent" if p in names else "baseline" for p in df["policy"]]
    csv = out / "leaderboard.csv"
    order = [p for p in [*BASELINES, *names] if p in set(df["policy"])]
    short = [c.replace("paper/", "") for c in cols]
    trained_on = ", ".join(sorted({f"{r['scenario']} x{r.get('scale')}" for r in map(training_record, agents) if r}))
    # The authors' Random (a random order of round requests) where it ran: uniform Random
    # collapses under request-timed rounds, which makes ratios against it meaningless.
    reference = "random-order" if all("random-order" in summaries[c] for c in cols) else "random"
    title = {
        "random-order": "Random-order (the authors' Random: a random priority per round request)",
        "random": "Random",
    }[reference]
    speedup = {}
    for c in cols:
        for name, (mean, lo, hi) in paired_ratio(summaries[c], reference).items():
            speedup[name, c] = (mean, lo, hi)
    df["speedup"] = [speedup[p, c][0] for p, c in zip(df.policy, df.scenario)]
    df["speedup_ci95_lo"] = [speedup[p, c][1] for p, c in zip(df.policy, df.scenario)]
    df["speedup_ci95_hi"] = [speedup[p, c][2] for p, c in zip(df.policy, df.scenario)]
    df["speedup_reference"] = reference
    df.to_csv(csv, index=False)
    write_rows(out / "leaderboard" / "rows.csv", suite_table)
    lines = [
        f"# Leaderboard: mean JCT speed-up over {reference}",
        "",
        f"Produced by `{meta['command']}` on {meta['machine']} ({meta['wall_s'] / 60:.1f} min, "
        f"{meta['workers']} worker processes{'; ' + meta['note'] if meta.get('note') else ''}). "
        f"Suite {suite.name}: scenarios at scale {meta['scale']}; held-out seeds {meta['seeds']} "
        f"(agents train on seeds >= 10000; training workloads: {trained_on or 'none'}; every other column is "
        f"a held-out workload too). Cell: mean over seeds of the per-seed speed-up over {title} "
        "(its mean JCT / the policy's, JCTs censored at the scenario's horizon: an unfinished job counts as "
        "ending there) [95 % Student-t interval over seeds]. Details per scenario "
        "(summary.json in the `venn-gym compare` schema, jobs.csv, breakdown.csv): `leaderboard/<scenario>/`.",
        "",
        "| policy | " + " | ".join(short) + " |",
        "|---|" + "---|" * len(cols),
    ]
    cell = lambda r: f"{r.speedup:.2f}x [{r.speedup_ci95_lo:.2f}, {r.speedup_ci95_hi:.2f}]"  # noqa: E731
    jct = lambda r: f"{r.mean_jct_h:.2f} [{r.mean_jct_h_ci95_lo:.2f}, {r.mean_jct_h_ci95_hi:.2f}]"  # noqa: E731
    for fmt, title in ((cell, None), (jct, "Mean JCT in hours [95 % interval]:")):
        if title:
            lines += ["", title, "", "| policy | " + " | ".join(short) + " |", "|---|" + "---|" * len(cols)]
        for p in order:
            cells = [fmt(df[(df.policy == p) & (df.scenario == c)].iloc[0]) for c in cols]
            lines.append(f"| {'**' + p + '**' if p in names else p} | " + " | ".join(cells) + " |")
    if names:
        lines += [
            "",
            "Paired against Venn on the same seeds: mean over seeds of Venn's mean JCT / the agent's "
            "(> 1: the agent is faster) [95 % t-interval]:",
            "",
            "| agent | " + " | ".join(short) + " |",
            "|---|" + "---|" * len(cols),
        ]
        paired = {c: paired_vs_venn(summaries[c]) for c in cols}
        for name in names:
            cells = ["{:.3f} [{:.3f}, {:.3f}]".format(*paired[c][name]) if name in paired[c] else "" for c in cols]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    bd = pd.DataFrame(breakdowns)
    if len(bd):
        groups = ["small", "large", "general", "compute_rich", "memory_rich", "high_performance"]
        lines += [
            "",
            f"Speed-up over {reference} on the same jobs (its mean JCT over the finished jobs of a group / "
            "the policy's), by job size (small/large: participants x rounds below / at or above the median) "
            "and by eligibility category (like the paper's Tables 2 and 3):",
            "",
        ]
        for c in cols:
            sub = bd[bd.scenario == c]
            present = [g for g in groups if g in set(sub["group"])]
            lines += [f"*{c}*", "", "| policy | " + " | ".join(present) + " |", "|---|" + "---|" * len(present)]
            base = sub[sub.policy == reference].set_index("group")["mean_jct_h"]
            for p in order:
                vals = []
                for g in present:
                    r = sub[(sub.policy == p) & (sub.group == g)]
                    vals.append(f"{base[g] / r.mean_jct_h.iloc[0]:.2f}x" if len(r) and g in base.index else "")
                lines.append(f"| {p} | " + " | ".join(vals) + " |")
            lines.append("")
    if names:
        lines += ["", "## Agents (training budget on this machine)", ""]
        for name, path in names.items():
            rec = training_record(path)
            lines.append(
                f"- **{name}** (`agents/models/{path.name}`): {budget_text(rec)}. Command: `{rec.get('command', '?')}`"
            )
    md = out / "leaderboard.md"
    write_atomically(md, "\n".join(lines) + "\n")
    png = plot(df, order, cols, out / "leaderboard.png", names, reference, meta["seeds"], meta["scale"])
    log.info("wrote %s, %s, %s", md, csv, png)
    return [md, csv, png]


def plot(df, order, cols, path: Path, agents, reference: str, seeds, scale) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(cols) * max(1, len(order) / 6)) + 2.5, 4.5))
    width = 0.8 / len(order)
    x = np.arange(len(cols))
    colors = plt.get_cmap("tab20").colors  # 20 distinct colours: no two policies share one
    for i, p in enumerate(order):
        sub = df[df.policy == p].set_index("scenario").loc[cols]
        err = np.array([sub.speedup - sub.speedup_ci95_lo, sub.speedup_ci95_hi - sub.speedup])
        ax.bar(
            x + (i - len(order) / 2 + 0.5) * width,
            sub.speedup,
            width,
            yerr=err,
            capsize=2,
            label=p,
            color=colors[i % len(colors)],
            hatch="//" if p in agents else None,
        )
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(x, [c.replace("paper/", "") for c in cols])
    ax.set_ylabel(f"mean JCT speed-up over {reference}\n(bars: 95 % t-interval over seeds)")
    ax.set_title(f"Held-out seeds {', '.join(map(str, seeds))} at scale {scale}; hatched: learned agents")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
