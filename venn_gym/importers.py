"""Importers for the device, check-in and job formats of this field, returning venn_gym objects.

Six formats are read:

- **FedScale availability trace** (``client_behave_trace``): a pickle of
  ``{client_id: {'active': [t, ...], 'inactive': [t, ...], 'finish_time': t,
  'duration': ..., 'model': str}}``. Each pair ``(active[i], inactive[i])`` is one
  online window: the device checks in at ``active[i]`` and leaves at
  ``inactive[i]`` (seconds). :func:`read_fedscale_availability` gives a
  :class:`~venn_gym.trace.TableTrace`; device ``i`` is the ``i``-th client id in
  sorted order.
- **FedScale device capacity** (``client_device_capacity``): a pickle of
  ``{client_id: {'computation': float, 'communication': float}}``.
  ``computation`` is FedScale's time per unit of work (ms per training sample:
  larger is slower), ``communication`` a bandwidth in kbit/s.
  :func:`read_fedscale_capacity` gives a :class:`~venn_gym.devices.DevicePopulation`.
- **The Venn authors' client table**: a pandas-written CSV (leading unnamed index
  column, then ``ID,start,end``; one row per check-in), a pickled per-device
  eligibility list (a list of lists of 1-based category numbers: 1-4 in the
  authors' file, up to 63 in one of your own) and a capacity pickle as above.
  :func:`read_venn_client_table` maps them exactly as the authors' simulator
  does (see there).
- **Hand-written CSV**: a trace ``device,start_s,end_s`` and a devices file
  ``device,compute_factor,bandwidth_mbps,<numeric attribute columns...>``
  (:func:`read_trace_csv`, :func:`read_devices_csv`). Lines starting with ``#``
  are comments.
- **Raw device tables** (e.g. AI Benchmark's ``device_id,model,cpu_score,ram_gb,
  fp16_memory_score,android_version,inference_ms``, no bandwidth): read with a
  column mapping, ``read_devices_csv(path, columns={...})``
  (:func:`map_device_columns`): rename columns, scale a latency column into
  ``compute_factor`` (optionally relative to its median), give a constant where
  the table has no column.
- **Job lists** as CSV, one job per row (:func:`read_jobs_csv`): the fields of
  :class:`~venn_gym.jobs.JobSpec`, a ``category`` or ``requirement`` column, and
  ``comm_s``, the authors' per-job communication time, translated into
  ``model_size_mb`` (formula there; :func:`~venn_gym.jobs.comm_s_to_model_size_mb`).

The check-in readers share one rule at the period boundary (:data:`PERIOD_RULE`):
a table covers ``[0, period_s)``; a row starting at or after ``period_s`` is an
error naming it in :func:`read_trace_csv` and :func:`read_fedscale_availability`
unless ``drop_after_period=True`` drops such rows; :func:`read_venn_client_table`
drops them, as the authors' simulator does.

Units everywhere: seconds; ``compute_factor`` multiplies a job's ``workload_s``
(relative: 1.0 = the population's mean device for imported capacities);
``bandwidth_mbps`` is Mbit/s.

Malformed input raises :class:`~venn_gym.errors.SpecError` naming the file, the
client / line and field, and what was expected.

**Security:** pickles can run arbitrary code when loaded. The functions here load
the pickle you name (only name files from sources you trust: the FedScale and Venn
repositories, your own); scenario files load pickles only when trusted explicitly
(``--trust-pickles``). Each pickled input also reads as JSON holding the same
structure (a file ending in ``.json``; JSON's string keys become client ids), and
:func:`pickle_to_json` (``venn-gym convert-pickle IN.pkl OUT.json``) converts one.
"""

from __future__ import annotations

import csv
import io
import json
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
import yaml

from .devices import DevicePopulation
from .errors import SpecError
from .jobs import (
    ASYNC,
    REFERENCE_BANDWIDTH_MBPS,
    SYNC,
    VENN_COMPUTE_REFERENCE,
    JobSpec,
    Workload,
    comm_s_to_model_size_mb,
)
from .outputs import write_atomically
from .requirements import CATEGORY_ATTRIBUTE, MAX_CATEGORIES, check_category_names, name_categories, normalize
from .trace import DAY_S, TableTrace

# The authors' simulator repeats its 5-day client table every 5 days (432,000 s)
# and lengthens every online window by 80 s (its ``client['end'] + 80``).
VENN_PERIOD_S = 5 * DAY_S
VENN_ONLINE_EXTENSION_S = 80.0

#: The rule the check-in readers share at the period boundary.
PERIOD_RULE = (
    "A repeating check-in table covers the half-open period [0, period_s): a check-in that starts at or after "
    "period_s (start == period_s included) is outside it. read_trace_csv and read_fedscale_availability raise a "
    "SpecError naming the first such row / window unless drop_after_period=True, which leaves them out. "
    "read_venn_client_table always leaves them out (the authors' simulator does) and counts them in dropped_rows."
)

__all__ = [
    "VENN_PERIOD_S",
    "VENN_ONLINE_EXTENSION_S",
    "CapacityTable",
    "FedScaleAvailability",
    "VennClientTable",
    "load_fedscale_capacity",
    "read_fedscale_capacity",
    "read_fedscale_availability",
    "read_venn_client_table",
    "read_trace_csv",
    "read_devices_csv",
    "map_device_columns",
    "read_jobs_csv",
    "PERIOD_RULE",
    "REFERENCE_BANDWIDTH_MBPS",
    "VENN_COMPUTE_REFERENCE",
    "comm_s_to_model_size_mb",
]


# --------------------------------------------------------------------------- helpers


def _check_file(path: Path, what: str) -> str:
    source = str(path)
    if not path.exists():
        raise SpecError(f"file not found; expected {what}", source=source)
    if not path.is_file():
        raise SpecError(f"is not a file; expected {what}", source=source)
    if path.stat().st_size == 0:
        raise SpecError(f"the file is empty; expected {what}", source=source)
    return source


def is_pickle_path(path: str | Path) -> bool:
    """Whether the readers here would unpickle this file (anything not ending in .json)."""
    return Path(path).suffix.lower() != ".json"


def _client_keys(data: Any) -> Any:
    """JSON's object keys are strings; client ids are integers."""
    if isinstance(data, dict):
        return {int(k) if isinstance(k, str) and k.lstrip("-").isdigit() else k: v for k, v in data.items()}
    return data


def _load_data(path: str | Path, what: str) -> Any:
    """A pickled input, or the same structure as JSON (a .json file); every failure is a SpecError.
    Unpickling runs code: trusted files only."""
    path = Path(path)
    source = _check_file(path, what)
    if not is_pickle_path(path):
        try:
            return _client_keys(json.loads(path.read_text()))
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            raise SpecError(f"cannot be read as JSON ({exc}); expected {what}", source=source) from None
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except Exception as exc:  # unpickling can raise nearly anything
        raise SpecError(
            f"cannot be read as a pickle ({type(exc).__name__}: {exc}); expected {what}", source=source
        ) from None


