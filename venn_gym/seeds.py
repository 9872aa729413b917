"""Seeds: the random streams a run derives from its (scenario, seed), and how seeds are written on
every command line (a count, or a list of seeds and ranges)."""

from __future__ import annotations

import numpy as np

from .errors import SpecError

# Each random stream of a run is numpy's generator seeded with [seed, STREAM(, index)]: the streams
# are independent, and adding one never shifts another. Their values are part of every published
# result: never change one.
POPULATION_STREAM = 0xDE71CE  # the synthetic devices
WORKLOAD_STREAM = 0x10B5  # the paper's and generated job lists
ATTRIBUTE_STREAM = 0xA771B  # synthetic attributes added to a device file
CHECKIN_STREAM = 0x7ACE  # a synthetic trace's check-ins, per chunk
MATCH_STREAM = 0x5EED  # task-time noise and tie draws of each check-in, per chunk
ORACLE_STREAM = 0x0AC1E  # the headroom oracle's search
VENN_STREAM = 0x7E44  # Venn's random choices (baselines/venn.py)
RANDOM_POLICY_STREAM = 0x0D3E  # the random baselines' orders
FUTURE_STREAM = 0xF07E  # the seeds of a scenario's re-drawn futures (the headroom's held-out futures)


def stream(seed: int, tag: int, *index: int) -> np.random.Generator:
    """The generator of one stream of a run with this seed."""
    return np.random.default_rng([seed, tag, *index])


def future_seed(seed: int, k: int) -> int:
    """The seed of the k-th re-drawn future of a run with this seed: a scenario built with ``seed``
    and then given this one (``scenario.replace(seed=...)``) keeps its jobs and devices but draws
    new check-ins (synthetic traces), task noise, tie draws and policy draws."""
    return int(np.random.SeedSequence([seed, FUTURE_STREAM, k]).generate_state(1)[0])


SEEDS_HELP = "a count N (seeds 0..N-1) or seeds and ranges, e.g. 100-104,200 (one seed: '7,' or 7-7)"


def parse_seeds(text: str, first: int = 0) -> list[int]:
    """``"3"``: seeds first..first+2; ``"100-104,200"``: those seeds."""
    text = str(text).strip()
    try:
        if text.isdigit():
            return list(range(first, first + int(text)))
        seeds = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            low, dash, high = part.partition("-")
            seeds += list(range(int(low), int(high) + 1)) if dash else [int(low)]
    except ValueError:
        raise SpecError(f"--seeds takes a count (3) or seeds and ranges (100-104,200), got {text!r}") from None
    if not seeds:
        raise SpecError(f"--seeds names no seed: {text!r}")
    if len(set(seeds)) != len(seeds):
        raise SpecError(f"--seeds names a seed twice: {text!r}")
    return seeds
