"""FIFO: the earliest-arrived eligible job with open demand first."""

import numpy as np

from venn_gym.policy import Policy, rank_scores


class FifoPolicy(Policy):
    name = "fifo"

    def scores(self, view, events):
        return rank_scores(view.arrival_s, np.arange(view.static.n_jobs))
