"""SRSF: the job with the smallest remaining demand of its current round first."""

from typing import NamedTuple

import numpy as np

from venn_gym.compiled import compiled, register
from venn_gym.event_loop import PolicyKernel, policy_kernel
from venn_gym.policy import Policy, rank_scores


class SmallestOpenDemand(NamedTuple):
    """SRSF's kernel state: the number of jobs."""

    n_jobs: int


class SrsfPolicy(Policy):
    name = "srsf"

    def scores(self, view, events):
        return rank_scores(view.open_demand, view.arrival_s)

    def kernel(self, static):
        return PolicyKernel(SmallestOpenDemand(static.n_jobs), np.full((1, static.n_jobs), -np.inf))


@compiled
def _smallest_open_demand(state, events, view, scores):
    scores[0, :] = rank_scores(view[4], view[2])


register(policy_kernel, SmallestOpenDemand, _smallest_open_demand)