def _plain(value: Any) -> Any:
    """numpy values as JSON's own types."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} cannot be written as JSON")


def pickle_to_json(source: str | Path, dest: str | Path) -> Path:
    """Convert a pickled input (capacity, eligibility, availability) to JSON, which loads without
    running code. Loading the pickle runs its code once, here: convert only files you trust."""
    source, dest = Path(source), Path(dest)
    if dest.suffix.lower() != ".json":
        raise SpecError(
            "the converted file must end in .json (that is how the readers tell it apart)", source=str(dest)
        )
    data = _load_data(source, "a pickle")
    if isinstance(data, Mapping):
        data = {str(k): v for k, v in data.items()}
    try:
        text = json.dumps(data, default=_plain)
    except TypeError as exc:
        raise SpecError(f"holds data JSON cannot express: {exc}", source=str(source)) from None
    return write_atomically(dest, text)


def _load_client_dict(path: str | Path, what: str) -> Mapping:
    """A pickled, non-empty ``{client_id: ...}`` dict."""
    data = _load_data(path, what)
    if not isinstance(data, Mapping):
        raise SpecError(f"holds a {type(data).__name__}; expected {what}", source=str(path))
    if not data:
        raise SpecError(f"holds no clients; expected {what}", source=str(path))
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _number(value: Any, source: str, where: str, expected: str = "a number") -> float:
    if not _is_number(value) or not np.isfinite(float(value)):
        raise SpecError(f"expected {expected}, got {value!r}", source=source, where=where)
    return float(value)


def _reject_rows(mask: np.ndarray, message: Callable[[int], str], source: str, lines: np.ndarray, column: str) -> None:
    """The check of the table readers: if ``mask`` holds for some row, a SpecError naming the line and
    column of the first such row ``k``, saying ``message(k)``."""
    bad = np.flatnonzero(mask)
    if len(bad):
        k = int(bad[0])
        raise SpecError(message(k), source=source, where=f"line {lines[k]}, column '{column}'")


def _times(values: Any, source: str, where: str) -> np.ndarray:
    """A list of times (seconds) as a float array; names the first bad element."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise SpecError(f"expected a list of times in seconds, got {type(values).__name__}", source=source, where=where)
    try:
        array = np.asarray(values)
    except (ValueError, TypeError):
        array = None
    if array is not None and array.ndim == 1 and array.dtype.kind in "iuf":
        if array.dtype.kind != "f" or np.isfinite(array).all():
            return array.astype(float, copy=False)
    for k, value in enumerate(values):  # slow path: name the first bad element
        if not _is_number(value) or not np.isfinite(float(value)):
            raise SpecError(f"expected a number of seconds, got {value!r}", source=source, where=f"{where}[{k}]")
    return np.asarray(values, dtype=float).reshape(-1)


def _sorted_ids(keys: Iterable[Any]) -> list:
    keys = list(keys)
    try:
        return sorted(keys)
    except TypeError:  # mixed id types: order by type name, then text
        return sorted(keys, key=lambda k: (type(k).__name__, str(k)))


# ------------------------------------------------------------------- FedScale capacity

_CAPACITY_WHAT = "a FedScale device capacity pickle: {client_id: {'computation': float, 'communication': float}}"


@dataclass(frozen=True, eq=False)
class CapacityTable:
    """A capacity file as read, in sorted client-id order.

    ``computation``: time per unit of work (FedScale: ms per sample; larger is
    slower). ``communication``: bandwidth in kbit/s. The means are over the whole
    file: about 78 and 13,736 for FedScale's ``client_device_capacity`` (the
    values the Venn authors hard-code).
    """

    client_ids: tuple
    computation: np.ndarray
    communication: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.client_ids)

    @property
    def compute_mean(self) -> float:
        return float(np.mean(self.computation))

    @property
    def communication_mean(self) -> float:
        return float(np.mean(self.communication))

    def compute_factor(self) -> np.ndarray:
        """``computation / mean(computation)``: relative, mean 1 (multiplies ``workload_s``)."""
        return self.computation / self.compute_mean

    def bandwidth_mbps(self) -> np.ndarray:
        """``communication / 1000``: kbit/s to Mbit/s."""
        return self.communication / 1000.0

    def relative_bandwidth(self) -> np.ndarray:
        """``communication / mean(communication)``: the authors' relative bandwidth (mean 1)."""
        return self.communication / self.communication_mean

    def index(self) -> dict:
        """Client id -> position in this table."""
        return {cid: i for i, cid in enumerate(self.client_ids)}


def _require_keys(entry: Any, keys: dict[str, str], source: str, where: str) -> None:
    """A dict holding ``keys`` (name -> what it means), else an error naming what is missing."""
    expected = " and ".join(f"'{k}' ({meaning})" for k, meaning in keys.items())
    if not isinstance(entry, Mapping):
        raise SpecError(f"expected a dict with {expected}, got {type(entry).__name__}", source=source, where=where)
    missing = [k for k in keys if k not in entry]
    if missing:
        raise SpecError(f"missing key(s) {missing}; expected {expected}", source=source, where=where)


_CAPACITY_MAX = 1e12


def _capacity_entry(entry: Any, source: str, where: str) -> tuple[float, float]:
    _require_keys(entry, {"computation": "time per unit of work", "communication": "kbit/s"}, source, where)
    values = []
    for key in ("computation", "communication"):
        value = _number(entry[key], source, f"{where}.{key}", "a finite number > 0")
        if not 0 < value <= _CAPACITY_MAX:  # far above any device; larger ones overflow the file's mean
            raise SpecError(
                f"expected a number in (0, {_CAPACITY_MAX:g}], got {value!r}", source=source, where=f"{where}.{key}"
            )
        values.append(value)
    return values[0], values[1]


def load_fedscale_capacity(path: str | Path) -> CapacityTable:
    """Read a FedScale ``client_device_capacity`` pickle (trusted files only: pickles run code)."""
    source = str(path)
    data = _load_client_dict(path, _CAPACITY_WHAT)
    ids = _sorted_ids(data.keys())
    comp = np.empty(len(ids))
    comm = np.empty(len(ids))
    for i, cid in enumerate(ids):
        comp[i], comm[i] = _capacity_entry(data[cid], source, f"client {cid!r}")
    return CapacityTable(tuple(ids), comp, comm, source)


def read_fedscale_capacity(
    path: str | Path,
    *,
    client_ids: Optional[Sequence[Any]] = None,
    n_devices: Optional[int] = None,
    attributes: Optional[Mapping[str, np.ndarray]] = None,
) -> DevicePopulation:
    """A device population from a FedScale capacity pickle.

    ``compute_factor = computation / mean(computation)`` (relative, mean 1 over the
    file) and ``bandwidth_mbps = communication / 1000`` (kbit/s to Mbit/s; the
    file's mean, ~13.7 Mbit/s, matches the synthetic population's).

    Which entry each device takes:

    - default: one device per entry, in sorted client-id order;
    - ``client_ids``: device ``i`` takes the entry of client ``client_ids[i]``
      (e.g. a FedScale availability trace's ids); a missing id is an error;
    - ``n_devices``: device ``i`` takes entry ``i mod N`` in sorted order (the
      authors' way of reusing a capacity file for more devices than it holds).

    ``attributes`` are attached as they are (one value per device). Pickles run
    code when loaded: load only trusted files.
    """
    if client_ids is not None and n_devices is not None:
        raise SpecError("give client_ids or n_devices, not both", source=str(path))
    table = load_fedscale_capacity(path)
    if client_ids is not None:
        index = table.index()
        missing = [cid for cid in client_ids if cid not in index]
        if missing:
            raise SpecError(
                f"has no entry for client {missing[0]!r} ({len(missing)} of {len(client_ids)} ids missing)",
                source=table.source,
            )
        picks = np.fromiter((index[cid] for cid in client_ids), dtype=np.int64, count=len(client_ids))
    elif n_devices is not None:
        if int(n_devices) < 1:
            raise SpecError(f"n_devices must be >= 1, got {n_devices}", source=table.source)
        picks = np.arange(int(n_devices)) % len(table)
    else:
        picks = np.arange(len(table))
    return DevicePopulation(
        compute_factor=table.compute_factor()[picks],
        bandwidth_mbps=table.bandwidth_mbps()[picks],
        attributes=dict(attributes or {}),
        source=table.source,
    )


