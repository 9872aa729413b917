"""Job requirements: predicates over device attributes.

A requirement is written as plain data so that it can live in YAML or JSON:

- a category name or number: ``"general"`` (1), ``"compute_rich"`` (2),
  ``"memory_rich"`` (3), ``"high_performance"`` (4): the paper's categories,
  read from the device attribute ``categories`` (a bit mask, bit i-1 for category i);
- ``{"attr": "ram_gb", "op": ">=", "value": 8}``: a comparison on any attribute;
- ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": ...}``: combinations;
- ``"any_device"``: every device.

Eligible sets of different requirements may nest, overlap or be disjoint.
"""

from __future__ import annotations

import json
import operator
from typing import Any, Mapping

import numpy as np

from .errors import SpecError

CATEGORY_NAMES = ("general", "compute_rich", "memory_rich", "high_performance")
CATEGORY_ATTRIBUTE = "categories"

_OPS = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


def category_bit(category: int | str) -> int:
    """Bit mask of one of the paper's categories, given its number (1-4) or name."""
    if isinstance(category, str):
        if category not in CATEGORY_NAMES:
            raise SpecError(f"unknown category {category!r}; expected one of {CATEGORY_NAMES}")
        return 1 << CATEGORY_NAMES.index(category)
    if isinstance(category, (int, np.integer)) and 1 <= int(category) <= len(CATEGORY_NAMES):
        return 1 << (int(category) - 1)
    raise SpecError(f"category must be 1-4 or one of {CATEGORY_NAMES}, got {category!r}")


def normalize(spec: Any, where: str = "requirement") -> Any:
    """Check a requirement spec and return its canonical form (used as the group key)."""
    if spec == "any_device":
        return "any_device"
    if isinstance(spec, (str, int, np.integer)) and not isinstance(spec, bool):
        return {"category": CATEGORY_NAMES[category_bit(spec).bit_length() - 1]}
    if not isinstance(spec, Mapping) or len(spec) == 0:
        raise SpecError(f"expected a category name, 'any_device' or a mapping, got {spec!r}", where=where)
    if "category" in spec:
        _only_keys(spec, {"category"}, where)
        return {"category": CATEGORY_NAMES[category_bit(spec["category"]).bit_length() - 1]}
    if "attr" in spec:
        _only_keys(spec, {"attr", "op", "value"}, where)
        if spec.get("op") not in _OPS:
            raise SpecError(f"'op' must be one of {sorted(_OPS)}, got {spec.get('op')!r}", where=where)
        value = spec.get("value")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise SpecError(f"'value' must be a number, got {value!r}", where=where)
        return {"attr": str(spec["attr"]), "op": spec["op"], "value": float(value)}
    for key in ("all", "any"):
        if key in spec:
            _only_keys(spec, {key}, where)
            parts = spec[key]
            if not isinstance(parts, (list, tuple)) or not parts:
                raise SpecError(f"'{key}' must be a non-empty list", where=where)
            return {key: [normalize(p, f"{where}.{key}[{i}]") for i, p in enumerate(parts)]}
    if "not" in spec:
        _only_keys(spec, {"not"}, where)
        return {"not": normalize(spec["not"], f"{where}.not")}
    raise SpecError(f"unknown requirement form {dict(spec)!r}", where=where)


def key(spec: Any) -> str:
    """A stable string for a requirement; jobs with equal keys form one group."""
    return json.dumps(normalize(spec), sort_keys=True)


def label(spec: Any) -> str:
    """A short human-readable name for a requirement."""
    spec = normalize(spec)
    if spec == "any_device":
        return "any_device"
    if "category" in spec:
        return spec["category"]
    if "attr" in spec:
        return f"{spec['attr']}{spec['op']}{spec['value']:g}"
    if "not" in spec:
        return f"not({label(spec['not'])})"
    joiner = " & " if "all" in spec else " | "
    parts = spec.get("all") or spec.get("any")
    return "(" + joiner.join(label(p) for p in parts) + ")"


def evaluate(spec: Any, attributes: Mapping[str, np.ndarray], n_devices: int) -> np.ndarray:
    """Boolean array: which devices satisfy the requirement."""
    spec = normalize(spec)
    if spec == "any_device":
        return np.ones(n_devices, dtype=bool)
    if "category" in spec:
        if CATEGORY_ATTRIBUTE not in attributes:
            raise SpecError(f"requirement {spec} needs the device attribute '{CATEGORY_ATTRIBUTE}'")
        return (np.asarray(attributes[CATEGORY_ATTRIBUTE]).astype(np.int64) & category_bit(spec["category"])) != 0
    if "attr" in spec:
        if spec["attr"] not in attributes:
            raise SpecError(
                f"requirement {label(spec)} names the device attribute {spec['attr']!r}, "
                f"which the devices do not carry (they have {sorted(attributes)})"
            )
        return _OPS[spec["op"]](np.asarray(attributes[spec["attr"]], dtype=float), spec["value"])
    if "not" in spec:
        return ~evaluate(spec["not"], attributes, n_devices)
    parts = [evaluate(p, attributes, n_devices) for p in spec.get("all") or spec.get("any")]
    return np.logical_and.reduce(parts) if "all" in spec else np.logical_or.reduce(parts)


def _only_keys(spec: Mapping, allowed: set[str], where: str) -> None:
    extra = set(spec) - allowed
    if extra:
        raise SpecError(f"unexpected keys {sorted(extra)}; expected only {sorted(allowed)}", where=where)
