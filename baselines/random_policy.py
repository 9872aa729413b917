"""Random matching: every device goes to a uniformly random eligible job with open demand.

What production systems do (Apple, Google, Meta's Papaya); the paper's 1.0x reference.
"""

import numpy as np

from venn_gym.policy import Policy


class RandomPolicy(Policy):
    name = "random"

    def scores(self, view, events):
        # Equal scores: the simulator breaks ties uniformly at random per device.
        return np.zeros(view.static.n_jobs)
