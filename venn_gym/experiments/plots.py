"""Figures for comparisons: JCT CDF per policy and speed-up bars."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers or CI
import matplotlib.pyplot as plt
import numpy as np


def plot_jct_cdf(jct_by_policy: dict[str, np.ndarray], path: Path, title: str = "") -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    drawn = 0
    for name, jct in jct_by_policy.items():
        if len(jct) == 0:
            continue
        drawn += 1
        hours = np.sort(jct) / 3600.0
        ax.step(hours, np.arange(1, len(hours) + 1) / len(hours), where="post", label=name)
    ax.set_xlabel("job completion time (h)")
    ax.set_ylabel("fraction of jobs")
    ax.set_title(f"JCT CDF: {title}" if title else "JCT CDF")
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no job finished", ha="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_speedups(summary: dict, path: Path, title: str) -> Path:
    """Speed-up over Random per policy, from JCTs censored at the horizon (an unfinished job counted
    as ending there; the plain mean where every job finished): finished-only means would credit a
    policy that leaves its long jobs unfinished."""
    policies = summary["policies"]
    key = (
        "speedup_vs_random_censored"
        if all("speedup_vs_random_censored" in p for p in policies.values())
        else "speedup_vs_random"
    )
    names = [n for n, p in policies.items() if p[key] is not None]
    values = [policies[n][key] for n in names]
    errors = [policies[n][f"{key}_std"] for n in names]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(names, values, yerr=errors, capsize=4, color="tab:blue")
    ax.axhline(1.0, color="gray", lw=1, ls="--")
    ax.set_ylabel("JCT speed-up over random" + (" (censored)" if key.endswith("censored") else ""))
    ax.set_title(f"{title} (error bars: sd over seeds)")
    ax.tick_params(axis="x", labelrotation=30)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
