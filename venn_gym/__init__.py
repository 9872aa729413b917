"""venn_gym: a testbed for scheduling collaborative-learning jobs on a shared pool of edge devices.

``import venn_gym`` loads the simulator core (numpy only) and registers the Gymnasium ids
``venn_gym/DeviceAssign-v0`` and ``venn_gym/JobPriority-v0`` when Gymnasium is installed; the
env modules themselves, and the scenario-file readers (yaml, pandas), load at first use.
"""

from .catalog import DEFAULT_SCENARIO, make_scenario, registered_scenarios
from .errors import IllegalActionError, SpecError, VennGymError
from .jobs import JobSpec, Workload
from .metrics import RunResult
from .policy import Policy, run_policy
from .registry import register_scenario
from .scenario import Scenario
from .simulation import SchedulingEvent, Simulation, SimulationStuck

__version__ = "0.1.0"

ENV_IDS = ("venn_gym/DeviceAssign-v0", "venn_gym/JobPriority-v0")
_ENTRY_POINTS = ("venn_gym.envs.device_env:DeviceAssignEnv", "venn_gym.envs.priority_env:JobPriorityEnv")
_FILE_READERS = ("load_scenario_file", "register_scenario_file")


def _register_envs() -> None:
    try:
        from gymnasium.envs.registration import register, registry
    except ImportError:  # the simulator runs without Gymnasium; only the envs need it
        return
    for env_id, entry_point in zip(ENV_IDS, _ENTRY_POINTS):
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point)


def __getattr__(name: str):
    if name in _FILE_READERS:  # the scenario-file readers pull yaml and pandas: loaded at first use
        from . import scenario_files

        return getattr(scenario_files, name)
    raise AttributeError(f"module 'venn_gym' has no attribute {name!r}")


_register_envs()

__all__ = [
    "DEFAULT_SCENARIO",
    "ENV_IDS",
    "IllegalActionError",
    "JobSpec",
    "Policy",
    "RunResult",
    "Scenario",
    "SchedulingEvent",
    "Simulation",
    "SimulationStuck",
    "SpecError",
    "VennGymError",
    "Workload",
    "load_scenario_file",
    "make_scenario",
    "register_scenario",
    "register_scenario_file",
    "registered_scenarios",
    "run_policy",
]
