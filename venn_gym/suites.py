"""Benchmark suites: named, versioned train and test splits (scenario ids x seed ranges) that
results can cite.

A suite fixes what an agent may train on and what it is scored on: the same scenario ids, at the
same scale, with disjoint seeds. Training episodes draw scenario seeds of
``TRAIN_SEED_MIN`` and above (``venn-gym train`` enforces it); a suite's test seeds are below it.
``venn-gym evaluate --suite NAME --agent model.zip`` plays the agent and every baseline on each test
scenario and writes one leaderboard row per (agent, scenario) (:data:`ROW_FIELDS`).

A suite never changes once published: a change of scenarios, scale or seeds is a new version
(``paper-v2``), and results name the version they were measured on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional, Sequence

from .errors import SpecError

TRAIN_SEED_MIN = 10_000  # training episodes use scenario seeds >= this; test seeds are below it

# One leaderboard row per (agent, test scenario): what anyone can recompute from the shipped model.
ROW_FIELDS = (
    "suite",  # suite name and version, e.g. paper-v1
    "scenario",  # test scenario id
    "policy",  # agent name (its file's stem) or baseline
    "model_sha256",  # of the model file (empty for a baseline)
    "seeds",  # the suite's test seeds, e.g. 100-104
    "mean_jct_h",  # mean over seeds of the censored mean JCT (an unfinished job ends at the horizon)
    "paired_vs_venn",  # mean over seeds of Venn's mean JCT / the policy's (> 1: faster than Venn)
    "paired_vs_venn_ci95_lo",  # 95 % Student-t interval over seeds
    "paired_vs_venn_ci95_hi",
    "unfinished_jobs",  # summed over seeds
    "trained_on",  # scenario x scale of the training run (from the model's training record)
    "training_steps",
    "training_wall_s",
    "training_machine",
    "command",  # the command that produced the row
)


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    scenarios: tuple[str, ...]  # the same ids for training (seeds >= TRAIN_SEED_MIN) and testing
    scale: float
    test_seeds: tuple[int, ...]

    @property
    def options(self) -> dict:
        return {"scale": self.scale}

    @property
    def seeds_text(self) -> str:
        seeds = self.test_seeds
        contiguous = list(seeds) == list(range(seeds[0], seeds[-1] + 1))
        return f"{seeds[0]}-{seeds[-1]}" if contiguous and len(seeds) > 1 else ",".join(map(str, seeds))

    def modified(
        self,
        scenarios: Optional[Sequence[str]] = None,
        scale: Optional[float] = None,
        test_seeds: Optional[Sequence[int]] = None,
    ) -> "Suite":
        """This suite with some splits changed: no longer the published suite, and named so
        (results then cite ``paper-v1 (modified: scale 0.02)``, never ``paper-v1``)."""
        changes = {}
        if scenarios is not None and tuple(scenarios) != self.scenarios:
            changes["scenarios"] = tuple(scenarios)
        if scale is not None and float(scale) != self.scale:
            changes["scale"] = float(scale)
        if test_seeds is not None and tuple(int(x) for x in test_seeds) != self.test_seeds:
            changes["test_seeds"] = tuple(int(x) for x in test_seeds)
        if not changes:
            return self
        held_in = [x for x in changes.get("test_seeds", ()) if not 0 <= x < TRAIN_SEED_MIN]
        if held_in:
            raise SpecError(f"test seeds must be held out from training: 0 <= seed < {TRAIN_SEED_MIN}, got {held_in}")
        changed = replace(self, **changes)
        shown = {
            "scenarios": ",".join(changed.scenarios),
            "scale": f"{changed.scale:g}",
            "test_seeds": changed.seeds_text,
        }
        what = ", ".join(f"{key.replace('_', ' ')} {shown[key]}" for key in changes)
        return replace(changed, name=f"{self.name} (modified: {what})")


def _paper(version: int, description: str) -> Suite:
    return Suite(
        name=f"paper-v{version}",
        description=description,
        scenarios=tuple(f"paper/{mix}-v{version}" for mix in ("even", "low", "high", "res_intensive")),
        scale=0.05,
        test_seeds=tuple(range(100, 105)),
    )


SUITES = {
    s.name: s
    for s in (
        _paper(1, "the paper's Even, Low, High and Res-intensive workloads, request-timed rounds (the leaderboard)"),
        _paper(0, "the same workloads with dispatch-timed rounds (the leaderboard before request timing)"),
    )
}
for _suite in SUITES.values():  # test seeds are held out from training by construction
    assert all(0 <= s < TRAIN_SEED_MIN for s in _suite.test_seeds), _suite.name


def get_suite(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise SpecError(f"unknown suite {name!r}; known: {', '.join(SUITES)}") from None
