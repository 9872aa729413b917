"""Heuristic schedulers from the Venn paper, all behind :class:`venn_gym.policy.Policy`.

``make_policy("venn")``, ``make_policy("venn:e=1")``, ``make_policy("venn-no-match:alpha=1.1")``;
``POLICIES`` lists the names.
"""

from __future__ import annotations

from venn_gym.errors import SpecError
from venn_gym.policy import Policy

from .fifo import FifoPolicy
from .las import LasPolicy
from .random_policy import RandomOrderPolicy, RandomPolicy
from .srsf import SrsfPolicy
from .venn import VennPolicy

POLICIES = {
    "random": RandomPolicy,
    "random-order": RandomOrderPolicy,
    "fifo": FifoPolicy,
    "srsf": SrsfPolicy,
    "las": LasPolicy,
    "venn": lambda **kw: VennPolicy(scheduling=True, matching=True, **kw),
    "venn-no-match": lambda **kw: VennPolicy(scheduling=True, matching=False, **kw),
    "venn-no-sched": lambda **kw: VennPolicy(scheduling=False, matching=True, **kw),
    # The authors' Venn: inside a group, the current round's remaining demand first.
    "venn-ref": lambda **kw: VennPolicy(scheduling=True, matching=True, order_key="round", **kw),
}
_OPTIONS = {"e": ("fairness", float), "alpha": ("take_over_margin", float), "admission": ("admission", float)}


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
            raise SpecError(f"bad policy option {item!r} in {spec!r}; Venn policies take e=<float>, alpha=<float> and admission=<float>")
        field, cast = _OPTIONS[key]
        try:
            kwargs[field] = cast(value)
        except ValueError:
            raise SpecError(f"option {key} needs a number, got {value!r}") from None
    return POLICIES[name](**kwargs)


__all__ = ["POLICIES", "make_policy", "FifoPolicy", "LasPolicy", "RandomOrderPolicy", "RandomPolicy", "SrsfPolicy", "VennPolicy"]
