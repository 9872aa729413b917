"""The scheduler interface, and the loop that drives a simulation with one."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

from .metrics import RunResult
from .scenario import Scenario
from .simulation import SchedulingEvent, Simulation
from .view import SchedulerView, StaticInfo


class Policy(ABC):
    """A scheduler. At every scheduling event it returns scores: shape
    ``(n_classes, n_jobs)`` or ``(n_jobs,)``; until the next event each device
    goes to the highest-scoring eligible job with open demand (ties at random,
    ``-inf`` never). It sees exactly what a learned agent sees: the
    :class:`SchedulerView` and the events that just happened."""

    name: str = "policy"

    def reset(self, static: StaticInfo, seed: int) -> None:
        """Called once before a run."""

    @abstractmethod
    def scores(self, view: SchedulerView, events: Sequence[SchedulingEvent]) -> np.ndarray:
        """The allocation until the next scheduling event."""

    def shares(self, view: SchedulerView, events: Sequence[SchedulingEvent]) -> np.ndarray | None:
        """How equal scores split a device class, asked right after :meth:`scores` at the same
        event: weights of shape ``(n_classes, n_jobs)`` or ``(n_jobs,)``, >= 0; a device goes to one of
        its class's top-scoring jobs in proportion to their weights (:meth:`Simulation.set_scores`).
        ``None``: uniformly."""
        return None

    def holds(self, view: SchedulerView, events: Sequence[SchedulingEvent]) -> np.ndarray | None:
        """Rounds to hold back, asked right after :meth:`scores` at the same event: seconds per job
        (``0``: none); a round with nothing dispatched yet and not already held is withdrawn and
        requested again that much later (:meth:`Simulation.hold_rounds`). ``None``: hold nothing."""
        return None


def run_policy(
    scenario: Scenario,
    policy: Policy,
    keep_rounds: bool = True,
    on_progress: Callable[[Simulation], None] | None = None,
) -> RunResult:
    """Simulate a scenario under a policy until every job has ended (or the horizon)."""
    sim = Simulation(scenario, keep_rounds=keep_rounds)
    drive(sim, policy, on_progress)
    return sim.result(policy.name)


def drive(sim: Simulation, policy: Policy, on_progress: Callable[[Simulation], None] | None = None) -> None:
    """Run a fresh simulation to its end, asking the policy at every scheduling event."""
    policy.reset(sim.static, sim.scenario.seed)
    may_hold = type(policy).holds is not Policy.holds
    may_share = type(policy).shares is not Policy.shares
    while True:
        events = sim.advance()
        if sim.done or not events:
            break
        view = sim.observe()
        scores = policy.scores(view, events)
        sim.set_scores(scores, policy.shares(view, events) if may_share else None)
        if may_hold:
            hold_s = policy.holds(view, events)
            if hold_s is not None:
                sim.hold_rounds(hold_s)
        if on_progress is not None:
            on_progress(sim)


def rank_order(*keys: np.ndarray) -> np.ndarray:
    """Job indices ordered by ``keys`` (first key most significant, smaller first; then by index)."""
    first = np.asarray(keys[0])
    order = np.argsort(first)
    ordered = first[order]
    if not (ordered[1:] > ordered[:-1]).all():  # ties (or NaN): a stable sort over every key
        order = np.lexsort(tuple(reversed(keys)))
    return order


def rank_scores(*keys: np.ndarray) -> np.ndarray:
    """Scores that order jobs by ``keys`` (first key most significant, smaller first;
    then by index): the first job scores 0, the next -1, and so on."""
    return scores_of_order(rank_order(*keys))


def scores_of_order(order: np.ndarray) -> np.ndarray:
    scores = np.empty(len(order))
    scores[order] = -np.arange(len(order), dtype=float)
    return scores
