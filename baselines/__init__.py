"""Heuristic schedulers from the Venn paper, all behind :class:`venn_gym.policy.Policy`.

``make_policy("venn")``, ``make_policy("venn:e=1")``, ``make_policy("venn-no-match:alpha=1.1")``;
``POLICIES`` lists the names.
"""

from __future__ import annotations

from venn_gym.errors import SpecError
from venn_gym.policy import Policy

from .fifo import FifoPolicy
from .hold import HoldDoomedRounds
from .las import LasPolicy
from .proportional import ProportionalSharePolicy
from .random_policy import RandomOrderPolicy, RandomPolicy
from .srsf import SrsfPolicy
from .venn import VennPolicy

POLICIES = {
    "random": RandomPolicy,
    "random-order": RandomOrderPolicy,
    "fifo": FifoPolicy,
    "srsf": SrsfPolicy,
    "las": LasPolicy,
    "proportional": ProportionalSharePolicy,
    "venn": lambda **kw: VennPolicy(scheduling=True, matching=True, **kw),
    "venn-no-match": lambda **kw: VennPolicy(scheduling=True, matching=False, **kw),
    "venn-no-sched": lambda **kw: VennPolicy(scheduling=False, matching=True, **kw),
    # The authors' Venn: inside a group, the current round's remaining demand first.
    "venn-ref": lambda **kw: VennPolicy(scheduling=True, matching=True, order_key="round", **kw),
    # Venn whose rounds are held back at their request when they cannot expect to fill in time.
    "venn-hold": lambda **kw: HoldDoomedRounds(VennPolicy(scheduling=True, matching=True, **kw)),
}
_OPTIONS = {"e": ("fairness", float), "alpha": ("take_over_margin", float), "admission": ("admission", float)}
_SUMMARIES = {
    "random": "each check-in to a uniformly random eligible job with open demand",
    "random-order": "the authors' Random: a random priority drawn at each round request; rounds fill in that order",
    "fifo": "jobs in arrival order",
    "srsf": "smallest remaining service (participants x rounds left) first",
    "las": "least attained service (results received so far) first",
    "proportional": "each check-in to an eligible job with open demand, at random in proportion to that demand",
    "venn": "Venn: scarcest-first group allocation with take-over, smallest remaining service first in a group, "
    "tier matching",
    "venn-no-match": "Venn without tier matching",
    "venn-no-sched": "Venn without the group allocation (tier matching only)",
    "venn-ref": "the authors' Venn: as venn, but the current round's remaining demand orders a group",
    "venn-hold": "Venn, and a round that cannot expect its devices before its deadline is held back, not failed",
}
_OPTION_HELP = {
    "e": "fairness knob (0: none; the paper's epsilon)",
    "alpha": "take-over margin (1: the paper's rule; inf: never take over)",
    "admission": "the authors' admission check factor (0: off; their code uses 0.5)",
}


def describe_policies() -> list[str]:
    """A line per policy, then the options Venn policies take (``venn:e=1,alpha=1.1``)."""
    lines = [f"{name:<15} {_SUMMARIES[name]}" for name in POLICIES]
    lines += ["", "Options of the venn* policies, as name:key=value[,key=value]:"]
    lines += [f"  {key:<10} {text}" for key, text in _OPTION_HELP.items()]
    return lines


def make_policy(spec: str) -> Policy:
    """A policy from ``name`` or ``name:key=value,...`` (Venn policies take ``e``, the fairness
    knob, ``alpha``, the take-over margin, and ``admission``, the factor of the authors'
    admission check: ``venn-ref:admission=0.5``)."""
    name, _, opts = spec.strip().partition(":")
    if name not in POLICIES:
        raise SpecError(f"unknown policy {name!r}; expected one of {sorted(POLICIES)}")
    kwargs = {}
    for item in filter(None, opts.split(",")):
        key, eq, value = item.partition("=")
        if not eq or key not in _OPTIONS or not name.startswith("venn"):
            raise SpecError(
                f"bad policy option {item!r} in {spec!r}; Venn policies take e=<float>, alpha=<float> "
                "and admission=<float>"
            )
        field, cast = _OPTIONS[key]
        try:
            kwargs[field] = cast(value)
        except ValueError:
            raise SpecError(f"option {key} needs a number, got {value!r}") from None
    return POLICIES[name](**kwargs)


__all__ = [
    "POLICIES",
    "describe_policies",
    "make_policy",
    "FifoPolicy",
    "HoldDoomedRounds",
    "LasPolicy",
    "ProportionalSharePolicy",
    "RandomOrderPolicy",
    "RandomPolicy",
    "SrsfPolicy",
    "VennPolicy",
]