# --------------------------------------------------------------- FedScale availability

_BEHAVIOR_WHAT = (
    "a FedScale client_behave_trace pickle: {client_id: {'active': [t, ...], 'inactive': [t, ...], "
    "'finish_time': t, ...}}"
)


@dataclass(frozen=True, eq=False)
class FedScaleAvailability:
    """An imported availability trace: device ``i`` is client ``client_ids[i]``.

    ``models[i]`` is the client's device model name ('' where missing), or
    ``models`` is None when no client names one. ``dropped_windows`` counts
    windows left out because they start at or after ``period_s`` (only with
    ``drop_after_period=True``; see :data:`PERIOD_RULE`).
    """

    trace: TableTrace
    client_ids: tuple
    models: Optional[tuple[str, ...]]
    dropped_windows: int = 0

    @property
    def n_devices(self) -> int:
        return len(self.client_ids)

    def device_index(self) -> dict:
        """FedScale client id -> device index."""
        return {cid: i for i, cid in enumerate(self.client_ids)}


def read_fedscale_availability(
    path: str | Path,
    *,
    period_s: Optional[float] = None,
    chunk_s: float = 3600.0,
    drop_after_period: bool = False,
) -> FedScaleAvailability:
    """Read a FedScale ``client_behave_trace`` pickle as a repeating check-in table.

    Each ``(active[k], inactive[k])`` is one online window. Client ids map to
    device indices ``0..n-1`` in sorted id order (clients without windows keep
    their index). A client whose ``active`` list has one more entry than
    ``inactive`` has its last window closed at its ``finish_time``.

    The table repeats every ``period_s``: by default the trace's end,
    ``max(finish_time, last inactive)`` over all clients. The period is the
    half-open interval ``[0, period_s)`` (:data:`PERIOD_RULE`, shared with
    :func:`read_trace_csv`): a window that starts at or after a shorter
    ``period_s`` (``active[k] >= period_s``, including ``== period_s``) is an
    error naming the client and window, unless ``drop_after_period=True``, which
    leaves such windows out (counted in ``dropped_windows``; use it to simulate
    only the first part of a longer trace). Pickles run code when loaded: load
    only trusted files.
    """
    source = str(path)
    data = _load_client_dict(path, _BEHAVIOR_WHAT)
    if period_s is not None and not (_is_number(period_s) and period_s > 0 and np.isfinite(period_s)):
        raise SpecError(f"period_s must be a number > 0, got {period_s!r}", source=source)
    ids = _sorted_ids(data.keys())
    starts, ends, devices = [], [], []
    models: list[str] = []
    any_model = False
    trace_end = 0.0
    for i, cid in enumerate(ids):
        where = f"client {cid!r}"
        record = data[cid]
        _require_keys(record, {"active": "check-in times, s", "inactive": "leave times, s"}, source, where)
        active = _times(record["active"], source, f"{where}.active")
        inactive = _times(record["inactive"], source, f"{where}.inactive")
        finish = record.get("finish_time")
        if finish is not None:
            finish = _number(finish, source, f"{where}.finish_time", "a number of seconds >= 0")
            if finish < 0:
                raise SpecError(
                    f"expected a number of seconds >= 0, got {finish!r}", source=source, where=f"{where}.finish_time"
                )
            trace_end = max(trace_end, finish)
        if len(active) != len(inactive):
            if len(active) == len(inactive) + 1 and finish is not None and finish > active[-1]:
                inactive = np.append(inactive, finish)
            else:
                raise SpecError(
                    f"has {len(active)} 'active' times but {len(inactive)} 'inactive' times; each online "
                    "window needs a check-in (active) and a leave time (inactive)",
                    source=source,
                    where=where,
                )
        for name, arr in (("active", active), ("inactive", inactive)):
            neg = np.flatnonzero(arr < 0)
            if len(neg):
                raise SpecError(
                    f"is negative ({arr[neg[0]]!r}); times must be >= 0 s",
                    source=source,
                    where=f"{where}.{name}[{neg[0]}]",
                )
        bad = np.flatnonzero(inactive <= active)
        if len(bad):
            k = bad[0]
            raise SpecError(
                f"window {k}: leaves at {float(inactive[k])!r} (inactive[{k}]), not after its check-in at "
                f"{float(active[k])!r} (active[{k}]); expected inactive > active",
                source=source,
                where=where,
            )
        if len(inactive):
            trace_end = max(trace_end, float(inactive.max()))
        starts.append(active)
        ends.append(inactive)
        devices.append(np.full(len(active), i, dtype=np.int64))
        model = record.get("model")
        any_model |= model is not None
        models.append("" if model is None else str(model))
    start = np.concatenate(starts)
    end = np.concatenate(ends)
    device = np.concatenate(devices)
    if len(start) == 0:
        raise SpecError("no client has an online window (all 'active' lists are empty)", source=source)
    period = float(period_s) if period_s is not None else trace_end
    keep = start < period
    dropped = int(len(start) - keep.sum())
    if dropped and not drop_after_period:
        k = int(np.flatnonzero(~keep)[0])
        i = int(device[k])
        window = k - int(np.searchsorted(device, i))  # devices are concatenated in order
        raise SpecError(
            f"window {window} starts at {float(start[k])!r} s (active[{window}]), not inside the period "
            f"[0, {period:g}) s ({dropped} window(s) start at or after period_s); pass a longer period_s, "
            "or drop_after_period=True (scenario files: trace.drop_after_period: true) to leave them out",
            source=source,
            where=f"client {ids[i]!r}",
        )
    if not keep.any():
        raise SpecError(f"no online window starts before period_s = {period}", source=source)
    trace = TableTrace(
        start=start[keep], end=end[keep], device=device[keep], period_s=period, chunk_s=chunk_s, source=source
    )
    return FedScaleAvailability(trace, tuple(ids), tuple(models) if any_model else None, dropped)


# ------------------------------------------------------------------ Venn client table

_ELIGIBILITY_WHAT = f"a pickled list of per-device eligibility lists (category numbers 1-{MAX_CATEGORIES})"


@dataclass(frozen=True, eq=False)
class VennClientTable:
    """The authors' client table as venn_gym objects.

    Device ``i`` is row ``i`` of the table sorted by start; ``client_ids[i]`` is
    its ``ID`` column value and ``capacity_keys[i]`` the capacity entry it took.
    ``dropped_rows`` counts rows left out because they start at or after the
    period (the authors simulate only the first ``period_s`` of the table).
    """

    population: DevicePopulation
    trace: TableTrace
    client_ids: np.ndarray
    capacity_keys: np.ndarray
    compute_mean: float
    communication_mean: float
    dropped_rows: int = 0


def _category_masks(eligibility: Any, source: str) -> np.ndarray:
    if not isinstance(eligibility, (list, tuple)):
        raise SpecError(f"holds a {type(eligibility).__name__}; expected {_ELIGIBILITY_WHAT}", source=source)
    if not eligibility:
        raise SpecError(f"holds an empty list; expected {_ELIGIBILITY_WHAT}", source=source)
    masks = np.zeros(len(eligibility), dtype=np.int64)
    n_categories = MAX_CATEGORIES
    for k, entry in enumerate(eligibility):
        if isinstance(entry, (str, bytes)) or not isinstance(entry, (Sequence, set, frozenset, np.ndarray)):
            raise SpecError(
                f"expected a list of category numbers 1-{n_categories}, got {entry!r}",
                source=source,
                where=f"entry {k}",
            )
        mask = 0
        for category in entry:
            if (
                not isinstance(category, (int, np.integer))
                or isinstance(category, bool)
                or not 1 <= int(category) <= n_categories
            ):
                raise SpecError(
                    f"expected category numbers 1-{n_categories}, got {category!r}",
                    source=source,
                    where=f"entry {k}",
                )
            mask |= 1 << (int(category) - 1)
        masks[k] = mask
    # The paper's 4 categories (and up to 8) fit a byte, as before; more need 64 bits.
    return masks.astype(np.uint8) if masks.max() < 1 << 8 else masks


