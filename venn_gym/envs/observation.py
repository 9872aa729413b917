"""Observations of the Gymnasium environments: a flat ``Dict`` of bounded arrays of fixed shape.

Every array is ``float32`` in [0, 1] (``time_of_day`` in [-1, 1]) or an ``int8``
0/1 ``MultiBinary``. Quantities without a natural bound are squashed with
``x / (x + s)`` for a documented scale ``s`` (the value is 0.5 at ``x = s``).

With holds (``JobPriority-v0`` with ``round_hold=True``) two more keys: ``job_held``, per
slot the time until its held round is requested again, squashed at 600 s (0: not held), and
``job_holdable``, whether its round can be held now (synchronous, nothing dispatched, not held).

Indices are stable across scenarios and seeds, although the simulator numbers
requirements and device classes in order of appearance: a requirement's index is
its rank among the episode's requirement labels sorted by name, and a device
class's index is ``pattern * max_tiers + tier`` where ``pattern`` is the bitmask
of the (sorted) requirements the class satisfies. ``max_classes`` is therefore
``2 ** max_requirements * max_tiers``; indices of patterns absent from a pool stay 0.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
from gymnasium import spaces

from venn_gym.errors import SpecError

# Columns of obs["jobs"] (one row per job slot; empty slots are all zero): name, the scale s of
# its squash x / (x + s) (None: already a fraction), meaning. Code indexes them by name (JOB),
# so reordering this table cannot put a value in the wrong column.
JOB_FEATURE_TABLE = (
    ("open_frac", None, "open demand of the current round / participants per round"),
    ("open", 100.0, "open demand, in devices"),
    ("participants", 100.0, "participants per round"),
    ("rounds_left_frac", None, "rounds still to do / total rounds"),
    ("rounds_left", 1000.0, "rounds still to do"),
    ("remaining_demand", 1e5, "open demand + later rounds x participants, in devices"),
    ("age", 86_400.0, "time since arrival, s"),
    ("round_age", 600.0, "time since the current round's request, s"),
    ("last_scheduling_delay", 600.0, "of the last round, s"),
    ("last_response", 600.0, "of the last round, s"),
    ("round_results", None, "results of the current round / participants (clipped to 1)"),
    ("deadline", 600.0, "round deadline, s"),
    ("failed_frac", None, "failed rounds / (failed + done + 1)"),
    ("group_supply_share", None, "check-in rate eligible for the job's requirement / total rate"),
    ("group_supply_vs_demand", None, "eligible check-ins in 10 min s vs participants p: s / (s + p)"),
    (
        "group_queue",
        None,
        "open demand q of active jobs of the same requirement vs 10 min of its supply s: q / (q + s + 1)",
    ),
)
JOB_FEATURES = tuple(name for name, _, _ in JOB_FEATURE_TABLE)
JOB = SimpleNamespace(**{name: i for i, name in enumerate(JOB_FEATURES)})
# obs["pool"]
POOL_FEATURES = (
    "checkin_rate",  # current estimated check-in rate / (2 x the trace's mean rate), clipped
    "jobs_in_system",  # active jobs / max_jobs
    "response_p95",  # 95th-percentile task time over all devices, squashed (scale 300 s)
    "sim_time",  # simulated time, squashed (scale 30 days)
)
# obs["device"] (device env only)
DEVICE_FEATURES = (
    "window_left",  # time the device stays online, squashed (scale 900 s)
    "choices",  # eligible jobs with open demand / max_jobs
)
# age and round_age change between events; set_time rewrites them as one slice
assert JOB.round_age == JOB.age + 1, "set_time updates age and round_age as one slice: keep them adjacent"
_AGES = slice(JOB.age, JOB.round_age + 1)
# rows squashed with x / (x + scale) in refresh(); group_supply_vs_demand is squashed per job (by participants)
_SQUASH = {getattr(JOB, name): scale for name, scale, _ in JOB_FEATURE_TABLE if scale is not None}
_SQUASH_ROWS = np.array(sorted(_SQUASH))
_DAY = 86_400.0
_HELD_SCALE_S = 600.0  # obs["job_held"]: time until a held round is requested again, squashed at this scale


def _squash(x, scale):
    x = np.maximum(x, 0.0)
    return x / (x + scale)


class ObservationBuilder:
    """Builds observations; cheap per-step updates between scheduling events."""

    def __init__(
        self,
        max_jobs: int,
        max_requirements: int,
        max_tiers: int,
        device: bool,
        mask_in_obs: bool,
        holds: bool = False,
    ):
        if max_requirements > 10:
            raise SpecError(f"max_requirements must be <= 10 (classes are indexed by bitmask), got {max_requirements}")
        self.max_jobs = M = max_jobs
        self.max_requirements = R = max_requirements
        self.max_tiers = T = max_tiers
        self.max_classes = C = (2**R) * T
        self.device = device
        self.mask_in_obs = mask_in_obs
        self.holds = holds
        box = lambda shape, low=0.0: spaces.Box(low, 1.0, shape, dtype=np.float32)  # noqa: E731
        sp = {
            "job_mask": spaces.MultiBinary(M),
            "job_requirement": box((M, R)),
            "jobs": box((M, len(JOB_FEATURES))),
            "pool": box((len(POOL_FEATURES),)),
            "time_of_day": box((2,), -1.0),
            "class_supply": box((C,)),
            "tier_response": box((T,)),
        }
        if device:
            sp.update(
                device=box((len(DEVICE_FEATURES),)),
                device_class=box((C,)),
                device_tier=box((T,)),
                device_requirements=box((R,)),
                job_eligible=spaces.MultiBinary(M),
            )
            if mask_in_obs:
                sp["action_mask"] = spaces.MultiBinary(M + 1)
        if holds:
            sp.update(job_held=box((M,)), job_holdable=spaces.MultiBinary(M))
        self.space = spaces.Dict(sp)
        # Every array lives in one float32 and one int8 buffer, updated in place; an
        # observation is a copy of the two buffers and views into the copies.
        self._layout = []  # (key, int8?, slice of its buffer, shape if not 1-D)
        size = {False: 0, True: 0}
        for key, sub in self.space.spaces.items():
            is_int = isinstance(sub, spaces.MultiBinary)
            start = size[is_int]
            size[is_int] += math.prod(sub.shape)
            self._layout.append((key, is_int, slice(start, size[is_int]), sub.shape if len(sub.shape) > 1 else None))
        self._fbuf = np.zeros(size[False], dtype=np.float32)
        self._ibuf = np.zeros(size[True], dtype=np.int8)
        self._make_views()
        self._float_slices = {key: part for key, is_int, part, _ in self._layout if not is_int}
        if device:
            keys = ("device_class", "device_tier", "device_requirements")
            self._device_span = slice(
                min(self._float_slices[k].start for k in keys), max(self._float_slices[k].stop for k in keys)
            )
            if self._device_span.stop - self._device_span.start != sum(math.prod(sp[k].shape) for k in keys):
                raise AssertionError("the device's class, tier and requirements must be adjacent in the layout")
        # [arrival; round request] per slot, for the two age features (adjacent rows of the table)
        self._slot_since = np.zeros((2, M))
        self._age_scale = np.array([[_SQUASH[JOB.age]], [_SQUASH[JOB.round_age]]])

    _VIEW_ATTRIBUTES = ("_views", "_jt", "_req", "_mask", "_pool", "_class_supply", "_tier_response", "_time_of_day")

    def _make_views(self) -> None:
        self._views = v = self._split(self._fbuf, self._ibuf)
        self._jt = v["jobs"].T  # [feature, slot]: rows are updated one feature at a time
        self._req = v["job_requirement"]
        self._mask = v["job_mask"]
        self._pool = v["pool"]
        self._class_supply = v["class_supply"]
        self._tier_response = v["tier_response"]
        self._time_of_day = v["time_of_day"]

    def __getstate__(self) -> dict:
        # Views would come back from a pickle as separate arrays: rebuild them instead.
        return {k: v for k, v in self.__dict__.items() if k not in self._VIEW_ATTRIBUTES}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._make_views()

    # ------------------------------------------------------------ per episode
    def bind(self, static, mean_rate_per_s: float) -> None:
        M, R, T = self.max_jobs, self.max_requirements, self.max_tiers
        if static.n_requirements > R:
            raise SpecError(f"the scenario has {static.n_requirements} requirements, more than max_requirements={R}")
        if static.speed_tiers > T:
            raise SpecError(f"the scenario has {static.speed_tiers} speed tiers, more than max_tiers={T}")
        self.static = static
        order = np.argsort(np.array(static.requirement_labels), kind="stable")
        self.req_index = np.empty(static.n_requirements, dtype=np.int64)  # engine requirement -> canonical
        self.req_index[order] = np.arange(static.n_requirements)
        bits = (static.class_eligible.astype(np.int64) << self.req_index[None, :]).sum(axis=1)
        self.class_index = bits * T + static.class_tier  # engine class -> canonical class slot
        self.class_req_onehot = np.zeros((static.n_classes, R), dtype=np.float32)
        self.class_req_onehot[:, self.req_index] = static.class_eligible
        self.job_req_canon = self.req_index[static.job_requirement]
        self.participants = static.job_participants.astype(float)
        self.rounds = static.job_rounds.astype(float)
        self.mean_rate = mean_rate_per_s
        self._raw = np.zeros((len(JOB_FEATURES), static.n_jobs))
        self._squash_scale = np.array([_SQUASH[r] for r in _SQUASH_ROWS])[:, None]
        self.job_eligible = static.job_eligible  # [class, job]
        self._fbuf[:] = 0.0
        self._ibuf[:] = 0
        self._slot_on = np.zeros(M, dtype=np.float32)
        n_cls = static.n_classes
        if self.device:
            # The checking-in device's class, requirements and tier, per class: one row each,
            # laid out like their span of the float buffer (written with one assignment per step).
            self._device_rows = np.zeros((n_cls, self._device_span.stop - self._device_span.start), dtype=np.float32)
            base = self._device_span.start
            for key, values in (
                ("device_class", np.eye(self.max_classes, dtype=np.float32)[self.class_index]),
                ("device_tier", np.eye(T, dtype=np.float32)[static.class_tier]),
                ("device_requirements", self.class_req_onehot),
            ):
                part = self._float_slices[key]
                self._device_rows[:, part.start - base : part.stop - base] = values
        self._elig_slots = np.zeros((n_cls, M), dtype=np.int8)  # refreshed with the slots
        self._open = np.zeros(static.n_jobs)
        self._rem_rounds = np.zeros(static.n_jobs)

    # ------------------------------------------------------ at scheduling events
    def refresh(self, view, slots, holdable: np.ndarray | None = None) -> None:
        """Recompute everything from a :class:`SchedulerView` (at a scheduling event); ``holdable``
        (per job, :meth:`Simulation.holdable`) is needed when the observation shows holds."""
        st = self.static
        p = self.participants
        now = view.time_s
        active = view.active
        self._open = o = view.open_demand.astype(float)
        self._rem_rounds = rem = np.maximum(self.rounds - view.rounds_done, 0.0)
        supply = view.class_supply_per_s
        total = float(supply.sum())
        group = (supply @ st.class_eligible)[st.job_requirement]
        queue = np.bincount(st.job_requirement, weights=o * active, minlength=st.n_requirements)
        queue = queue[st.job_requirement]
        f = self._raw  # [feature, job]: raw values, then squashed in place
        f[JOB.open_frac] = o / p
        f[JOB.open] = o
        f[JOB.participants] = p
        f[JOB.deadline] = st.job_deadline_s
        f[JOB.rounds_left_frac] = rem / self.rounds
        f[JOB.rounds_left] = rem
        f[JOB.remaining_demand] = view.remaining_demand
        f[JOB.age] = now - view.arrival_s
        f[JOB.round_age] = now - view.round_request_s
        f[JOB.last_scheduling_delay] = view.last_scheduling_delay_s
        f[JOB.last_response] = view.last_response_s
        f[JOB.round_results] = view.results / p
        done_or_failed = view.failed_rounds + view.rounds_done + 1.0
        f[JOB.failed_frac] = view.failed_rounds / done_or_failed
        f[JOB.group_supply_share] = group / total if total > 0 else 0.0
        f[JOB.group_supply_vs_demand] = group * 600.0
        f[JOB.group_queue] = queue / (queue + group * 600.0 + 1.0)
        np.maximum(f, 0.0, out=f)
        sq = f[_SQUASH_ROWS]
        f[_SQUASH_ROWS] = sq / (sq + self._squash_scale)
        f[JOB.group_supply_vs_demand] /= f[JOB.group_supply_vs_demand] + p
        np.minimum(f, 1.0, out=f)
        f *= active
        s, j = slots.occupied()
        self._slots, self._slot_jobs = s, j
        self._jt[:] = 0.0
        self._jt[:, s] = f[:, j]
        self._req[:] = 0.0
        self._req[s, self.job_req_canon[j]] = 1.0
        self._mask[:] = 0
        self._mask[s] = active[j]
        self._req[self._mask == 0] = 0.0
        if self.holds:
            held_left = np.nan_to_num(view.round_held_until_s[j] - now, nan=0.0)
            self._views["job_held"][:] = 0.0
            self._views["job_held"][s] = _squash(held_left, _HELD_SCALE_S)
            self._views["job_holdable"][:] = 0
            self._views["job_holdable"][s] = holdable[j]
        if self.device:
            self._elig_slots[:] = 0
            self._elig_slots[:, s] = self.job_eligible[:, j] & active[j][None, :]
        self._slot_on[:] = self._mask
        self._slot_since[:] = now
        self._slot_since[0, s] = np.where(active[j], view.arrival_s[j], now)
        self._slot_since[1, s] = np.where(active[j], view.round_request_s[j], now)
        self._pool[0] = min(total / (2.0 * self.mean_rate), 1.0) if self.mean_rate > 0 else 0.0
        self._pool[1] = min(np.count_nonzero(active) / self.max_jobs, 1.0)
        p95 = view.all_response_p95_s
        self._pool[2] = _squash(p95, 300.0) if math.isfinite(p95) else 0.0
        if total > 0:
            self._class_supply[:] = np.bincount(self.class_index, supply / total, minlength=self.max_classes)
        else:
            self._class_supply[:] = 0.0
        g = view.tier_response_p95_s / p95 if math.isfinite(p95) and p95 > 0 else np.zeros(st.speed_tiers)
        g = np.where(np.isfinite(g), g, 0.0)
        self._tier_response[:] = 0.0
        self._tier_response[: st.speed_tiers] = _squash(g, 1.0)
        self.set_time(now)

    # ------------------------------------------------------- between events
    def set_time(self, now: float) -> None:
        self.now = now
        self._pool[3] = now / (now + 30 * _DAY)
        age = now - self._slot_since
        np.multiply(age / (age + self._age_scale), self._slot_on, out=self._jt[_AGES])

    def job_assigned(self, job: int, slot: int) -> None:
        """A device went to ``job``: one less open demand."""
        o = self._open[job] = self._open[job] - 1.0
        p = self.participants[job]
        jt = self._jt
        jt[0, slot] = min(o / p, 1.0)
        jt[1, slot] = o / (o + 100.0)
        r = o + max(self._rem_rounds[job] - 1.0, 0.0) * p
        jt[5, slot] = r / (r + 1e5)

    def set_open(self, open_demand: np.ndarray) -> None:
        """Open demands from a fresh view (when the simulator may have matched devices on its own)."""
        self._open = o = open_demand.astype(float)
        s, j = self._slots, self._slot_jobs
        on = self._mask[s] > 0
        s, j = s[on], j[on]
        p = self.participants[j]
        self._jt[0, s] = np.minimum(o[j] / p, 1.0)
        self._jt[1, s] = o[j] / (o[j] + 100.0)
        r = o[j] + np.maximum(self._rem_rounds[j] - 1.0, 0.0) * p
        self._jt[5, s] = r / (r + 1e5)

    # ------------------------------------------------------------- output
    def build(self, checkin=None, mask=None) -> dict:
        phase = 2.0 * math.pi * (self.now % _DAY) / _DAY
        self._time_of_day[0] = math.sin(phase)
        self._time_of_day[1] = math.cos(phase)
        if self.device:
            v = self._views
            if checkin is not None:
                cls = checkin.device_class
                left = max(checkin.window_end_s - checkin.time_s, 0.0)
                v["device"][0] = left / (left + 900.0)
                v["device"][1] = min(len(checkin.candidates) / self.max_jobs, 1.0)
                self._fbuf[self._device_span] = self._device_rows[cls]
                v["job_eligible"][:] = self._elig_slots[cls]
            else:  # the episode is over: no device
                for key in ("device", "device_class", "device_tier", "device_requirements", "job_eligible"):
                    v[key][:] = 0
            if self.mask_in_obs:
                v["action_mask"][:] = mask
        return self._split(self._fbuf.copy(), self._ibuf.copy())

    def _split(self, fbuf: np.ndarray, ibuf: np.ndarray) -> dict:
        obs = {}
        for key, is_int, part, shape in self._layout:
            view = (ibuf if is_int else fbuf)[part]
            obs[key] = view if shape is None else view.reshape(shape)
        return obs
