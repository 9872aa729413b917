"""LAS: least attained service (fewest results collected so far) first."""

import numpy as np

from venn_gym.policy import Policy, rank_scores


class LasPolicy(Policy):
    name = "las"

    def scores(self, view, events):
        return rank_scores(view.attained, view.arrival_s, np.arange(view.static.n_jobs))
