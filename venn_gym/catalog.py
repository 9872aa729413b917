"""Scenarios by name: the built-in ones, those registered in Python, and those of the scenarios
folders and packages (read once, at first need), or a scenario file given by path."""

from __future__ import annotations

from .errors import SpecError
from .registry import _REGISTRY, RegisteredScenario
from .scenario import Scenario  # importing it registers the paper scenarios

DEFAULT_SCENARIO = "paper/even-v1"


def registered_scenarios() -> dict[str, RegisteredScenario]:
    """Every scenario: built-in, registered in Python, in the scenarios folders and from packages."""
    _discover()
    return dict(sorted(_REGISTRY.items()))


def _discover() -> None:
    # Lazy: the scenario folders and packages' entry points are read once, at first need (and the
    # file readers, with yaml and pandas, are imported only then).
    from .scenario_files import discover_scenarios

    discover_scenarios()


def make_scenario(name: str, seed: int = 0, **options) -> Scenario:
    """Build a registered scenario (or one from a YAML/JSON file path) for a seed."""
    if name not in _REGISTRY:
        if name.endswith((".yaml", ".yml", ".json")):
            from .scenario_files import load_scenario_file

            return load_scenario_file(name, seed=seed, **options)
        _discover()
    if name not in _REGISTRY:
        raise SpecError(
            f"unknown scenario {name!r}; registered: {', '.join(sorted(_REGISTRY)) or 'none'} "
            "(own scenarios: register_scenario_file, a scenarios folder, or a package's entry point; "
            "see the README)"
        )
    try:
        return _REGISTRY[name].factory(seed=seed, **options)
    except TypeError as exc:
        raise SpecError(f"bad options {options} for scenario {name!r}: {exc}") from None