def _authors_capacity(path: str | Path) -> tuple[np.ndarray, np.ndarray, str]:
    """Capacity arrays indexed by key - 1; the authors' file has keys 1..N."""
    source = str(path)
    data = _load_data(path, _CAPACITY_WHAT + " with keys 1..N")
    if not isinstance(data, Mapping):
        raise SpecError(f"holds a {type(data).__name__}; expected {_CAPACITY_WHAT}", source=source)
    n = len(data)
    if n == 0:
        raise SpecError(f"holds no clients; expected {_CAPACITY_WHAT}", source=source)
    comp = np.empty(n)
    comm = np.empty(n)
    for key in range(1, n + 1):
        if key not in data:
            raise SpecError(
                f"has no key {key}; the authors' mapping needs the keys 1..{n} (entry (i mod N) + 1 for row i)",
                source=source,
            )
        comp[key - 1], comm[key - 1] = _capacity_entry(data[key], source, f"client {key!r}")
    return comp, comm, source


def read_venn_client_table(
    table: str | Path,
    eligibility: str | Path,
    capacity: str | Path,
    *,
    period_s: float = VENN_PERIOD_S,
    online_extension_s: float = VENN_ONLINE_EXTENSION_S,
    chunk_s: float = 3600.0,
    compute_reference: Optional[float] = None,
) -> VennClientTable:
    """Read the Venn authors' client table with their mapping, one device per row.

    ``table`` is the pandas-written CSV (leading unnamed index column, then
    ``ID,start,end``), ``eligibility`` the pickled list of per-device category
    lists, ``capacity`` the FedScale capacity pickle (keys 1..N). As in the
    authors' ``load_device_state``:

    - rows are sorted by ``start`` (equal starts keep their file order: the
      authors' unstable quicksort leaves that order unspecified, so ties are the
      one place where their device order may differ from ours);
    - rows that start at or after ``period_s`` (5 days) are left out;
    - row ``i`` (after sorting) is device ``i``: it takes capacity entry
      ``(i mod N_capacity) + 1`` and eligibility entry ``i mod N_eligibility``
      (category ``k`` sets bit ``k-1`` of the attribute ``categories``; ``k`` may
      be 1-63: the authors' file has the paper's 4, yours may have more, and
      requirements reach categories above 4 by name: a scenario's
      ``devices.category_names`` or :func:`venn_gym.requirements.name_categories`);
    - ``compute_factor = computation / mean(computation)`` (or ``computation /
      compute_reference`` when that is given, e.g. the authors' 78); the means are taken
      over the capacity file (they come out at ~78 and ~13,736 for the authors'
      files, the constants their code hard-codes); ``bandwidth_mbps =
      communication / 1000`` (kbit/s to Mbit/s, i.e. the authors' relative
      bandwidth times ``communication_mean / 1000``);
    - each window runs from ``start`` to ``end + online_extension_s`` (the
      authors add 80 s to every window; pass 0 for the raw table);
    - the table repeats every ``period_s`` (the authors' ``start + j * 432000``).

    Task times then match the authors' ``workload * computation / 78 + 2 * comm *
    13736 / communication`` for jobs with ``workload_s = workload`` and
    ``model_size_mb = comm * 13.736 / 8`` (:func:`read_jobs_csv`'s ``comm_s``
    column): exactly with ``compute_reference=78`` (:data:`VENN_COMPUTE_REFERENCE`,
    the authors' constant: ``compute_factor = computation / 78``), and to within
    the file mean's distance from 78 (theirs comes out at ~78) by default.

    Pickles run code when loaded: load only trusted files.
    """
    path = Path(table)
    source = _check_file(path, "the authors' client table CSV (,ID,start,end)")
    if not (np.isfinite(period_s) and period_s > 0):
        raise SpecError(f"period_s must be > 0, got {period_s!r}", source=source)
    if not (np.isfinite(online_extension_s) and online_extension_s >= 0):
        raise SpecError(f"online_extension_s must be >= 0, got {online_extension_s!r}", source=source)
    try:
        frame = pd.read_csv(path, skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot be read as CSV: {str(exc).strip()}", source=source) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in ("ID", "start", "end") if c not in frame.columns]
    if missing:
        raise SpecError(
            f"missing column(s) {missing}; expected a pandas-written table with columns ID,start,end "
            f"(it has {list(frame.columns)})",
            source=source,
            where="line 1 (header)",
        )
    frame = frame.dropna(how="all")
    if frame.empty:
        raise SpecError("has a header but no rows", source=source)
    lines = frame.index.to_numpy() + 2
    start = _numeric(frame["start"], lines, source, "start")
    end = _numeric(frame["end"], lines, source, "end")
    _reject_rows(
        start < 0, lambda k: f"start {float(start[k])!r} is negative; times must be >= 0 s", source, lines, "start"
    )
    _reject_rows(
        (end < start) | (end + online_extension_s <= start),
        lambda k: (
            f"end {float(end[k])!r} is {'before' if end[k] < start[k] else 'not after'} start "
            f"{float(start[k])!r}; expected end > start"
        ),
        source,
        lines,
        "end",
    )
    order = np.argsort(start, kind="stable")
    keep = order[start[order] < period_s]
    dropped = len(order) - len(keep)
    if len(keep) == 0:
        raise SpecError(f"no row starts before period_s = {period_s}", source=source)
    start, end = start[keep], end[keep] + online_extension_s
    ids = frame["ID"].to_numpy()[keep]

    masks = _category_masks(_load_data(eligibility, _ELIGIBILITY_WHAT), str(eligibility))
    comp, comm, _ = _authors_capacity(capacity)
    n = len(start)
    rows = np.arange(n)
    cap_index = rows % len(comp)
    compute_mean, communication_mean = float(comp.mean()), float(comm.mean())
    if compute_reference is not None and not (
        _is_number(compute_reference) and np.isfinite(compute_reference) and compute_reference > 0
    ):
        raise SpecError(f"compute_reference must be a number > 0, got {compute_reference!r}", source=source)
    population = DevicePopulation(
        compute_factor=comp[cap_index] / (compute_mean if compute_reference is None else float(compute_reference)),
        bandwidth_mbps=comm[cap_index] / 1000.0,
        attributes={CATEGORY_ATTRIBUTE: masks[rows % len(masks)]},
        source=source,
    )
    trace = TableTrace(start=start, end=end, device=rows, period_s=float(period_s), chunk_s=chunk_s, source=source)
    return VennClientTable(population, trace, ids, cap_index + 1, compute_mean, communication_mean, dropped)


def _numeric(column: pd.Series, lines: np.ndarray, source: str, name: str) -> np.ndarray:
    """A CSV column as floats; names the line of the first missing or non-numeric value."""
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        values = column.to_numpy(dtype=float)
        raw = column.to_numpy()
    else:
        raw = column.to_numpy(dtype=object)
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        k = bad[0]
        shown = raw[k]
        what = (
            "missing value"
            if shown is None
            or (isinstance(shown, float) and np.isnan(shown))
            or (isinstance(shown, str) and not shown.strip())
            else f"got {shown!r}"
        )
        raise SpecError(f"expected a number, {what}", source=source, where=f"line {lines[k]}, column '{name}'")
    return values


# ---------------------------------------------------------------- hand-written CSVs

_COMMENT = re.compile(r"^\s*#")


def _read_hand_csv(
    path: str | Path,
    expected: Sequence[str],
    what: str,
    *,
    strict_fields: bool = False,
    missing_hint: Optional[Callable[[list], str]] = None,
) -> tuple[pd.DataFrame, np.ndarray, str]:
    """Read a small hand-written CSV as strings; returns (frame, 1-based line of each row, source).

    ``#`` comment lines and blank lines are skipped but still counted for line numbers.
    A row with more fields than the header is an error; with ``strict_fields`` one
    with fewer fields too. A leading byte-order mark (spreadsheet exports) is ignored.
    """
    path = Path(path)
    source = _check_file(path, what)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot be read as text: {exc}", source=source) from None
    lines = text.splitlines()
    cleaned = ["" if _COMMENT.match(line) else line for line in lines]
    header = next((k for k, line in enumerate(cleaned) if line.strip()), None)
    if header is None:
        raise SpecError(f"has no header and no rows; expected {what}", source=source)
    names = [name.strip() for name in next(csv.reader([cleaned[header]]))]
    twice = [name for k, name in enumerate(names) if name in names[:k]]
    if twice:
        raise SpecError(f"column {twice[0]!r} appears twice", source=source, where=f"line {header + 1} (header)")
    for k, fields in enumerate(csv.reader(cleaned[header + 1 :]), start=header + 2):
        if (
            fields
            and any(f.strip() for f in fields)
            and (len(fields) > len(names) or (strict_fields and len(fields) < len(names)))
        ):
            raise SpecError(
                f"has {len(fields)} fields but the header names {len(names)} columns ({','.join(names)})",
                source=source,
                where=f"line {k}",
            )
    try:
        frame = pd.read_csv(
            io.StringIO("\n".join(cleaned[header:])),
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            index_col=False,
        )
    except pd.errors.ParserError as exc:
        message = re.sub(r"line (\d+)", lambda m: f"line {int(m.group(1)) + header}", str(exc))
        raise SpecError(f"cannot be read as CSV: {message}", source=source) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise SpecError(
            f"missing column(s) {missing}; expected columns {','.join(expected)}"
            f" (the header has {','.join(frame.columns)})" + (missing_hint(missing) if missing_hint else ""),
            source=source,
            where=f"line {header + 1} (header)",
        )
    frame = frame.apply(lambda col: col.str.strip())
    line_no = frame.index.to_numpy() + header + 2
    blank = (frame == "").all(axis=1).to_numpy()
    frame = frame.loc[~blank].reset_index(drop=True)
    line_no = line_no[~blank]
    if frame.empty:
        raise SpecError(f"has a header but no rows; expected {what}", source=source)
    return frame, line_no, source


# Bytes the fast reader leaves to the line-by-line one: comments, quotes, whitespace to strip, line ends
# other than "\n" (the line-by-line reader splits at every one Python's splitlines knows).
_NOT_PLAIN = b'#" \t\r\v\f\x1c\x1d\x1e'


def _read_plain_numeric_csv(path: Path, columns: Sequence[str]) -> Optional[dict[str, np.ndarray]]:
    """``columns`` of a plain numeric CSV read in one pass by pandas' C parser, or None where the file is
    anything else, which :func:`_read_hand_csv` then reads (and names its errors). Plain: ASCII, the
    header on line 1 naming exactly ``columns`` (any order), every further line a row of that many
    finite numbers; no comments, quotes, whitespace or blank lines (trailing newlines aside). So a
    row's line is its index + 2, and the values are the ones :func:`_column` gives: the C parser
    converts text with the same function (``precise_xstrtod``) as ``pd.to_numeric``."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    raw = raw.removeprefix(b"\xef\xbb\xbf").rstrip(b"\n")  # a byte-order mark; trailing blank lines
    if not raw.isascii() or len(raw.translate(None, _NOT_PLAIN)) != len(raw):
        return None
    header = raw[: raw.find(b"\n")].decode().split(",") if b"\n" in raw else []
    if sorted(header) != sorted(columns):  # also a leading blank line
        return None
    # Every row has as many fields as the header: no row has fewer (its missing values would be NaN,
    # rejected below), so a comma count that fits leaves none with more. A blank line is a line the
    # C parser skips: fewer rows than lines, rejected below.
    rows = raw.count(b"\n")
    if raw.count(b",") != (rows + 1) * (len(header) - 1):
        return None
    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype=np.float64, engine="c")
    except (ValueError, pd.errors.ParserError):  # a value that is no number
        return None
    values = {name: frame[name].to_numpy() for name in columns}
    # Finite, and below 2**53, where an integer column that pd.to_numeric reads as int64 converts to
    # the same float as the C parser's.
    if len(frame) != rows or not all((np.abs(v) < 2.0**53).all() for v in values.values()):
        return None
    return values


def _column(frame: pd.DataFrame, name: str, lines: np.ndarray, source: str, *, integer: bool = False) -> np.ndarray:
    raw = frame[name].to_numpy(dtype=object)
    values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    expected = "an integer" if integer else "a number"
    _reject_rows(
        ~np.isfinite(values),
        lambda k: f"expected {expected}, got {'a missing value' if raw[k] == '' else repr(raw[k])}",
        source,
        lines,
        name,
    )
    if integer:
        _reject_rows(values != np.round(values), lambda k: f"expected an integer, got {raw[k]!r}", source, lines, name)
    return values


TRACE_CSV_COLUMNS = ("device", "start_s", "end_s")
DEVICES_CSV_COLUMNS = ("device", "compute_factor", "bandwidth_mbps")


def read_trace_csv(
    path: str | Path,
    *,
    period_s: Optional[float] = None,
    n_devices: Optional[int] = None,
    chunk_s: float = 3600.0,
    drop_after_period: bool = False,
) -> TableTrace:
    """A hand-written check-in table: columns ``device,start_s,end_s``, one row per check-in.

    ``device`` is a device index (0-based; below ``n_devices`` when that is given),
    ``start_s`` the check-in time and ``end_s`` when the device leaves (seconds,
    ``0 <= start_s < end_s``). The table repeats every ``period_s``: by default
    the last ``end_s`` (give e.g. 86400 to repeat a day). Rows need not be sorted.
    The period is ``[0, period_s)`` (:data:`PERIOD_RULE`, as in
    :func:`read_fedscale_availability`): a row with ``start_s >= period_s``
    (including ``== period_s``) is an error naming its line, unless
    ``drop_after_period=True``, which leaves such rows out.
    """
    what = "a trace CSV with columns device,start_s,end_s"
    source = _check_file(Path(path), what)
    plain = _read_plain_numeric_csv(Path(path), TRACE_CSV_COLUMNS)
    if plain is not None and (plain["device"] == np.round(plain["device"])).all():
        device, start, end = (plain[name] for name in TRACE_CSV_COLUMNS)
        lines = np.arange(2, len(device) + 2)
    else:  # anything else, read line by line, or the error a line holds
        frame, lines, source = _read_hand_csv(path, TRACE_CSV_COLUMNS, what)
        extra = [c for c in frame.columns if c not in TRACE_CSV_COLUMNS]
        if extra:
            raise SpecError(
                f"unexpected column(s) {extra}; expected exactly {','.join(TRACE_CSV_COLUMNS)}",
                source=source,
                where="header",
            )
        device = _column(frame, "device", lines, source, integer=True)
        start = _column(frame, "start_s", lines, source)
        end = _column(frame, "end_s", lines, source)

    _reject_rows(device < 0, lambda k: f"device indices must be >= 0, got {int(device[k])}", source, lines, "device")
    if n_devices is not None:
        _reject_rows(
            device >= n_devices,
            lambda k: (
                f"device {int(device[k])} is not in the population (it has {n_devices} devices, 0-{n_devices - 1})"
            ),
            source,
            lines,
            "device",
        )
    _reject_rows(start < 0, lambda k: f"start_s must be >= 0, got {float(start[k])!r}", source, lines, "start_s")
    _reject_rows(
        end <= start,
        lambda k: f"end_s {float(end[k])!r} is not after start_s {float(start[k])!r}",
        source,
        lines,
        "end_s",
    )
    if period_s is None:
        period = float(end.max())
    else:
        if not (_is_number(period_s) and np.isfinite(period_s) and period_s > 0):
            raise SpecError(f"period_s must be a number > 0, got {period_s!r}", source=source)
        period = float(period_s)
        outside = start >= period
        if drop_after_period and outside.any():
            if outside.all():
                raise SpecError(f"no row starts before period_s = {period:g}", source=source)
            start, end, device = start[~outside], end[~outside], device[~outside]
        else:
            _reject_rows(
                outside,
                lambda k: (
                    f"start_s {float(start[k])!r} is not inside the period [0, {period:g}) s "
                    f"({int(outside.sum())} row(s) start at or after period_s); pass a longer period_s, "
                    "or drop_after_period=True (scenario files: trace.drop_after_period: true) to leave "
                    "them out"
                ),
                source,
                lines,
                "start_s",
            )
    return TableTrace(
        start=start, end=end, device=device.astype(np.int64), period_s=period, chunk_s=chunk_s, source=source
    )


def read_devices_csv(path: str | Path, *, columns: Optional[Mapping[str, Any]] = None) -> DevicePopulation:
    """A device table: ``device,compute_factor,bandwidth_mbps`` plus numeric attributes, or any table with ``columns``.

    Without ``columns`` (a venn_gym devices file): ``device`` numbers the devices
    0..n-1 (each once, any order); ``compute_factor`` (> 0) multiplies a job's
    ``workload_s`` (1.0 = a typical device); ``bandwidth_mbps`` (> 0) is in
    Mbit/s. Every other column is a numeric attribute that requirements can test
    (``categories`` is the category bit mask: bit k-1 for category k, k = 1-63;
    e.g. ``ram_gb``, ``os_version``).

    With ``columns`` (a raw table such as AI Benchmark's ``device_id, model,
    cpu_score, ram_gb, fp16_memory_score, android_version, inference_ms``), see
    :func:`map_device_columns`: device ``i`` is the ``i``-th data row, and only the
    mapped columns are read.
    """
    if columns is not None:
        return map_device_columns(path, columns)
    frame, lines, source = _read_hand_csv(
        path, DEVICES_CSV_COLUMNS, "a devices CSV with columns device,compute_factor,bandwidth_mbps,<attributes>"
    )
    device = _column(frame, "device", lines, source, integer=True)
    _reject_rows(device < 0, lambda k: f"device numbers must be >= 0, got {int(device[k])}", source, lines, "device")
    n = len(device)
    seen: dict[int, int] = {}
    for k, d in enumerate(device.astype(np.int64)):
        if d in seen:
            raise SpecError(
                f"device {d} appears twice (also on line {lines[seen[d]]})",
                source=source,
                where=f"line {lines[k]}, column 'device'",
            )
        seen[int(d)] = k
    _reject_rows(
        device >= n,
        lambda k: (
            f"devices must be numbered 0..{n - 1} (one row each); device {min(set(range(n)) - set(seen))} is missing"
        ),
        source,
        lines,
        "device",
    )
    order = np.argsort(device, kind="stable")
    values_of = {}
    for name in frame.columns:
        if name == "device":
            continue
        values = _column(frame, name, lines, source, integer=name == CATEGORY_ATTRIBUTE)
        values_of[name] = _checked_device_column(name, values, lines, source, name)[order]
    compute = values_of.pop("compute_factor")
    bandwidth = values_of.pop("bandwidth_mbps")
    return DevicePopulation(compute_factor=compute, bandwidth_mbps=bandwidth, attributes=values_of, source=source)


_MAX_MASK = float(1 << MAX_CATEGORIES)


def _checked_device_column(target: str, values: np.ndarray, lines: np.ndarray, source: str, column: str) -> np.ndarray:
    """Range checks of compute_factor / bandwidth_mbps (> 0) and of the categories bit mask."""
    if target in ("compute_factor", "bandwidth_mbps"):
        named = "" if target == column else f" (as {target})"
        _reject_rows(values <= 0, lambda k: f"must be > 0, got {float(values[k])!r}{named}", source, lines, column)
    if target == CATEGORY_ATTRIBUTE:
        _reject_rows(
            (values < 0) | (values >= _MAX_MASK) | (values != np.round(values)),
            lambda k: (
                f"is a bit mask of categories 1-{MAX_CATEGORIES} (bit k-1 for category k: an integer "
                f"0 <= mask < 2**{MAX_CATEGORIES}), got {values[k]:g}"
            ),
            source,
            lines,
            column,
        )
        values = values.astype(np.int64)
    return values


# ---------------------------------------------------------------- raw device tables

_COLUMN_FORMS = (
    "a column name, a number (the same value for every device), {value: number}, or "
    "{from: column, scale: number, relative_to: median|mean, default: number}"
)
_COLUMN_KEYS = ("from", "scale", "relative_to", "default", "value")


def map_device_columns(path: str | Path, columns: Mapping[str, Any]) -> DevicePopulation:
    """A device population from any CSV, by a column mapping (no conversion script needed).

    ``columns`` maps each venn_gym field (the key) to where its values come from:

    - ``"ram_gb"``: a column's values as they are;
    - ``20`` or ``{value: 20}``: the same value for every device (e.g. a bandwidth
      when the table has none);
    - ``{from: inference_ms, scale: 0.0159, relative_to: median, default: 63}``:
      a column, its missing cells filled with ``default`` (without ``default`` a
      missing cell is an error), divided by the column's ``median`` or ``mean``
      when ``relative_to`` is given (after the filling), then times ``scale``
      (default 1).

    ``compute_factor`` and ``bandwidth_mbps`` must be mapped (both > 0 for every
    device). ``compute_factor`` multiplies a job's ``workload_s``: for a latency
    column such as AI Benchmark's ``inference_ms``, ``relative_to: median`` makes
    the median device 1.0 (the synthetic population's convention: its median
    latency is 63 ms, so ``scale: 0.0159`` ~ 1/63 gives the same factors on the AI
    Benchmark table); a per-second throughput column would need its inverse,
    which is not offered: convert it first. Every other key becomes a device
    attribute that requirements can test (``ram_gb``, ``os_version``,
    ``categories``: a category bit mask, integers). Mapped columns must be
    numeric; columns not mapped (model names, ids) are ignored. Device ``i`` is
    the ``i``-th data row in file order; ``#`` comment lines and blank lines are
    skipped.
    """
    path = Path(path)
    source = str(path)
    if not isinstance(columns, Mapping) or not columns:
        raise SpecError(
            f"columns: expected a mapping of field -> source ({_COLUMN_FORMS}), got {columns!r}",
            source=source,
            where="columns",
        )
    plans: dict[str, dict] = {}
    for target, form in columns.items():
        where = f"columns.{target}"
        if not isinstance(target, str) or not target.strip():
            raise SpecError(f"expected a field name, got {target!r}", source=source, where="columns")
        if target == "device":
            raise SpecError("'device' is not a field: device i is the i-th data row", source=source, where=where)
        if isinstance(form, str):
            plans[target] = {"from": form}
            continue
        if _is_number(form):
            plans[target] = {"value": form}
            continue
        if not isinstance(form, Mapping):
            raise SpecError(f"expected {_COLUMN_FORMS}, got {form!r}", source=source, where=where)
        unknown = [k for k in form if k not in _COLUMN_KEYS]
        if unknown:
            raise SpecError(
                f"unknown key {unknown[0]!r}; allowed keys: {', '.join(_COLUMN_KEYS)}",
                source=source,
                where=f"{where}.{unknown[0]}",
            )
        if ("value" in form) == ("from" in form):
            raise SpecError(
                "give exactly one of 'from' (a column) and 'value' (a constant)", source=source, where=where
            )
        if "value" in form and len(form) > 1:
            raise SpecError(f"'value' takes no other keys, got {sorted(form)}", source=source, where=where)
        if "from" in form and (not isinstance(form["from"], str) or not form["from"].strip()):
            raise SpecError(f"expected a column name, got {form['from']!r}", source=source, where=f"{where}.from")
        for key in ("value", "scale", "default"):
            if key in form and not (_is_number(form[key]) and np.isfinite(float(form[key]))):
                raise SpecError(f"expected a number, got {form[key]!r}", source=source, where=f"{where}.{key}")
        if "relative_to" in form and form["relative_to"] not in ("median", "mean"):
            raise SpecError(
                f"expected 'median' or 'mean', got {form['relative_to']!r}", source=source, where=f"{where}.relative_to"
            )
        plans[target] = dict(form)
    missing = [t for t in ("compute_factor", "bandwidth_mbps") if t not in plans]
    if missing:
        raise SpecError(
            f"missing field(s) {missing}: compute_factor and bandwidth_mbps must be mapped ({_COLUMN_FORMS})",
            source=source,
            where="columns",
        )
    needed = list(dict.fromkeys(plan["from"] for plan in plans.values() if "from" in plan))
    wanted = {plan["from"]: target for target, plan in plans.items() if "from" in plan}
    frame, lines, source = _read_hand_csv(
        path,
        needed,
        f"a device table with the columns {', '.join(needed)}",
        missing_hint=lambda absent: f" (columns.{wanted[absent[0]]} reads column {absent[0]!r})",
    )
    n = len(frame)
    values_of: dict[str, np.ndarray] = {}
    for target, plan in plans.items():
        if "value" in plan:
            values = np.full(n, float(plan["value"]))
            if target in ("compute_factor", "bandwidth_mbps") and values[0] <= 0:
                raise SpecError(f"must be > 0, got {plan['value']!r}", source=source, where=f"columns.{target}.value")
            if target == CATEGORY_ATTRIBUTE:
                values = _checked_device_column(target, values, lines, source, "value")
            values_of[target] = values
            continue
        column = plan["from"]
        raw = frame[column]
        if "default" in plan:
            raw = raw.where(raw != "", str(float(plan["default"])))
        values = _column(
            frame.assign(**{column: raw}),
            column,
            lines,
            source,
            integer=target == CATEGORY_ATTRIBUTE and "scale" not in plan and "relative_to" not in plan,
        )
        if "relative_to" in plan:
            reference = float(np.median(values) if plan["relative_to"] == "median" else np.mean(values))
            if not (np.isfinite(reference) and reference > 0):
                raise SpecError(
                    f"the {plan['relative_to']} of column {column!r} is {reference:g}; it must be > 0 to divide by",
                    source=source,
                    where=f"columns.{target}.relative_to",
                )
            values = values / reference
        if "scale" in plan:
            values = values * float(plan["scale"])
        values_of[target] = _checked_device_column(target, values, lines, source, column)
    compute = values_of.pop("compute_factor")
    bandwidth = values_of.pop("bandwidth_mbps")
    return DevicePopulation(compute_factor=compute, bandwidth_mbps=bandwidth, attributes=values_of, source=source)


def _bare_message(exc: SpecError) -> str:
    """A SpecError's message without its 'source: where: ' prefix."""
    prefix = ": ".join(p for p in (exc.source, exc.where) if p)
    text = str(exc)
    return text[len(prefix) + 2 :] if prefix and text.startswith(prefix + ": ") else text


# ----------------------------------------------------------------------- job lists

JOBS_CSV_REQUIRED = ("arrival_s", "participants", "rounds", "deadline_s")
JOBS_CSV_OPTIONAL = ("quorum", "workload_s", "model_size_mb", "comm_s", "mode", "buffer_size", "name")
_JOBS_WHAT = (
    "a job-list CSV with columns arrival_s, requirement (or category), participants, rounds, deadline_s "
    "[, quorum, workload_s, model_size_mb, comm_s, mode, buffer_size, name]"
)


def _requirement_cell(text: str, column: str, category_names: Optional[tuple], source: str, where: str) -> Any:
    """One requirement / category cell as a requirement spec (checked)."""
    if text == "":
        raise SpecError("expected a requirement, got a missing value", source=source, where=where)
    if text.startswith("{"):
        if column == "category":
            raise SpecError(
                f"expected a category name or number, got the mapping {text!r} (mappings go in a 'requirement' column)",
                source=source,
                where=where,
            )
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            raise SpecError(
                f"cannot read {text!r} as a YAML/JSON mapping: {problem}", source=source, where=where
            ) from None
    elif re.fullmatch(r"[+-]?\d+", text):
        value = int(text)
    else:
        value = text
    try:
        if category_names is not None:
            value = name_categories(value, category_names, where="requirement")
        normalize(value)
    except SpecError as exc:
        inner = f" (at {exc.where})" if exc.where and exc.where != "requirement" else ""
        raise SpecError(_bare_message(exc) + inner, source=source, where=where) from None
    return value


def _optional_numbers(
    frame: pd.DataFrame, name: str, lines: np.ndarray, source: str, integer: bool = False
) -> np.ndarray:
    """An optional column as floats, NaN where the cell is empty (or the column is absent)."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    raw = frame[name]
    filled = raw.where(raw != "", "0")
    values = _column(frame.assign(**{name: filled}), name, lines, source, integer=integer).copy()
    values[(raw == "").to_numpy()] = np.nan
    return values


def _read_jobs(
    path: str | Path, category_names: Optional[Sequence[str]] = None
) -> tuple[list[JobSpec], np.ndarray, str]:
    """The jobs of a job-list CSV in file order, the line of each, and the source."""
    names = check_category_names(category_names) if category_names is not None else None
    frame, lines, source = _read_hand_csv(path, JOBS_CSV_REQUIRED, _JOBS_WHAT, strict_fields=True)
    has = [c for c in ("requirement", "category") if c in frame.columns]
    if len(has) != 1:
        problem = "both a 'requirement' and a 'category' column" if has else "no 'requirement' or 'category' column"
        raise SpecError(
            f"has {problem}; expected exactly one of them (the header has {','.join(frame.columns)})",
            source=source,
            where="header",
        )
    req_column = has[0]
    allowed = (*JOBS_CSV_REQUIRED, req_column, *JOBS_CSV_OPTIONAL)
    extra = [c for c in frame.columns if c not in allowed]
    if extra:
        raise SpecError(
            f"unexpected column(s) {extra}; allowed columns: {', '.join(allowed)}", source=source, where="header"
        )

    def at(k: int, column: str) -> str:
        return f"line {lines[k]}, column '{column}'"

    def check(values: np.ndarray, column: str, ok, expected: str) -> None:
        bad = ~np.isnan(values) & ~ok(np.nan_to_num(values))
        _reject_rows(bad, lambda k: f"expected {expected}, got {frame[column].iloc[k]!r}", source, lines, column)

    arrival = _column(frame, "arrival_s", lines, source)
    participants = _column(frame, "participants", lines, source, integer=True)
    rounds = _column(frame, "rounds", lines, source, integer=True)
    deadline = _column(frame, "deadline_s", lines, source)
    check(arrival, "arrival_s", lambda v: v >= 0, "a number of seconds >= 0")
    check(participants, "participants", lambda v: v >= 1, "an integer >= 1")
    check(rounds, "rounds", lambda v: v >= 1, "an integer >= 1")
    check(deadline, "deadline_s", lambda v: v > 0, "a number of seconds > 0")
    optional = {
        "quorum": (
            _optional_numbers(frame, "quorum", lines, source),
            lambda v: (v > 0) & (v <= 1),
            "a number > 0 and <= 1",
        ),
        "workload_s": (
            _optional_numbers(frame, "workload_s", lines, source),
            lambda v: v >= 0,
            "a number of seconds >= 0",
        ),
        "model_size_mb": (
            _optional_numbers(frame, "model_size_mb", lines, source),
            lambda v: v >= 0,
            "a number of MB >= 0",
        ),
        "comm_s": (_optional_numbers(frame, "comm_s", lines, source), lambda v: v >= 0, "a number of seconds >= 0"),
        "buffer_size": (
            _optional_numbers(frame, "buffer_size", lines, source, integer=True),
            lambda v: v >= 1,
            "an integer >= 1",
        ),
    }
    for column, (values, ok, expected) in optional.items():
        check(values, column, ok, expected)
    both = ~np.isnan(optional["model_size_mb"][0]) & ~np.isnan(optional["comm_s"][0])
    _reject_rows(both, lambda k: "give model_size_mb or comm_s for a job, not both", source, lines, "comm_s")

    jobs: list[JobSpec] = []
    seen: dict[str, int] = {}
    for k in range(len(frame)):
        fields: dict[str, Any] = {
            "arrival_s": float(arrival[k]),
            "requirement": _requirement_cell(frame[req_column].iloc[k], req_column, names, source, at(k, req_column)),
            "participants": int(participants[k]),
            "rounds": int(rounds[k]),
            "deadline_s": float(deadline[k]),
        }
        for column in ("quorum", "workload_s", "model_size_mb"):
            if not np.isnan(optional[column][0][k]):
                fields[column] = float(optional[column][0][k])
        if not np.isnan(optional["comm_s"][0][k]):
            fields["model_size_mb"] = comm_s_to_model_size_mb(float(optional["comm_s"][0][k]))
        if not np.isnan(optional["buffer_size"][0][k]):
            fields["buffer_size"] = int(optional["buffer_size"][0][k])
        mode = frame["mode"].iloc[k] if "mode" in frame.columns else ""
        if mode:
            if mode not in (SYNC, ASYNC):
                raise SpecError(f"expected '{SYNC}' or '{ASYNC}', got {mode!r}", source=source, where=at(k, "mode"))
            fields["mode"] = mode
        name = frame["name"].iloc[k] if "name" in frame.columns else ""
        name = name or f"job{k}"
        if name in seen:
            raise SpecError(
                f"duplicate job name {name!r} (also on line {lines[seen[name]]})", source=source, where=at(k, "name")
            )
        seen[name] = k
        try:
            job = JobSpec(**fields, name=name)
        except SpecError as exc:
            field = (exc.where or "").rsplit(".", 1)[-1]
            if field == "model_size_mb" and "comm_s" in frame.columns and "model_size_mb" not in frame.columns:
                field = "comm_s"
            known = (*JOBS_CSV_REQUIRED, *JOBS_CSV_OPTIONAL)
            column = req_column if field == "requirement" else field if field in known else None
            where = at(k, column) if column else f"line {lines[k]}"
            raise SpecError(_bare_message(exc), source=source, where=where) from None
        jobs.append(job)
    return jobs, lines, source


def read_jobs_csv(
    path: str | Path, *, category_names: Optional[Sequence[str]] = None, name: Optional[str] = None
) -> Workload:
    """A job list written as CSV, one job per row (e.g. exported from the Venn authors' job config).

    Columns (header names, any order; ``#`` comment lines and blank lines are skipped):

    - required: ``arrival_s`` (seconds >= 0), ``participants`` (integer >= 1; for an
      async job the devices it keeps busy, the authors' ``concurrency``),
      ``rounds`` (integer >= 1), ``deadline_s`` (seconds > 0; the authors'
      ``Request.duration``), and exactly one of ``requirement`` or ``category``;
    - optional, an empty cell meaning the :class:`~venn_gym.jobs.JobSpec` default:
      ``quorum`` (0.8; the authors' ``fraction``), ``workload_s`` (30),
      ``model_size_mb`` (5), ``comm_s``, ``mode`` (``sync`` | ``async``),
      ``buffer_size`` (integer >= 1, required for async), ``name`` (``job<i>``,
      ``i`` the 0-based data row; names must be unique).

    ``category`` cells are a category number (1-4, the authors' eligibility
    number: 1 general, 2 compute-rich, 3 memory-rich, 4 high-performance) or name.
    ``requirement`` cells take that too, ``any_device``, or a requirement mapping
    written in YAML/JSON flow style, starting with ``{`` (quote the cell:
    ``"{attr: ram_gb, op: '>=', value: 8}"``, ``"{all: [general, {attr: os_version,
    op: '>=', value: 12}]}"``). With ``category_names`` (category ``i`` is
    ``category_names[i-1]``; a scenario's ``devices.category_names``) numbers
    1..len(names) and those names are accepted, shown by their names; see
    :func:`venn_gym.requirements.name_categories`.

    ``comm_s`` is the authors' per-job ``comm``: the one-way model transfer time in
    seconds on a device of the reference bandwidth, 13.736 Mbit/s (13,736 kbit/s,
    the constant of the authors' simulator and the mean of FedScale's capacity
    file). It is stored as ``model_size_mb = comm_s * 13.736 / 8`` (a row may give
    ``comm_s`` or ``model_size_mb``, not both), so that venn_gym's task time
    ``workload_s * compute_factor + 2 * model_size_mb * 8 / bandwidth_mbps`` is
    ``workload_s * compute_factor + 2 * comm_s * 13.736 / bandwidth_mbps``. For a
    device imported with :func:`read_venn_client_table` (``bandwidth_mbps =
    communication / 1000``, ``compute_factor = computation / mean computation``)
    that is the authors' ``workload * computation / 78 + 2 * comm * 13736 /
    communication`` exactly when the capacity file's mean computation is 78 (the
    authors' constant; theirs is). Their jobs (``workload = 30``, ``comm = 10``)
    are ``workload_s: 30, comm_s: 10`` (model_size_mb 17.17).

    Every malformed cell raises a :class:`SpecError` naming the file, line and
    column. Returns a :class:`~venn_gym.jobs.Workload` named ``name`` (default:
    the file's stem) in arrival order.
    """
    jobs, _, source = _read_jobs(path, category_names)
    return Workload(tuple(jobs), name=name or Path(source).stem)
