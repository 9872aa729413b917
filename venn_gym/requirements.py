"""Job requirements: predicates over device attributes.

A requirement is written as plain data so that it can live in YAML or JSON:

- a category name or number: ``"general"`` (1), ``"compute_rich"`` (2),
  ``"memory_rich"`` (3), ``"high_performance"`` (4): the paper's categories,
  read from the device attribute ``categories`` (a bit mask, bit i-1 for category i);
- ``{"category": k, "name": "gpu"}``: category ``k`` (1-63) shown as ``gpu``.
  This is the form :func:`name_categories` gives when a scenario names its own
  categories (``category_names: [general, gpu, big_ram, ...]``: category ``i``
  is the ``i``-th name); categories above 4 exist only in this named form (a
  plain ``5`` or ``"category5"`` is an error). The name is for display only:
  :func:`label` shows it, :func:`key` leaves it out (so ``{"category": 2,
  "name": "gpu"}`` and ``"compute_rich"`` are the same group);
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

from .errors import SpecError, short_repr

CATEGORY_NAMES = ("general", "compute_rich", "memory_rich", "high_performance")
CATEGORY_ATTRIBUTE = "categories"
# Named categories may go up to 63: bit 62 is the highest bit of an int64 mask.
MAX_CATEGORIES = 63
MAX_DEPTH = 32  # nesting of all/any/not in one requirement
MAX_PARTS = 1_000  # predicates and combinations in one requirement

COMPARISONS = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


def category_bit(category: int | str, *, named: bool = False) -> int:
    """Bit mask of a category, given its number or one of the paper's names.

    Numbers are 1-4 (the paper's categories), or 1-63 with ``named=True`` (a
    category that a scenario names itself, see :func:`name_categories`).
    """
    if isinstance(category, str):
        if category not in CATEGORY_NAMES:
            raise SpecError(f"unknown category {short_repr(category)}; expected one of {CATEGORY_NAMES}")
        return 1 << CATEGORY_NAMES.index(category)
    top = MAX_CATEGORIES if named else len(CATEGORY_NAMES)
    if isinstance(category, (int, np.integer)) and not isinstance(category, bool) and 1 <= int(category) <= top:
        return 1 << (int(category) - 1)
    if named:
        raise SpecError(f"category must be 1-{MAX_CATEGORIES} or one of {CATEGORY_NAMES}, got {short_repr(category)}")
    raise SpecError(
        f"category must be 1-4 or one of {CATEGORY_NAMES}, got {short_repr(category)} (categories above 4 "
        "need names: a scenario's devices.category_names, or requirements.name_categories)"
    )


def _canonical_category(bit: int) -> Any:
    """The paper's name for categories 1-4, the number above."""
    number = bit.bit_length()
    return CATEGORY_NAMES[number - 1] if number <= len(CATEGORY_NAMES) else number


def category_number(category: int | str) -> int:
    """1-based number of a category given as a number or one of the paper's names."""
    return category_bit(category, named=True).bit_length()


def check_category_names(names: Any, where: str = "category_names") -> tuple[str, ...]:
    """A list of category names as a tuple (category ``i`` is ``names[i-1]``), or a SpecError."""
    if isinstance(names, (str, bytes)) or not isinstance(names, (list, tuple)) or not names:
        raise SpecError(f"expected a non-empty list of category names, got {short_repr(names)}", where=where)
    if len(names) > MAX_CATEGORIES:
        raise SpecError(f"at most {MAX_CATEGORIES} categories can be named, got {len(names)}", where=where)
    out: list[str] = []
    for k, name in enumerate(names):
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise SpecError(
                f"expected a non-empty name without surrounding spaces, got {short_repr(name)}", where=f"{where}[{k}]"
            )
        if name == "any_device":
            raise SpecError("'any_device' is reserved (every device)", where=f"{where}[{k}]")
        if name in out:
            raise SpecError(
                f"name {short_repr(name)} appears twice (also category {out.index(name) + 1})", where=f"{where}[{k}]"
            )
        out.append(name)
    return tuple(out)


