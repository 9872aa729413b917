"""LAS: least attained service (fewest results collected so far) first."""

from venn_gym.policy import Policy, rank_scores


class LasPolicy(Policy):
    name = "las"

    def scores(self, view, events):
        return rank_scores(view.attained, view.arrival_s)
