"""FIFO: the earliest-arrived eligible job with open demand first."""

from typing import NamedTuple

import numpy as np

from venn_gym.compiled import compiled, register
from venn_gym.event_loop import PolicyKernel, policy_kernel
from venn_gym.policy import Policy, rank_scores


class ArrivalOrder(NamedTuple):
    """FIFO's kernel state: the number of jobs."""

    n_jobs: int


class FifoPolicy(Policy):
    name = "fifo"
    _ranked_arrivals: bytes | None = None  # the arrival times that _scores rank

    def scores(self, view, events):
        # Arrival times are fixed for a run: rank them once, not at every event.
        arrivals = view.arrival_s.tobytes()
        if arrivals != self._ranked_arrivals:
            self._scores = rank_scores(view.arrival_s, view.arrival_s)
            self._ranked_arrivals = arrivals
        return self._scores.copy()

    def kernel(self, static):
        return PolicyKernel(ArrivalOrder(static.n_jobs), np.full((1, static.n_jobs), -np.inf))


@compiled
def _arrival_order(state, events, view, scores):
    if scores[0, 0] == -np.inf:  # the first event: arrival times are fixed for a run, rank them once
        scores[0, :] = rank_scores(view[2], view[2])


register(policy_kernel, ArrivalOrder, _arrival_order)
