"""The device population: per-device speed and attributes, stored column-wise."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from .errors import SpecError
from .limits import LIMITS, limit_text
from .requirements import CATEGORY_ATTRIBUTE


@dataclass(frozen=True)
class DevicePopulation:
    """Every device that may check in, indexed 0..n-1.

    ``compute_factor`` multiplies a job's workload (1.0 = a typical device: the median
    in the synthetic pool, the mean in imported FedScale capacities);
    ``bandwidth_mbps`` divides its model transfer. ``attributes`` holds whatever
    the trace carries (``categories`` bit mask, ``ram_gb``, ``os_version``,
    ``cpu_score``, ...); requirements are predicates over it.
    """

    compute_factor: np.ndarray
    bandwidth_mbps: np.ndarray
    attributes: Mapping[str, np.ndarray] = field(default_factory=dict)
    source: str = "devices"

    def __post_init__(self) -> None:
        n = len(self.compute_factor)
        if n == 0:
            raise SpecError("the device population is empty", source=self.source)
        for name, values in {"compute_factor": self.compute_factor, "bandwidth_mbps": self.bandwidth_mbps}.items():
            values = np.asarray(values, dtype=float)
            if len(values) != n:
                raise SpecError(f"has {len(values)} entries, expected {n}", source=self.source, where=name)
            bad = np.flatnonzero(~np.isfinite(values) | (values <= 0))
            if len(bad):
                raise SpecError(
                    f"must be finite and > 0; device {bad[0]} has {values[bad[0]]!r}", source=self.source, where=name
                )
        for name, values in self.attributes.items():
            if len(values) != n:
                raise SpecError(f"has {len(values)} entries, expected {n}", source=self.source, where=name)

    def __len__(self) -> int:
        return len(self.compute_factor)


# Calibration of the synthetic population, from the figures of the AI Benchmark
# table that the Venn authors ship (952 device models): inference latency is close
# to log-normal (log-mean 4.106, log-sd 0.784, range 9.5-1495 ms, median 63 ms);
# RAM and Android version follow the table's frequencies.
_LATENCY_LOG_MEAN, _LATENCY_LOG_SD = 4.106, 0.784
_LATENCY_RANGE_MS = (9.5, 1495.0)
_MEDIAN_LATENCY_MS = 63.0
_RAM_GB = np.array([1, 1.5, 2, 3, 4, 6, 8, 12, 16])
_RAM_WEIGHT = np.array([14, 7, 69, 82, 204, 181, 268, 110, 17], dtype=float)
_OS_VERSION = np.array([5, 6, 7, 8, 9, 10, 11, 12, 13])
_OS_WEIGHT = np.array([24, 30, 28, 29, 54, 105, 234, 254, 191], dtype=float)
# FedScale's device capacity trace: mean bandwidth 13,736 kbit/s, spread over more
# than an order of magnitude.
_BANDWIDTH_MEAN_MBPS, _BANDWIDTH_LOG_SD = 13.736, 0.9
# Category membership of the authors' eligibility sample (959 devices): all four
# 43 %, general only 32 %, general+memory-rich 13 %, general+compute-rich 8 %, none 4 %.
CATEGORY_MIX = {0b1111: 0.435, 0b0001: 0.318, 0b0101: 0.129, 0b0011: 0.081, 0b0000: 0.037}


def synthetic_population(n_devices: int, rng: np.random.Generator) -> DevicePopulation:
    """A population with the speed spread and category mix of the paper's data."""
    if n_devices < 1:
        raise SpecError(f"n_devices must be >= 1, got {n_devices}")
    if n_devices > LIMITS["devices"]:
        raise SpecError(
            f"n_devices {n_devices:,} is above the limit ({limit_text('devices')}; raise it if you mean it)"
        )
    latency = np.clip(rng.lognormal(_LATENCY_LOG_MEAN, _LATENCY_LOG_SD, n_devices), *_LATENCY_RANGE_MS)
    bw_log_mean = np.log(_BANDWIDTH_MEAN_MBPS) - _BANDWIDTH_LOG_SD**2 / 2
    bandwidth = rng.lognormal(bw_log_mean, _BANDWIDTH_LOG_SD, n_devices)
    masks = np.fromiter(CATEGORY_MIX.keys(), dtype=np.uint8)
    weights = np.fromiter(CATEGORY_MIX.values(), dtype=float)
    categories = masks[rng.choice(len(masks), size=n_devices, p=weights / weights.sum())]
    ram = _RAM_GB[rng.choice(len(_RAM_GB), size=n_devices, p=_RAM_WEIGHT / _RAM_WEIGHT.sum())]
    os_version = _OS_VERSION[rng.choice(len(_OS_VERSION), size=n_devices, p=_OS_WEIGHT / _OS_WEIGHT.sum())]
    # AI Benchmark's CPU score is roughly inverse to latency.
    cpu_score = np.round(_MEDIAN_LATENCY_MS * 6.1 / latency, 2)
    return DevicePopulation(
        compute_factor=latency / _MEDIAN_LATENCY_MS,
        bandwidth_mbps=bandwidth,
        attributes={
            CATEGORY_ATTRIBUTE: categories,
            "ram_gb": ram.astype(float),
            "os_version": os_version.astype(float),
            "cpu_score": cpu_score,
        },
        source="synthetic population",
    )
