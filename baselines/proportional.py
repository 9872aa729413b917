"""Proportional share: a device goes to one of the eligible jobs with open demand at random, in
proportion to their open demand (Random draws them uniformly); every job's round fills at a rate
that grows with what it still asks for."""

import numpy as np

from venn_gym.policy import Policy


class ProportionalSharePolicy(Policy):
    name = "proportional"

    def scores(self, view, events):
        return np.zeros(view.static.n_jobs)  # one level: the shares alone decide

    def shares(self, view, events):
        return view.open_demand.astype(float)
