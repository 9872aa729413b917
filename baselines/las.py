"""LAS: least attained service (fewest results collected so far) first."""

from typing import NamedTuple

import numpy as np

from venn_gym.compiled import compiled, register
from venn_gym.event_loop import PolicyKernel, policy_kernel
from venn_gym.policy import Policy, rank_scores


class LeastAttained(NamedTuple):
    """LAS's kernel state: the number of jobs."""

    n_jobs: int


class LasPolicy(Policy):
    name = "las"

    def scores(self, view, events):
        return rank_scores(view.attained, view.arrival_s)

    def kernel(self, static):
        return PolicyKernel(LeastAttained(static.n_jobs), np.full((1, static.n_jobs), -np.inf))


@compiled
def _least_attained(state, events, view, scores):
    scores[0, :] = rank_scores(view[9], view[2])


register(policy_kernel, LeastAttained, _least_attained)
