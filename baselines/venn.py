"""Venn: contention-aware scheduling across job groups plus resource-aware tier matching.

Liu et al., "Venn: Resource Management for Collaborative Learning Jobs", MLSys 2025.

Scheduling. Jobs with the same requirement form a group; inside a group the job
with the smallest remaining demand goes first. Remaining demand counts the rest
of the current round plus every round still to come (remaining service,
``order_key="service"``), the order that minimises average JCT within a group.
The authors' simulator (SymbioticLab/Venn, src/venn.py, VennReqScheduler) orders
by the current round's remaining demand, as SRSF does (``order_key="round"``,
the ``venn-ref`` policy). Across groups, every device class
is first given to the scarcest group it is eligible for (supply = check-ins per
second of the classes a group may use). Then, from the most abundant group
down, a group also takes the devices of the next scarcer group while its
affected queue per unit of supply exceeds that group's (m'_j/|S'_j| > m'_k/|S'_k|);
it stops at the first "no". Other eligible jobs keep lower scores, so that no
device idles while a job could use it. ``take_over_margin`` (alpha, 1 in the paper)
generalises the test to m'_j/|S'_j| > alpha * m'_k/|S'_k|, for studies of the rule
(benchmarks/venn_knobs.py).

Matching. Devices fall into V speed tiers; g_u is tier u's 95th-percentile task
time over all devices'. At each round request a job whose last round had
response/scheduling ratio c picks a tier u at random and restricts the round to
it iff 1 + c > V + c * g_u.

Fairness. With e > 0, demands are scaled by (progress / fair progress)^e, where
the fair share of a job is (jobs in the system) x (its contention-free JCT).

Admission (the authors' check, off unless ``admission > 0``; 0.5 in their code). At
each round request, a job whose ``admission`` x participants per minute of deadline
(``participants / floor(deadline_s / 60)``) exceeds the check-ins per minute of the
devices it may use is rejected for that round: it gets no devices, its round fails
at its deadline, and the check runs again at the next request. The authors count
the last 100 check-ins of the category; here the supply estimate of the view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Optional

import numpy as np

from venn_gym.compiled import compiled, register
from venn_gym.errors import SpecError
from venn_gym.event_loop import REQUEST_EVENT, PolicyKernel, policy_kernel
from venn_gym.policy import Policy, rank_order, rank_scores, scores_of_order
from venn_gym.seeds import VENN_STREAM, stream
from venn_gym.view import remaining_demand

ORDER_KEYS = ("service", "round")  # remaining service (venn_gym's Venn), current round's demand (authors')
_GROUP_FIRST = 1e6  # score offset of the jobs of the group a device class is allocated to


@dataclass(frozen=True)
class VennDecision:
    """One Venn decision in compact form: ``job_order`` ranks jobs (higher first),
    ``class_group[c]`` is the group (requirement index) device class c serves first
    (-1: none), ``job_tier[j]`` the speed tier job j's round is restricted to (-1: any),
    ``job_rejected[j]`` whether the admission check turned job j's round away (None: none was).
    :meth:`scores` expands it into the (class x job) matrix the simulator takes."""

    job_order: np.ndarray
    class_group: np.ndarray
    job_tier: np.ndarray
    job_rejected: Optional[np.ndarray] = None

    def scores(self, static) -> np.ndarray:
        rejected = self.job_rejected if self.job_rejected is not None else np.zeros(len(self.job_order), dtype=bool)
        return _score_matrix(
            self.job_order, self.class_group, self.job_tier, rejected, static.job_requirement, static.class_tier
        )


class VennPolicy(Policy):
    def __init__(
        self,
        scheduling: bool = True,
        matching: bool = True,
        fairness: float = 0.0,
        take_over_margin: float = 1.0,
        order_key: str = "service",
        admission: float = 0.0,
    ):
        if not take_over_margin >= 0:
            raise SpecError(f"take_over_margin (alpha) must be >= 0 (inf: no take-over), got {take_over_margin}")
        if order_key not in ORDER_KEYS:
            raise SpecError(f"order_key must be one of {', '.join(ORDER_KEYS)}, got {order_key!r}")
        if not admission >= 0:
            raise SpecError(f"admission must be >= 0 (0: no admission check), got {admission}")
        self.scheduling = scheduling
        self.matching = matching
        self.fairness = fairness
        self.take_over_margin = float(take_over_margin)
        self.order_key = order_key
        self.admission = float(admission)
        suffix = "" if scheduling and matching else ("-no-sched" if not scheduling else "-no-match")
        if order_key == "round":
            suffix = "-ref" + suffix
        knobs = []
        if fairness:
            knobs.append(f"e={fairness:g}")
        if take_over_margin != 1.0:
            knobs.append(f"alpha={take_over_margin:g}")
        if admission:
            knobs.append(f"admission={admission:g}")
        self.name = "venn" + suffix + (f"({','.join(knobs)})" if knobs else "")

    def reset(self, static, seed):
        self._rng = stream(seed, VENN_STREAM)
        self._tier = np.full(static.n_jobs, -1)
        self._rejected = np.zeros(static.n_jobs, dtype=bool)
        self._eligible = static.class_eligible.astype(float)  # [class, requirement], for supply sums
        self._job_eligible = static.job_eligible  # [class, job]; the property builds it at each call
        self._supply_key: bytes | None = None  # the class supply that _refresh_owners last ran on
        # Each class's owner group, the groups' owned supply, the groups from the most abundant down:
        # rewritten in place (the kernel's state holds them).
        self._owner = np.full(static.n_classes, -1)
        self._owned_supply = np.zeros(static.n_requirements)
        self._by_abundance = np.zeros(static.n_requirements, dtype=np.int64)

    def kernel(self, static):
        """Venn's decision compiled (:func:`_venn_kernel`), for Venn and its variants without the
        fairness knob or the admission check, and not for subclasses that change the decision."""
        own = all(getattr(type(self), m) is getattr(VennPolicy, m) for m in ("decide", "_effective_demand", "scores"))
        if self.fairness or self.admission or not own:
            return None
        state = VennKernelState(
            self._rng,
            self._tier,
            self._rejected,
            static.job_requirement,
            static.class_tier,
            static.job_rounds,
            static.job_participants,
            static.speed_tiers,
            self._owner,
            self._owned_supply,
            self._by_abundance,
            self.take_over_margin,
            self.scheduling,
            self.matching,
            self.order_key == "round",
        )
        return PolicyKernel(state, np.full((static.n_classes, static.n_jobs), -np.inf), self._refresh_owners)

    # ------------------------------------------------------------- scores
    def scores(self, view, events):
        return self.decide(view, events).scores(view.static)

    def decide(self, view, events) -> VennDecision:
        """The scheduling decision itself (group allocation, order, tiers), without the score matrix."""
        static = view.static
        if self.admission:
            self._admit(view, events)
        demand = self._effective_demand(view)
        if self.scheduling:
            job_order, class_group = self._allocate(view, demand)
        else:
            job_order = rank_scores(demand, view.arrival_s)
            class_group = np.full(static.n_classes, -1)
        if self.matching:
            for event in events:
                if event.kind == "request":
                    self._tier[event.job] = self._pick_tier(view, event.job)
        tiers = self._tier.copy() if self.matching else np.full(static.n_jobs, -1)
        rejected = self._rejected.copy() if self.admission and self._rejected.any() else None  # only _admit rejects
        return VennDecision(job_order, class_group, tiers, rejected)

    def _admit(self, view, events) -> None:
        """The authors' admission check, at each round request (see the module docstring)."""
        static = view.static
        for event in events:
            if event.kind == "request":
                j = event.job
                minutes = static.job_deadline_s[j] // 60
                supply_per_min = 60.0 * (view.class_supply_per_s @ self._job_eligible[:, j])
                asked_per_min = static.job_participants[j] / minutes if minutes > 0 else np.inf
                self._rejected[j] = self.admission * asked_per_min > supply_per_min
            elif event.kind == "job_end":
                self._rejected[event.job] = False

    def _effective_demand(self, view) -> np.ndarray:
        static = view.static
        if self.order_key == "round":
            demand = view.open_demand.astype(float)
        else:
            demand = view.remaining_demand
        if not self.fairness:
            return demand
        supply = view.class_supply_per_s @ static.class_eligible  # per requirement
        job_supply = np.maximum(supply[static.job_requirement], 1e-9)
        response = view.all_response_p95_s if np.isfinite(view.all_response_p95_s) else 0.0
        alone = static.job_rounds * (static.job_participants / job_supply + response)
        fair = max(1, int(view.active.sum())) * alone
        age = np.maximum(view.time_s - view.arrival_s, 1.0)
        progress = (view.rounds_done / static.job_rounds) / np.minimum(age / fair, 1.0)
        return demand * np.clip(progress, 0.1, 10.0) ** self.fairness

    def _allocate(self, view, demand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The job order (as scores: 0 for the first job, -1 for the next, ...) and the group
        (requirement index) each device class serves first."""
        self._refresh_owners(view.class_supply_per_s)
        return _order_and_groups(
            demand,
            view.arrival_s,
            view.active,
            view.open_demand,
            self._rejected,
            view.static.job_requirement,
            self._by_abundance,
            self._owned_supply,
            self._owner,
            self.take_over_margin,
        )

    def _refresh_owners(self, supply_of_class) -> None:
        """Each device class's owner, the scarcest group it is eligible for, and the groups from the
        most abundant down: they change with the supply estimate only, once a trace chunk."""
        key = supply_of_class.tobytes()
        if key == self._supply_key:
            return
        eligible = self._eligible > 0  # [class, requirement]
        n_req = len(self._owned_supply)
        small_int = np.min_scalar_type(n_req)  # the smallest type that holds the weights 1..n_req
        total_supply = supply_of_class @ self._eligible
        by_scarcity = np.argsort(total_supply, kind="stable")
        # Each class goes to the scarcest group it is eligible for: the eligible group
        # with the largest weight n_req - (rank by scarcity); weight 0: none.
        weight = np.empty(n_req, dtype=small_int)
        weight[by_scarcity] = np.arange(n_req, 0, -1)
        best = (eligible.view(np.uint8) * weight).max(axis=1).astype(np.int64)
        owner = np.where(best > 0, by_scarcity[np.minimum(n_req - best, n_req - 1)], -1)
        served = owner >= 0
        self._owned_supply[:] = np.bincount(owner[served], weights=supply_of_class[served], minlength=n_req)
        self._owner[:] = owner
        self._by_abundance[:] = by_scarcity[::-1]
        self._supply_key = key

    def _pick_tier(self, view, job: int) -> int:
        return int(
            _pick_tier(
                self._rng,
                view.static.speed_tiers,
                float(view.last_scheduling_delay_s[job]),
                float(view.last_response_s[job]),
                float(view.all_response_p95_s),
                view.tier_response_p95_s,
            )
        )


class VennKernelState(NamedTuple):
    """What :func:`_venn_kernel` needs beyond the view: the policy's generator, tiers and rejections,
    facts of the run, the group ownership (refreshed in place once a trace chunk) and the knobs."""

    rng: np.random.Generator
    tier: np.ndarray
    rejected: np.ndarray
    job_requirement: np.ndarray
    class_tier: np.ndarray
    job_rounds: np.ndarray
    job_participants: np.ndarray
    speed_tiers: int
    owner: np.ndarray
    owned_supply: np.ndarray
    by_abundance: np.ndarray
    margin: float
    scheduling: bool
    matching: bool
    round_order: bool


@compiled
def _venn_kernel(state, events, view, scores):
    """:meth:`VennPolicy.scores` compiled (no fairness, no admission): the same decision, the same draws."""
    open_demand, arrival_s = view[4], view[2]
    if state.round_order:
        demand = open_demand.astype(np.float64)
    else:
        demand = remaining_demand(open_demand, view[3], state.job_rounds, state.job_participants)
    if state.scheduling:
        job_order, class_group = _order_and_groups(
            demand,
            arrival_s,
            view[1],
            open_demand,
            state.rejected,
            state.job_requirement,
            state.by_abundance,
            state.owned_supply,
            state.owner,
            state.margin,
        )
    else:
        job_order = rank_scores(demand, arrival_s)
        class_group = np.full(len(state.class_tier), -1, dtype=np.int64)
    if state.matching:
        for e in range(events[4][0]):
            if events[1][e] == REQUEST_EVENT:
                j = events[2][e]
                state.tier[j] = _pick_tier(
                    state.rng, state.speed_tiers, view[11][j], view[12][j], view[15][0], view[14]
                )
        tiers = state.tier
    else:
        tiers = np.full(len(state.tier), -1, dtype=np.int64)
    _fill_score_matrix(scores, job_order, class_group, tiers, state.rejected, state.job_requirement, state.class_tier)


register(policy_kernel, VennKernelState, _venn_kernel)


@compiled
def _pick_tier(rng, tiers, sched, resp, overall, tier_p95):
    """The tier a job's new round is restricted to (-1: any), from its last round's response /
    scheduling ratio (see the module docstring); draws from ``rng`` only when it can restrict."""
    if tiers < 2 or sched <= 0 or not math.isfinite(overall):
        return -1
    u = rng.integers(0, tiers)
    # Over an overall p95 of 0 (zero-time tasks) no ratio is finite: no tier.
    g = tier_p95[u] / overall if overall != 0 else math.nan
    if not math.isfinite(g):
        return -1
    c = resp / sched
    return u if 1 + c > tiers + c * g else -1


@compiled
def _order_and_groups(
    demand, arrival_s, active, open_demand, rejected, job_requirement, by_abundance, owned_supply, owner, margin
):
    """Venn's allocation at one event: the job order as scores (0 for the first job, -1 for the next,
    ...) and the group each device class serves first (-1: none). Queues: each group's active jobs
    with open demand, not rejected, in job order; ``owned_supply[g]``: the supply of the classes
    that group g owns (``owner``); groups are taken over from ``by_abundance`` (most abundant first) on."""
    n_jobs, n_req = len(demand), len(owned_supply)
    queued = active & (open_demand > 0) & ~rejected  # a rejected round asks for nothing
    order = rank_order(demand, arrival_s)
    job_order = scores_of_order(order)
    # Each group's queue in job order, the groups one after another (a counting sort by group).
    bounds = np.zeros(n_req + 1, dtype=np.int64)
    for j in range(n_jobs):
        if queued[j]:
            bounds[job_requirement[j] + 1] += 1
    for g in range(n_req):
        bounds[g + 1] += bounds[g]
    filled = bounds[:n_req].copy()
    sorted_demand = np.empty(bounds[n_req])
    for j in order:
        if queued[j]:
            g = job_requirement[j]
            sorted_demand[filled[g]] = demand[j]
            filled[g] += 1
    taken_by = _take_over(by_abundance, bounds, sorted_demand, owned_supply, margin)
    class_group = np.full(len(owner), -1, dtype=np.int64)
    for c in range(len(owner)):
        if owner[c] >= 0:
            class_group[c] = taken_by[owner[c]]
    return job_order, class_group


@compiled
def _score_matrix(job_order, class_group, job_tier, job_rejected, job_requirement, class_tier):
    """:meth:`VennDecision.scores`: a (class x job) matrix."""
    scores = np.empty((len(class_group), len(job_order)))
    _fill_score_matrix(scores, job_order, class_group, job_tier, job_rejected, job_requirement, class_tier)
    return scores


@compiled
def _fill_score_matrix(scores, job_order, class_group, job_tier, job_rejected, job_requirement, class_tier):
    """:func:`_score_matrix`, written into ``scores``."""
    for c in range(len(class_group)):
        for j in range(len(job_order)):
            if job_rejected[j] or (job_tier[j] >= 0 and class_tier[c] != job_tier[j]):
                scores[c, j] = -np.inf
            elif class_group[c] == job_requirement[j]:
                scores[c, j] = job_order[j] + _GROUP_FIRST
            else:
                scores[c, j] = job_order[j]


@compiled
def _take_over(order, bounds, sorted_demand, alloc, margin=1.0):
    """The sequential take-over pass. Groups in ``order`` (most abundant first); group
    g's queue is ``sorted_demand[bounds[g]:bounds[g + 1]]`` (ascending), ``alloc[g]``
    its supply. From the most abundant group down, a group takes over the next scarcer
    group while its affected queue per unit of supply exceeds ``margin`` times that group's
    (m'_j/|S'_j| > margin * m'_k/|S'_k|), and stops at the first "no"; a group without queue or
    supply is taken over, one without both skipped. Returns the group that serves
    each group's devices. Sums run in queue order, as in a plain loop.
    """
    n_req = len(alloc)
    alloc = alloc.copy()
    taken_by = np.arange(n_req)
    length = bounds[1:] - bounds[:-1]  # queue length per group (0 once taken over)
    merged = np.empty(len(sorted_demand))  # the current head's queue, ascending
    spare = np.empty(len(sorted_demand))
    for pos in range(len(order)):
        j = order[pos]
        if length[j] == 0 or alloc[j] <= 0:
            continue
        n = length[j]
        merged[:n] = sorted_demand[bounds[j] : bounds[j] + n]
        for k in order[pos + 1 :]:
            if alloc[k] <= 0 and length[k] == 0:
                continue
            queue_k = sorted_demand[bounds[k] : bounds[k] + length[k]]
            if (
                length[k] > 0
                and alloc[k] > 0
                and not _affected_queue_longer(merged[:n], alloc[j], queue_k, alloc[k], margin)
            ):
                break
            # k is scarcer, so it has not taken anything over yet, and j is no one's.
            taken_by[k] = j
            alloc[j] += alloc[k]
            alloc[k] = 0.0
            a = b = 0
            while a < n or b < length[k]:  # merge the two ascending queues
                if b == length[k] or (a < n and merged[a] <= queue_k[b]):
                    spare[a + b] = merged[a]
                    a += 1
                else:
                    spare[a + b] = queue_k[b]
                    b += 1
            n += length[k]
            length[k] = 0
            merged, spare = spare, merged
    return taken_by


@compiled
def _affected_queue_longer(queue_j, supply_j, queue_k, supply_k, margin):
    """Does group j's affected queue per unit supply exceed ``margin`` times k's? (Queues ascending.)"""
    delay_k = 0.0
    for demand in queue_k:
        delay_k += demand
    delay_k /= supply_k
    total_j = 0.0
    for demand in queue_j:
        total_j += demand
    affected = len(queue_j)
    if total_j / supply_j > delay_k:  # some of j's jobs would wait longer than k's queue
        waited = 0.0
        for position in range(len(queue_j)):
            waited += queue_j[position] / supply_j
            if waited >= delay_k:
                affected = position
                break
    return affected / supply_j > margin * len(queue_k) / supply_k