def name_categories(spec: Any, names: Any, where: str = "requirement") -> Any:
    """``spec`` with every category written by its number or by one of ``names`` in named form.

    Category ``i`` is ``names[i-1]``: ``"gpu"`` (or ``2``) becomes ``{"category":
    2, "name": "gpu"}``, which :func:`label` shows as ``gpu``. Once a scenario
    names its categories only those names (and numbers 1..len(names)) are
    accepted; the paper's names are valid only where they are in ``names``.
    Attribute tests, ``any_device`` and already-named categories are unchanged.
    """
    names = check_category_names(names)

    def lookup(value: Any, at: str) -> dict:
        if isinstance(value, str) and value in names:
            number = names.index(value) + 1
        elif isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 1 <= int(value) <= len(names):
            number = int(value)
        else:
            raise SpecError(
                f"unknown category {short_repr(value)}; this scenario's categories are "
                f"{', '.join(f'{i + 1} {n}' for i, n in enumerate(names))} (or any_device)",
                where=at,
            )
        return {"category": number, "name": names[number - 1]}

    budget = [MAX_PARTS]

    def walk(node: Any, at: str, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise SpecError(f"nested deeper than {MAX_DEPTH} levels (requirements.MAX_DEPTH)", where=at)
        budget[0] -= 1
        if budget[0] < 0:
            raise SpecError(f"has more than {MAX_PARTS:,} parts (requirements.MAX_PARTS)", where=at)
        if node == "any_device":
            return node
        if isinstance(node, (str, int, np.integer)) and not isinstance(node, bool):
            return lookup(node, at)
        if isinstance(node, Mapping):
            if "category" in node and "name" not in node and len(node) == 1:
                return lookup(node["category"], at)
            for key in ("all", "any"):
                if key in node and len(node) == 1 and isinstance(node[key], (list, tuple)):
                    return {key: [walk(p, f"{at}.{key}[{i}]", depth + 1) for i, p in enumerate(node[key])]}
            if "not" in node and len(node) == 1:
                return {"not": walk(node["not"], f"{at}.not", depth + 1)}
        return node  # attribute tests, named categories, and malformed specs (normalize names their fault)

    return walk(spec, where)


def normalize(spec: Any, where: str = "requirement") -> Any:
    """Check a requirement spec and return its canonical form (used as the group key)."""
    return _normalize(spec, where, 0, [MAX_PARTS])


def _normalize(spec: Any, where: str, depth: int, budget: list[int]) -> Any:
    # Bounded, so that a deep or alias-multiplied requirement is an error, not a hang or a RecursionError.
    if depth > MAX_DEPTH:
        raise SpecError(f"nested deeper than {MAX_DEPTH} levels (requirements.MAX_DEPTH)", where=where)
    budget[0] -= 1
    if budget[0] < 0:
        raise SpecError(f"has more than {MAX_PARTS:,} parts (requirements.MAX_PARTS)", where=where)
    if spec == "any_device":
        return "any_device"
    if isinstance(spec, (str, int, np.integer)) and not isinstance(spec, bool):
        return {"category": CATEGORY_NAMES[_bit(spec, where).bit_length() - 1]}
    if not isinstance(spec, Mapping) or len(spec) == 0:
        raise SpecError(f"expected a category name, 'any_device' or a mapping, got {short_repr(spec)}", where=where)
    if "category" in spec:
        if "name" in spec:
            _only_keys(spec, {"category", "name"}, where)
            name = spec["name"]
            if not isinstance(name, str) or not name.strip() or name == "any_device":
                raise SpecError(f"a category's 'name' must be a non-empty string, got {short_repr(name)}", where=where)
            return {"category": _canonical_category(_bit(spec["category"], where, named=True)), "name": name}
        _only_keys(spec, {"category"}, where)
        return {"category": CATEGORY_NAMES[_bit(spec["category"], where).bit_length() - 1]}
    if "attr" in spec:
        _only_keys(spec, {"attr", "op", "value"}, where)
        if not isinstance(spec.get("attr"), str) or not spec["attr"].strip():
            raise SpecError(f"'attr' must be an attribute name, got {short_repr(spec.get('attr'))}", where=where)
        if not isinstance(spec.get("op"), str) or spec["op"] not in COMPARISONS:
            raise SpecError(f"'op' must be one of {sorted(COMPARISONS)}, got {short_repr(spec.get('op'))}", where=where)
        value = spec.get("value")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise SpecError(f"'value' must be a number, got {short_repr(value)}", where=where)
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any float, e.g. 10**400
            raise SpecError(f"'value' is too large for a number: {short_repr(value)}", where=where) from None
        return {"attr": str(spec["attr"]), "op": spec["op"], "value": number}
    for key in ("all", "any"):
        if key in spec:
            _only_keys(spec, {key}, where)
            parts = spec[key]
            if not isinstance(parts, (list, tuple)) or not parts:
                raise SpecError(f"'{key}' must be a non-empty list", where=where)
            return {key: [_normalize(p, f"{where}.{key}[{i}]", depth + 1, budget) for i, p in enumerate(parts)]}
    if "not" in spec:
        _only_keys(spec, {"not"}, where)
        return {"not": _normalize(spec["not"], f"{where}.not", depth + 1, budget)}
    raise SpecError(f"unknown requirement form {short_repr(dict(spec))}", where=where)


def _bit(category: Any, where: str, named: bool = False) -> int:
    try:
        return category_bit(category, named=named)
    except SpecError as exc:
        raise SpecError(str(exc), where=where) from None


def _without_names(spec: Any) -> Any:
    if not isinstance(spec, dict):
        return spec
    if "category" in spec:
        return {"category": spec["category"]}
    if "not" in spec:
        return {"not": _without_names(spec["not"])}
    for k in ("all", "any"):
        if k in spec:
            return {k: [_without_names(p) for p in spec[k]]}
    return spec


def key(spec: Any) -> str:
    """A stable string for a requirement; jobs with equal keys form one group.

    Display names of categories are left out: equal categories are one group.
    """
    return json.dumps(_without_names(normalize(spec)), sort_keys=True)


def label(spec: Any) -> str:
    """A short human-readable name for a requirement."""
    spec = normalize(spec)
    if spec == "any_device":
        return "any_device"
    if "category" in spec:
        return spec.get("name", spec["category"])
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
        bit = category_bit(spec["category"], named=True)
        return (np.asarray(attributes[CATEGORY_ATTRIBUTE]).astype(np.int64) & bit) != 0
    if "attr" in spec:
        if spec["attr"] not in attributes:
            raise SpecError(
                f"requirement {label(spec)} names the device attribute {spec['attr']!r}, "
                f"which the devices do not carry (they have {sorted(attributes)})"
            )
        return COMPARISONS[spec["op"]](np.asarray(attributes[spec["attr"]], dtype=float), spec["value"])
    if "not" in spec:
        return ~evaluate(spec["not"], attributes, n_devices)
    parts = [evaluate(p, attributes, n_devices) for p in spec.get("all") or spec.get("any")]
    return np.logical_and.reduce(parts) if "all" in spec else np.logical_or.reduce(parts)


def _only_keys(spec: Mapping, allowed: set[str], where: str) -> None:
    extra = set(spec) - allowed
    if extra:
        raise SpecError(f"unexpected keys {sorted(extra)}; expected only {sorted(allowed)}", where=where)
