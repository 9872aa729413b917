"""Gymnasium environments over the venn_gym simulator (their ids are registered by ``import venn_gym``).

* ``venn_gym/DeviceAssign-v0`` (:class:`DeviceAssignEnv`): a step per check-in with a choice.
* ``venn_gym/JobPriority-v0`` (:class:`JobPriorityEnv`): a step per batch of scheduling events.

:class:`PolicyAgent` runs the heuristic baselines inside either env.
"""

from venn_gym import ENV_IDS

from .actions import PriorityActionCodec
from .device_env import DeviceAssignEnv
from .observation import DEVICE_FEATURES, JOB_FEATURES, POOL_FEATURES
from .policy_agent import PolicyAgent
from .priority_env import JobPriorityEnv
from .slots import TooManyJobsError

__all__ = [
    "DEVICE_FEATURES",
    "ENV_IDS",
    "JOB_FEATURES",
    "POOL_FEATURES",
    "DeviceAssignEnv",
    "JobPriorityEnv",
    "PolicyAgent",
    "PriorityActionCodec",
    "TooManyJobsError",
]
