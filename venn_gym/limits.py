"""Size limits that validation enforces, so that an accepted scenario ends in bounded time and
memory. They are far above the paper's scale; raise one for a bigger study, e.g.
``venn_gym.limits.LIMITS["devices"] = 10**9``."""

LIMITS = {
    "devices": 20_000_000,  # devices in a population (the paper's pool: about 100,000)
    "speed_tiers": 64,
    "participants": 10_000_000,  # devices one round asks for (the paper's largest job: a few thousand)
    "rounds": 10_000_000,  # rounds of one job (the paper's: at most a few thousand)
    "checkins_per_chunk": 20_000_000,  # check-ins the simulator holds at once (a chunk of the trace)
    "min_chunk_s": 1.0,  # a chunk shorter than this would make the trace's overhead dominate
    "repeats_per_chunk": 100_000,  # how often a table trace's period may repeat inside one chunk
    # A run without a horizon stops with an error naming the stuck jobs when, with jobs in the
    # system, no round has succeeded and no job arrived or ended for this many simulated days ...
    "stall_days": 30,
    # ... or when this many scheduling instants (moments with events) per job fall into one
    # simulated second (time has stopped advancing: e.g. a deadline far shorter than any task
    # makes a round fail and be requested again at once).
    "instants_per_job_per_simulated_s": 10_000,
    # device_once_per_round keeps, per (job, device), the last round served: 8 bytes each
    # (the paper's full scale: 50 jobs x 100,000 devices = 5 M, 40 MB)
    "once_per_round_cells": 100_000_000,
}


def limit_text(name: str) -> str:
    return f"venn_gym.limits.LIMITS[{name!r}] = {LIMITS[name]:,}"
