"""Gymnasium environments over the venn_gym simulator (registered when ``venn_gym`` is imported).

* ``venn_gym/DeviceAssign-v0`` (:class:`DeviceAssignEnv`): a step per check-in with a choice.
* ``venn_gym/JobPriority-v0`` (:class:`JobPriorityEnv`): a step per batch of scheduling events.

:class:`PolicyAgent` runs the heuristic baselines inside either env.
"""

from gymnasium.envs.registration import register, registry

from .actions import PriorityActionCodec
from .agents import PolicyAgent
from .device_env import DeviceAssignEnv
from .observation import DEVICE_FEATURES, JOB_FEATURES, POOL_FEATURES
from .priority_env import JobPriorityEnv
from .slots import TooManyJobsError

ENV_IDS = ("venn_gym/DeviceAssign-v0", "venn_gym/JobPriority-v0")

for _id, _entry in zip(ENV_IDS, ("venn_gym.envs.device_env:DeviceAssignEnv",
                                 "venn_gym.envs.priority_env:JobPriorityEnv")):
    if _id not in registry:
        register(id=_id, entry_point=_entry)

__all__ = [
    "DEVICE_FEATURES", "ENV_IDS", "JOB_FEATURES", "POOL_FEATURES", "DeviceAssignEnv", "JobPriorityEnv",
    "PolicyAgent", "PriorityActionCodec", "TooManyJobsError",
]
