"""The hindsight oracle's schedule space and its search (see :mod:`venn_gym.experiments.headroom`).

A schedule of this space is Venn's decision at every scheduling event, changed by three constant
settings that Venn has no knob for:

- ``shift[j]``: added to job j's scores, in units of Venn's job ranks (it moves a job up or down
  the order inside its group and among the jobs that take other groups' devices);
- ``backoff_s[j]``: after a round of job j fails, the retry is held back this long
  (:meth:`Simulation.hold_rounds`) instead of being requested at once;
- ``split[c]``: the share of device class c's check-ins that go to the job Venn would give them
  (1: all, Venn), the rest going to the best job of another group eligible for the class, through
  shares (:meth:`Simulation.set_scores`): a device class split between two groups.

All zero shifts, zero backoffs and unit splits are Venn itself, event for event. The search is a
local search from there: each step changes one setting of one job or class by a random move, and
keeps the change when the seed's mean JCT (censored at the horizon) falls. Every schedule it
scores is simulated, so the best is achievable.

The same search over several futures of one workload (:func:`redrawn_futures`: the same jobs and
devices, new check-ins, noise and draws) keeps a change when the mean over those futures falls: a
schedule found that way fits the workload, not one future's chance events.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..metrics import censored_jct
from ..policy import Policy, run_policy
from ..scenario import Scenario
from ..seeds import ORACLE_STREAM, future_seed, stream

SHIFT_SIZES = (1.5, 4.5, 12.5, 50.5)  # in ranks; the .5 keeps a shifted job off its neighbours' ranks
BACKOFF_CHOICES_S = (0.0, 300.0, 1200.0, 3600.0)
SPLIT_CHOICES = (1.0, 0.75, 0.5, 0.25)
MOVES = ("shift", "backoff", "split")


@dataclass
class OracleSettings:
    """A point of the oracle's space (see the module docstring)."""

    shift: np.ndarray  # per job, in ranks
    backoff_s: np.ndarray  # per job
    split: np.ndarray  # per device class

    @classmethod
    def venn(cls, n_jobs: int, n_classes: int) -> OracleSettings:
        return cls(np.zeros(n_jobs), np.zeros(n_jobs), np.ones(n_classes))

    def copy(self) -> OracleSettings:
        return OracleSettings(self.shift.copy(), self.backoff_s.copy(), self.split.copy())

    def as_dict(self) -> dict:
        return {"shift": self.shift.tolist(), "backoff_s": self.backoff_s.tolist(), "split": self.split.tolist()}


class OracleSchedule(Policy):
    """``base`` (Venn) changed by :class:`OracleSettings`."""

    def __init__(self, base: Policy, settings: OracleSettings):
        self.base, self.settings = base, settings
        self.name = f"{base.name}+oracle"

    def reset(self, static, seed: int) -> None:
        self.base.reset(static, seed)
        self._shares = None

    def scores(self, view, events) -> np.ndarray:
        static = view.static
        scores = np.array(
            np.broadcast_to(self.base.scores(view, events), (static.n_classes, static.n_jobs)), dtype=float
        )
        scores += self.settings.shift
        self._shares = None
        split = np.flatnonzero(self.settings.split < 1.0)
        if len(split):
            asking = view.active & (view.open_demand > 0) & np.isnan(view.round_held_until_s)
            shares = np.ones_like(scores)
            for c in split.tolist():
                candidates = np.flatnonzero(static.job_eligible[c] & asking & np.isfinite(scores[c]))
                if len(candidates) < 2:
                    continue
                first = candidates[np.argmax(scores[c, candidates])]
                others = candidates[static.job_requirement[candidates] != static.job_requirement[first]]
                if not len(others):
                    continue
                second = others[np.argmax(scores[c, others])]
                scores[c, second] = scores[c, first]
                shares[c] = 0.0
                shares[c, first] = self.settings.split[c]
                shares[c, second] = 1.0 - self.settings.split[c]
            self._shares = shares
        return scores

    def shares(self, view, events) -> np.ndarray | None:
        return self._shares

    def holds(self, view, events) -> np.ndarray | None:
        backoff = self.settings.backoff_s
        failed = [e.job for e in events if e.kind == "round_end" and not e.success and backoff[e.job] > 0]
        if not failed:
            return None
        hold_s = np.zeros(view.static.n_jobs)
        hold_s[failed] = backoff[failed]
        return hold_s


