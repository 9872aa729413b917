"""Random matching, in the two forms that production systems and the Venn authors' code use.

``random``: every device goes to a uniformly random eligible job with open demand (what
production systems do: Apple, Google, Meta's Papaya; the paper's 1.0x reference).
``random-order``: every round request draws the job a random priority, and devices go to the
highest-priority eligible job with open demand, so rounds fill one after another (the Venn
authors' simulator, RandomOrderScheduler). Under request timing the first spreads devices
over every open round, and few gather a quorum before their deadline; the second does not.
"""

from typing import NamedTuple

import numpy as np

from venn_gym.compiled import compiled, register
from venn_gym.event_loop import REQUEST_EVENT, PolicyKernel, policy_kernel
from venn_gym.policy import Policy
from venn_gym.seeds import RANDOM_POLICY_STREAM, stream


class EqualScores(NamedTuple):
    """Random's kernel state: nothing but the number of jobs."""

    n_jobs: int


class RandomPolicy(Policy):
    name = "random"

    def scores(self, view, events):
        # Equal scores: the simulator breaks ties uniformly at random per device.
        return np.zeros(view.static.n_jobs)

    def kernel(self, static):
        return PolicyKernel(EqualScores(static.n_jobs), np.full((1, static.n_jobs), -np.inf))


@compiled
def _equal_scores(state, events, view, scores):
    scores[0, :] = 0.0


register(policy_kernel, EqualScores, _equal_scores)


class RandomPriorities(NamedTuple):
    """Random-order's kernel state: its generator and the priorities drawn so far."""

    rng: np.random.Generator
    priority: np.ndarray


class RandomOrderPolicy(Policy):
    name = "random-order"

    def reset(self, static, seed):
        self._rng = stream(seed, RANDOM_POLICY_STREAM)
        self._priority = np.zeros(static.n_jobs)

    def scores(self, view, events):
        for event in events:
            if event.kind == "request":
                self._priority[event.job] = self._rng.random()
        return self._priority.copy()

    def kernel(self, static):
        return PolicyKernel(RandomPriorities(self._rng, self._priority), np.full((1, static.n_jobs), -np.inf))


@compiled
def _random_priorities(state, events, view, scores):
    """:meth:`RandomOrderPolicy.scores`: a new priority at each request, from the same generator."""
    kinds, jobs = events[1], events[2]
    for e in range(events[4][0]):
        if kinds[e] == REQUEST_EVENT:
            state.priority[jobs[e]] = state.rng.random()
    scores[0, :] = state.priority


register(policy_kernel, RandomPriorities, _random_priorities)
