"""venn_gym: a testbed for scheduling collaborative-learning jobs on a shared pool of edge devices."""

from .errors import IllegalActionError, SpecError, VennGymError
from .jobs import JobSpec, Workload
from .metrics import RunResult
from .policy import Policy, run_policy
from .scenario import DEFAULT_SCENARIO, Scenario, make_scenario, register_scenario, registered_scenarios
from .scenario_files import load_scenario_file, register_scenario_file
from .simulation import SchedulingEvent, Simulation, SimulationStuck

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_SCENARIO",
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
from . import envs as _envs  # noqa: E402,F401  registers the Gymnasium ids
