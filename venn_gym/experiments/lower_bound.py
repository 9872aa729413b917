"""A lower bound on the mean JCT censored at the horizon: a time-indexed linear program over one
seed's actual check-ins, solved with HiGHS through scipy. No schedule the simulator can produce
(any policy, device-level decisions and held rounds included) has a smaller censored mean JCT.

The LP works in time slots: 10 minutes, and past 1,000 minutes 0.5 % of the slot's start, plus
every boundary of the grid of this bound's first version (10 minutes for a day, then each slot
10 % longer), so that the bound can only have risen. In hindsight it knows every check-in of the
seed and the time every task would take on it (the check-in's own noise, drawn as the simulator
draws it). Variables: ``y[p, j, t]``, the results counted by job j's successful rounds that come
from check-ins of eligibility pattern p (devices alike for every requirement) in slot t;
``c[j, t]``, j's results checked in up to slot t; ``z[j, t]`` in [0, 1], "j has ended before
slot t ends". A job costs ``sum_t (1 - z[j, t]) x (time of slot t after its arrival)``: the time
from its arrival to the start of the slot it ends in, or to the horizon; the LP minimises the
mean cost of the jobs that arrive by the horizon (those the censored mean counts). Constraints,
each a rule of the simulator or a consequence of one:

- **Usable check-ins**: a counted result takes a check-in of an eligible device made at or after
  the job's arrival, whose task ends inside the device's online window; ``y[p, j, t]`` is at most
  the number of those in (p, t). Under request timing the check-in must also lie in some window
  ``[s, s + deadline]`` that holds a whole quorum of the job's usable check-ins made in it and
  finishing by its end: a successful round's results come from check-ins made after its request
  that finish by its deadline (holding a round back only moves its request).
- **Busy devices**: a device given a task is busy until its window ends, so of one device's
  check-ins whose windows overlap only pairwise disjoint ones can be used, whatever they serve
  (wasted and straggling tasks included). The check-ins the jobs use in (p, t) are at most those
  of (p, t), less the overlaps: per group of one device's chained overlaps, at most its largest
  disjoint set in all and, per slot, at most that of its check-ins in the slot.
- **An end needs every result**: ``rounds x quorum x z[j, t] <= c[j, t]`` (``rounds x
  buffer_size`` results for an async job).
- **Rounds one after another**: a round requested at s closes no earlier than the quorum-th
  smallest finish among the job's usable check-ins made at or after s (under request timing, the
  earliest such close of a round that can succeed, requested at s or later), and the next round
  is requested no earlier than that close. Chained from the job's arrival this gives the earliest
  close of each of its rounds alone: ``z`` is 0 before the last one's, and ``c[j, t]`` is at most
  a quorum per round requested before slot t ends.

It still relaxes: time inside a slot (an end counts at its slot's start); which check-in serves
which job inside a (pattern, slot), shared as amounts, each job capped by its own usable count;
overlaps of one device's windows only within its overlap groups, and per slot only through the
group's own caps; contention inside a round's window: a round may gather its quorum from a
trickle that in the simulator would miss its deadline, so failed rounds, wasted tasks, stragglers
and participants beyond the quorum cost nothing; a round's time beyond the chain alone (the
other jobs' use of its check-ins); integrality (results and ends are fractions);
``device_once_per_round``; an async job's cap on tasks in flight. On paper/low-v1 and high-v1 at
scale 0.05 (seed 100), busy devices raise it by 6 %, the finer slots by 2-4 %, the round chain by
0.1-1 % and the deadline windows by under 0.01 %. Caps from the chain on the results of any
window of slots, and an end needing the chain's results before it (round by round), raised it by
under 0.5 % for 4-100 times the solve time and are left out: the LP runs several jobs of a
pattern side by side anyway, below the pace of their rounds.

The LP covers the slots up to a cutoff, a day past the last arrival, doubled while some job has
not ended by it in the LP, up to the horizon: the results it counts are those of rounds that
close before the cutoff, and a job not ended by then costs the time to the cutoff, no more than
its censored JCT.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..compiled import compiled
from ..devices import DevicePopulation
from ..job_state import task_seconds, transfer_mbit
from ..jobs import ASYNC, DEADLINE_FROM_REQUEST, JobSpec
from ..scenario import Scenario
from ..simulation import checkin_draws, eligibility

DAY_S = 86_400.0
SLOT_S = 600.0
SLOT_GROWTH = 0.005  # past SLOT_S / SLOT_GROWTH (1,000 minutes) a slot is this share of its start
EARLIER_GROWTH = 1.1  # the earlier grid: 10-minute slots for a day, then each 10 % longer
SLACK_S = 1e-6  # time comparisons lean this far towards allowing, so rounding cannot cut a schedule
ENDED = 1.0 - 1e-6  # z at the cutoff above which a job has ended in the LP


def earlier_slot_starts(horizon_s: float) -> np.ndarray:
    """The grid of the first version of this bound: 10 minutes for the first day, then each slot
    10 % longer, up to the horizon."""
    starts = list(np.arange(0.0, min(horizon_s, DAY_S), SLOT_S))
    while starts[-1] < horizon_s:
        starts.append(max(starts[-1] * EARLIER_GROWTH, starts[-1] + SLOT_S))
    return np.array(starts[:-1] if starts[-1] >= horizon_s else starts)


def slot_edges(horizon_s: float) -> np.ndarray:
    """Slot boundaries from 0 to the horizon: the fine grid and every boundary of the earlier one."""
    fine = [0.0]
    while fine[-1] < horizon_s:
        fine.append(fine[-1] + max(SLOT_S, SLOT_GROWTH * fine[-1]))
    starts = np.union1d(earlier_slot_starts(horizon_s), fine)
    return np.append(starts[starts < horizon_s], horizon_s)


@dataclass(frozen=True)
class Checkins:
    """Every check-in that starts before a time, sorted by start, with its task-time noise."""

    time: np.ndarray
    end: np.ndarray
    device: np.ndarray
    noise: np.ndarray


def read_checkins(scenario: Scenario, until_s: float) -> Checkins:
    """The check-ins the simulator sees before ``until_s``, with the noise factor it draws for each
    (:func:`venn_gym.simulation.checkin_draws`)."""
    trace = scenario.trace
    parts = []
    for index in range(int(math.ceil(until_s / trace.chunk_s))):
        chunk = trace.chunk(index, scenario.seed)
        n = len(chunk)
        noise, _ = checkin_draws(scenario, index, n)
        keep = chunk.time < until_s
        parts.append((chunk.time[keep], chunk.end[keep], chunk.device[keep].astype(np.int64), noise[keep]))
    start, end, device, noise = (np.concatenate(column) for column in zip(*parts))
    order = np.argsort(start, kind="stable")
    return Checkins(start[order], end[order], device[order], noise[order])


@compiled
def quorum_finish_from(finish, need):
    """``out[i]``: the ``need``-th smallest of ``finish[i:]`` (inf where it has fewer)."""
    n = len(finish)
    out = np.full(n, np.inf)
    heap = np.empty(need)  # a max-heap of the smallest finishes seen
    size = 0
    for i in range(n - 1, -1, -1):
        value = finish[i]
        if size < need:
            k = size
            heap[k] = value
            size += 1
            while k > 0 and heap[(k - 1) // 2] < heap[k]:
                parent = (k - 1) // 2
                heap[parent], heap[k] = heap[k], heap[parent]
                k = parent
        elif value < heap[0]:
            heap[0] = value
            k = 0
            while 2 * k + 1 < need:
                child = 2 * k + 1
                if child + 1 < need and heap[child + 1] > heap[child]:
                    child += 1
                if heap[child] <= heap[k]:
                    break
                heap[child], heap[k] = heap[k], heap[child]
                k = child
        if size == need:
            out[i] = heap[0]
    return out


@compiled
def most_disjoint(start, end):
    """The largest number of pairwise disjoint windows ``[start, end)`` (earliest end first)."""
    count = 0
    free_from = -np.inf
    for i in np.argsort(end):
        if start[i] >= free_from:
            count += 1
            free_from = end[i]
    return count


@compiled
def overlap_groups(device, start, end, slot):
    """For check-ins sorted by (device, start): each one's group (one device's check-ins whose
    windows chain into each other), each group's largest disjoint set, and at the first check-in
    of each (group, slot) part the largest disjoint set of that part (0 elsewhere)."""
    n = len(device)
    group = np.empty(n, np.int64)
    current = -1
    reach = -np.inf
    for k in range(n):
        if k == 0 or device[k] != device[k - 1] or start[k] >= reach:
            current += 1
            reach = end[k]
        else:
            reach = max(reach, end[k])
        group[k] = current
    group_most = np.zeros(current + 1, np.int64)
    part_most = np.zeros(n, np.int64)
    first = 0
    while first < n:
        stop = first
        while stop < n and group[stop] == group[first]:
            stop += 1
        group_most[group[first]] = most_disjoint(start[first:stop], end[first:stop])
        part = first
        while part < stop:
            part_stop = part
            while part_stop < stop and slot[part_stop] == slot[part]:
                part_stop += 1
            part_most[part] = most_disjoint(start[part:part_stop], end[part:part_stop])
            part = part_stop
        first = stop
    return group, group_most, part_most


class RoundChain:
    """When a synchronous job's successful rounds can close, from its usable check-ins as if it
    had them all to itself (``time`` sorted, ``finish`` of its task on each)."""

    def __init__(self, time: np.ndarray, finish: np.ndarray, quorum: int, deadline_s: float, request_timing: bool):
        closes = quorum_finish_from(finish, quorum)  # a round requested at time[i] closes no earlier
        if request_timing:
            can_succeed = closes <= time + deadline_s + SLACK_S
        else:
            can_succeed = np.isfinite(closes)
        n = len(time)
        next_success = np.minimum.accumulate(np.where(can_succeed, np.arange(n), n)[::-1])[::-1]
        self._time = time
        # earliest close of a successful round requested in (time[i-1], time[i]], then inf
        self._close = np.append(np.append(closes, np.inf)[next_success], np.inf)
        latest_start = np.maximum.accumulate(np.where(can_succeed, time, -np.inf))
        if request_timing:
            self.in_window = finish <= latest_start + deadline_s + SLACK_S
        else:
            self.in_window = np.isfinite(latest_start)

    def earliest_close(self, request_s):
        """Earliest close of a successful round requested at or after ``request_s``."""
        return self._close[np.searchsorted(self._time, request_s, side="left")]


@dataclass
class JobPlan:
    """What the LP needs of one job: its usable check-ins (indices), the results it needs, those per
    round, and the earliest closes of its rounds one after another alone. An async job's rounds do
    not wait for each other: one "round" of all its results, closing at its earliest end."""

    usable: np.ndarray
    demand: int
    quorum: int
    earliest_closes: np.ndarray

    def most_results_by(self, time_s: np.ndarray) -> np.ndarray:
        """Most results checked in before each time: a quorum per round requested by then."""
        requested = 1 + np.searchsorted(self.earliest_closes, time_s, side="right")
        return np.minimum(self.quorum * requested, self.demand).astype(float)


def plan_job(
    job: JobSpec, checkins: Checkins, population: DevicePopulation, eligible: np.ndarray, request_timing: bool
) -> JobPlan:
    """``eligible``: per check-in, whether its device may serve the job."""
    candidates = np.flatnonzero(eligible & (checkins.time >= job.arrival_s))
    device = checkins.device[candidates]
    work = task_seconds(
        job.workload_s,
        transfer_mbit(job.model_size_mb),
        population.compute_factor[device],
        population.bandwidth_mbps[device],
    )
    finish = checkins.time[candidates] + work * checkins.noise[candidates]  # as the matcher computes it
    succeeds = finish <= checkins.end[candidates] + SLACK_S
    usable, finish = candidates[succeeds], finish[succeeds]
    if job.mode == ASYNC:
        demand = job.rounds * job.buffer_size
        earliest = float(np.partition(finish, demand - 1)[demand - 1]) if len(finish) >= demand else math.inf
        return JobPlan(usable, demand, demand, np.array([earliest]))
    chain = RoundChain(checkins.time[usable], finish, job.quorum_count, job.deadline_s, request_timing)
    closes = np.empty(job.rounds)
    close = job.arrival_s
    for r in range(job.rounds):
        close = closes[r] = chain.earliest_close(close)
    return JobPlan(usable[chain.in_window], job.rounds * job.quorum_count, job.quorum_count, closes)


class Constraints:
    """Rows of a sparse ``A x (<= or ==) b``, added in blocks."""

    def __init__(self) -> None:
        self._rows: list[np.ndarray] = []
        self._cols: list[np.ndarray] = []
        self._vals: list[np.ndarray] = []
        self._rhs: list[np.ndarray] = []
        self.count = 0

    def add(self, rows: list, cols: list, vals: list, rhs: np.ndarray) -> None:
        """Rows ``0..len(rhs)-1`` of the block: term k puts ``vals[k]`` at (``rows[k]``, ``cols[k]``)."""
        for r, c, v in zip(rows, cols, vals):
            r, c = np.asarray(r, dtype=np.int64).ravel(), np.asarray(c, dtype=np.int64).ravel()
            self._rows.append(r + self.count)
            self._cols.append(c)
            self._vals.append(np.broadcast_to(np.asarray(v, dtype=float), r.shape))
        self._rhs.append(np.asarray(rhs, dtype=float))
        self.count += len(rhs)

    def matrix(self, n_vars: int):
        from scipy.sparse import coo_array

        data = (np.concatenate(self._vals), (np.concatenate(self._rows), np.concatenate(self._cols)))
        return coo_array(data, shape=(self.count, n_vars)).tocsr(), np.concatenate(self._rhs)


def lp_lower_bound(scenario: Scenario) -> float:
    """A lower bound on the mean JCT censored at the horizon (the module docstring says how)."""
    horizon = scenario.horizon_s or scenario.max_sim_days * DAY_S
    arrival = np.array([j.arrival_s for j in scenario.workload.jobs])
    counted = arrival <= horizon  # the censored mean leaves out jobs that arrive after the run
    if not counted.any():
        return 0.0
    edges = slot_edges(horizon)
    cutoff = int(np.searchsorted(edges, min(arrival[counted].max() + DAY_S, horizon)))
    while True:
        bound, all_ended = _solve_until(scenario, edges[: cutoff + 1], counted)
        if all_ended or cutoff == len(edges) - 1:
            return bound
        cutoff = int(np.searchsorted(edges, min(2.0 * edges[cutoff], horizon)))


def _solve_until(scenario: Scenario, edges: np.ndarray, counted: np.ndarray) -> tuple[float, bool]:
    """The LP over the slots between ``edges``: its bound, and whether every job ends by the last edge."""
    from scipy.optimize import linprog

    jobs = scenario.workload.jobs
    starts, ends = edges[:-1], edges[1:]
    n_jobs, n_slots = len(jobs), len(starts)
    arrival = np.array([j.arrival_s for j in jobs])
    checkins = read_checkins(scenario, edges[-1])
    slot = np.searchsorted(starts, checkins.time, side="right") - 1
    elig = eligibility(scenario)
    pattern = elig.device_pattern[checkins.device]
    n_patterns = len(elig.patterns)
    request_timing = scenario.round_deadline_from == DEADLINE_FROM_REQUEST
    plans = {
        j: plan_job(
            job,
            checkins,
            scenario.population,
            elig.device_eligible[checkins.device, elig.job_requirement[j]],
            request_timing,
        )
        for j, job in enumerate(jobs)
        if counted[j]
    }

    # Variables: y (results per pattern, job, slot), u (check-ins used per part of an overlap group
    # whose own cap binds), c (each job's results so far per slot), z (ended before the slot ends).
    blocks = []
    for j, plan in plans.items():
        usable = np.zeros((n_patterns, n_slots))
        np.add.at(usable, (pattern[plan.usable], slot[plan.usable]), 1.0)
        p, t = np.nonzero(usable)
        blocks.append((p, np.full(len(p), j), t, usable[p, t]))
    y_pattern, y_job, y_slot, y_cap = (np.concatenate(column) for column in zip(*blocks))
    n_y = len(y_pattern)

    by_device = np.lexsort((checkins.time, checkins.device))
    group, group_most, part_most = overlap_groups(
        checkins.device[by_device], checkins.time[by_device], checkins.end[by_device], slot[by_device]
    )
    part = np.flatnonzero(part_most)  # first check-in of each (group, slot) part, in by_device order
    part_group, part_cap = group[part], part_most[part]
    part_pattern, part_slot = pattern[by_device[part]], slot[by_device[part]]
    capped = (group_most < np.bincount(part_group, weights=part_cap, minlength=len(group_most)))[part_group]
    free_supply = np.zeros((n_patterns, n_slots))  # check-ins usable whatever else is used
    np.add.at(free_supply, (part_pattern[~capped], part_slot[~capped]), part_cap[~capped])
    n_u = int(capped.sum())

    u_of = n_y + np.arange(n_u)
    c_of = n_y + n_u + np.arange(n_jobs * n_slots).reshape(n_jobs, n_slots)
    z_of = c_of + n_jobs * n_slots
    n_vars = n_y + n_u + 2 * n_jobs * n_slots
    upper = np.full(n_vars, np.inf)
    upper[:n_y] = y_cap
    upper[u_of] = part_cap[capped]
    # time of each slot after each job's arrival: what not having ended by the slot's end costs
    exposure = np.clip(ends[None, :] - np.maximum(starts[None, :], arrival[:, None]), 0.0, None)
    exposure[~counted] = 0.0
    z_upper = np.zeros((n_jobs, n_slots))
    for j, plan in plans.items():
        z_upper[j] = (exposure[j] > 0) & (ends > plan.earliest_closes[-1])
        upper[c_of[j]] = plan.most_results_by(ends)
    upper[z_of] = z_upper

    ub, eq = Constraints(), Constraints()
    # check-ins per pattern and slot, less those that overlap a used one of the same device
    capped_part = np.flatnonzero(capped)
    ub.add(
        [y_pattern * n_slots + y_slot, part_pattern[capped_part] * n_slots + part_slot[capped_part]],
        [np.arange(n_y), u_of],
        [1.0, -1.0],
        free_supply.ravel(),
    )
    group_ids, group_row = np.unique(part_group[capped_part], return_inverse=True)
    ub.add([group_row], [u_of], [1.0], group_most[group_ids])
    # results so far: c[j, t] = c[j, t-1] + sum_p y[p, j, t]
    eq.add(
        [
            np.arange(n_jobs * n_slots),
            np.arange(n_jobs * n_slots).reshape(n_jobs, n_slots)[:, 1:],
            y_job * n_slots + y_slot,
        ],
        [c_of.ravel(), c_of[:, :-1].ravel(), np.arange(n_y)],
        [1.0, -1.0, -1.0],
        np.zeros(n_jobs * n_slots),
    )
    # an end needs every result: demand x z[j, t] <= c[j, t]
    live_job, live_slot = np.nonzero(z_upper)
    demand = np.array([plans[j].demand for j in live_job], dtype=float)
    rows = np.arange(len(live_job))
    ub.add([rows, rows], [z_of[live_job, live_slot], c_of[live_job, live_slot]], [demand, -1.0], np.zeros(len(rows)))

    a_ub, b_ub = ub.matrix(n_vars)
    a_eq, b_eq = eq.matrix(n_vars)
    share = exposure / counted.sum()
    cost = np.zeros(n_vars)
    cost[z_of] = -share
    solved = linprog(
        cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=np.stack([np.zeros(n_vars), upper], 1), method="highs"
    )
    if solved.status != 0:
        raise RuntimeError(f"the lower-bound LP did not solve: {solved.message}")
    ended = solved.x[z_of[:, -1]] >= ENDED
    return float(share.sum() + solved.fun), bool(ended[counted].all())
