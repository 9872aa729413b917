"""SRSF: the job with the smallest remaining demand of its current round first."""

from venn_gym.policy import Policy, rank_scores


class SrsfPolicy(Policy):
    name = "srsf"

    def scores(self, view, events):
        return rank_scores(view.open_demand, view.arrival_s)
