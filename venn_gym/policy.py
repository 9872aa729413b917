"""The scheduler interface, and the loop that drives a simulation with one."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

from .compiled import compiled
from .event_loop import PolicyKernel
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

    def kernel(self, static: StaticInfo) -> PolicyKernel | None:
        """:meth:`scores` as compiled code, so that :func:`drive` runs the whole simulation compiled
        (:meth:`Simulation.run_kernel`) instead of asking :meth:`scores` at every scheduling event;
        asked after :meth:`reset`, and only of a policy without :meth:`shares` or :meth:`holds`. It
        must give the very scores (and draw the very random numbers) :meth:`scores` would.
        ``None`` (the default): :meth:`scores` is asked."""
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


def drive(
    sim: Simulation,
    policy: Policy,
    on_progress: Callable[[Simulation], None] | None = None,
    use_kernel: bool = True,
) -> None:
    """Run a fresh simulation to its end, asking the policy at every scheduling event, or running
    its :meth:`Policy.kernel` compiled (unless ``use_kernel`` is off; the same run either way).
    ``on_progress(sim)`` is called after each event, or once a trace chunk with a kernel."""
    policy.reset(sim.static, sim.scenario.seed)
    may_hold = type(policy).holds is not Policy.holds
    may_share = type(policy).shares is not Policy.shares
    kernel = policy.kernel(sim.static) if use_kernel and not (may_hold or may_share) else None
    if kernel is not None and sim.runs_kernels:
        sim.run_kernel(kernel, None if on_progress is None else lambda: on_progress(sim))
        return
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


@compiled
def rank_order(key, arrival_s):
    """Job indices by ascending ``key``, then arrival, then index; NaN after every number (numpy's
    sort order). A strict order, so this merge sort is exact; compiled, because the baselines order
    their jobs at every scheduling event."""
    n = len(key)
    order = np.arange(n)
    spare = np.empty(n, dtype=np.int64)
    width = 1
    while width < n:
        for lo in range(0, n, 2 * width):
            mid, hi = min(lo + width, n), min(lo + 2 * width, n)
            a, b = lo, mid
            for out in range(lo, hi):
                if b == hi or (a < mid and not _comes_before(order[b], order[a], key, arrival_s)):
                    spare[out] = order[a]
                    a += 1
                else:
                    spare[out] = order[b]
                    b += 1
        order, spare = spare, order
        width *= 2
    return order


@compiled
def rank_scores(key, arrival_s):
    """Scores in :func:`rank_order`'s order: the first job scores 0 (as -0.0), the next -1, and so on."""
    return scores_of_order(rank_order(key, arrival_s))


@compiled
def scores_of_order(order):
    """Scores that rank jobs in ``order``: 0 (as -0.0) for ``order[0]``, -1 for the next, ..."""
    scores = np.empty(len(order))
    for rank in range(len(order)):
        scores[order[rank]] = -float(rank)
    return scores


@compiled
def _comes_before(i, j, key, arrival_s):
    """Whether job i precedes job j in :func:`rank_order`."""
    if _less(key[i], key[j]):
        return True
    if _less(key[j], key[i]):
        return False
    if _less(arrival_s[i], arrival_s[j]):
        return True
    if _less(arrival_s[j], arrival_s[i]):
        return False
    return i < j


@compiled
def _less(x, y):
    """numpy's sort order: NaN after every number, NaNs equal."""
    return x < y or (y != y and x == x)
