"""Teachers: the policies an agent learns from or is measured against (behaviour cloning,
residual and knobs agents): any baseline by name, and ``srsf-total``."""

from __future__ import annotations

from venn_gym.baselines import make_policy
from venn_gym.policy import Policy, rank_scores


class RemainingServicePolicy(Policy):
    """``srsf-total``: smallest total remaining demand first (Venn's within-group order), ties by arrival."""

    name = "srsf-total"

    def scores(self, view, events):
        return rank_scores(view.remaining_demand, view.arrival_s)


def make_teacher(name: str) -> Policy:
    if name == "srsf-total":
        return RemainingServicePolicy()
    return make_policy(name)
