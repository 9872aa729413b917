"""Random matching, in the two forms that production systems and the Venn authors' code use.

``random``: every device goes to a uniformly random eligible job with open demand (what
production systems do: Apple, Google, Meta's Papaya; the paper's 1.0x reference).
``random-order``: every round request draws the job a random priority, and devices go to the
highest-priority eligible job with open demand, so rounds fill one after another (the Venn
authors' simulator, RandomOrderScheduler). Under request-timed rounds the first spreads devices
over every open round, and few gather a quorum before their deadline; the second does not.
"""

import numpy as np

from venn_gym.policy import Policy
from venn_gym.seeds import RANDOM_POLICY_STREAM, stream


class RandomPolicy(Policy):
    name = "random"

    def scores(self, view, events):
        # Equal scores: the simulator breaks ties uniformly at random per device.
        return np.zeros(view.static.n_jobs)


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
