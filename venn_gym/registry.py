"""The registry of scenario names: versioned names (``owner/thing-vN``) mapped to factories of
(seed, options). It stores only; :mod:`venn_gym.catalog` is the front door that also finds the
scenarios of files, folders and packages."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from .errors import SpecError

if TYPE_CHECKING:
    from .scenario import Scenario

ScenarioFactory = Callable[..., "Scenario"]


@dataclass(frozen=True)
class RegisteredScenario:
    """``source`` says where it came from: ``built-in``, ``python``, ``file <path>`` (a scenario
    file; from a scenarios folder too) or ``entry point <name>`` (a package's)."""

    name: str
    factory: ScenarioFactory
    description: str
    source: str = "python"


_REGISTRY: dict[str, RegisteredScenario] = {}


def register_scenario(
    name: str, factory: ScenarioFactory, description: str = "", *, overwrite: bool = False, source: str = "python"
) -> None:
    """Register ``factory(seed=..., **options) -> Scenario`` under a versioned name (``owner/thing-vN``)."""
    if not _is_versioned(name):
        raise SpecError(f"scenario names end in a version, like 'mylab/city-v0'; got {name!r}")
    if name in _REGISTRY and not overwrite:
        raise SpecError(f"scenario {name!r} is already registered (pass overwrite=True to replace it)")
    _REGISTRY[name] = RegisteredScenario(name, factory, description, source)


def _is_versioned(name: str) -> bool:
    head, sep, version = name.rpartition("-v")
    return bool(head) and bool(sep) and version.isdigit()


def registered_names() -> list[str]:
    """The names registered so far (without reading the scenario folders or packages)."""
    return list(_REGISTRY)


def mark_source(names, source: str) -> None:
    for name in names:
        _REGISTRY[name] = dataclasses.replace(_REGISTRY[name], source=source)