def censored_mean_jct(scenario: Scenario, policy: Policy) -> float:
    return float(censored_jct(run_policy(scenario, policy, keep_rounds=False).summary()))


def redrawn_futures(scenario: Scenario, first: int, n: int) -> list[Scenario]:
    """Futures ``first`` .. ``first + n - 1`` of the scenario's workload: the same jobs and devices
    under the check-ins (of a synthetic trace; a recorded one stays), task noise, tie draws and policy
    draws of another seed (:func:`venn_gym.seeds.future_seed`), none of which a schedule can foresee."""
    return [scenario.replace(seed=future_seed(scenario.seed, k)) for k in range(first, first + n)]


def mean_over_futures(futures: Sequence[Scenario], settings: OracleSettings) -> float:
    """The search's objective: the mean JCT (censored at the horizon) of Venn changed by
    ``settings``, averaged over the futures."""
    from ..baselines import make_policy

    return sum(censored_mean_jct(f, OracleSchedule(make_policy("venn"), settings)) for f in futures) / len(futures)


@dataclass
class SearchResult:
    best_jct_s: float
    start_jct_s: float
    settings: OracleSettings
    evaluations: int
    accepted: int
    accepted_by_move: dict
    wall_s: float


def _propose(settings: OracleSettings, rng: np.random.Generator) -> tuple[OracleSettings, str]:
    """``settings`` with one random move applied, and the move's name."""
    proposal = settings.copy()
    move = MOVES[int(rng.integers(len(MOVES)))]
    if move == "shift":
        j = int(rng.integers(len(proposal.shift)))
        proposal.shift[j] += rng.choice(SHIFT_SIZES) * rng.choice((-1.0, 1.0))
    elif move == "backoff":
        j = int(rng.integers(len(proposal.backoff_s)))
        proposal.backoff_s[j] = rng.choice([b for b in BACKOFF_CHOICES_S if b != proposal.backoff_s[j]])
    else:
        c = int(rng.integers(len(proposal.split)))
        proposal.split[c] = rng.choice([f for f in SPLIT_CHOICES if f != proposal.split[c]])
    return proposal, move


def hindsight_search(
    scenario: Scenario | Sequence[Scenario],
    budget: int,
    seed: int = 0,
    on_step: Callable[[int, float], None] | None = None,
) -> SearchResult:
    """Local search over :class:`OracleSettings` from Venn's, ``budget`` evaluations in all (an
    evaluation simulates each of the futures once). ``scenario``: one future (the hindsight oracle),
    or several of one workload (:func:`redrawn_futures`), whose mean the search lowers."""
    from ..simulation import Simulation

    started = time.perf_counter()
    futures = [scenario] if isinstance(scenario, Scenario) else list(scenario)
    static = Simulation(futures[0], keep_rounds=False).static
    rng = stream(seed, ORACLE_STREAM)
    settings = OracleSettings.venn(static.n_jobs, static.n_classes)
    best = start = mean_over_futures(futures, settings)
    accepted = {move: 0 for move in MOVES}
    for step in range(1, budget):
        proposal, move = _propose(settings, rng)
        jct = mean_over_futures(futures, proposal)
        if jct < best:
            accepted[move] += 1
            best, settings = jct, proposal
        if on_step is not None:
            on_step(step, best)
    return SearchResult(
        best, start, settings, max(budget, 1), sum(accepted.values()), accepted, time.perf_counter() - started
    )
