"""Importers for the device and check-in formats of this field, returning venn_gym objects.

Four formats are read:

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
  eligibility list (a list of lists of category numbers 1-4) and a capacity
  pickle as above. :func:`read_venn_client_table` maps them exactly as the
  authors' simulator does (see there).
- **Hand-written CSV**: a trace ``device,start_s,end_s`` and a devices file
  ``device,compute_factor,bandwidth_mbps,<numeric attribute columns...>``
  (:func:`read_trace_csv`, :func:`read_devices_csv`). Lines starting with ``#``
  are comments.

Units everywhere: seconds; ``compute_factor`` multiplies a job's ``workload_s``
(relative: 1.0 = the population's mean device for imported capacities);
``bandwidth_mbps`` is Mbit/s.

Malformed input raises :class:`~venn_gym.errors.SpecError` naming the file, the
client / line and field, and what was expected.

**Security:** pickles can run arbitrary code when loaded. Only load pickle files
from sources you trust (the FedScale and Venn repositories, your own files).
"""

from __future__ import annotations

import csv
import io
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from .devices import DevicePopulation
from .errors import SpecError
from .requirements import CATEGORY_ATTRIBUTE, CATEGORY_NAMES
from .trace import DAY_S, TableTrace

# The authors' simulator repeats its 5-day client table every 5 days (432,000 s)
# and lengthens every online window by 80 s (its ``client['end'] + 80``).
VENN_PERIOD_S = 5 * DAY_S
VENN_ONLINE_EXTENSION_S = 80.0

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


def _load_pickle(path: str | Path, what: str) -> Any:
    """``pickle.load`` a file, turning every failure into a SpecError. Trusted files only."""
    path = Path(path)
    source = _check_file(path, what)
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except Exception as exc:  # unpickling can raise nearly anything
        raise SpecError(
            f"cannot be read as a pickle ({type(exc).__name__}: {exc}); expected {what}", source=source
        ) from None


def _load_client_dict(path: str | Path, what: str) -> Mapping:
    """A pickled, non-empty ``{client_id: ...}`` dict."""
    data = _load_pickle(path, what)
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


def _capacity_entry(entry: Any, source: str, where: str) -> tuple[float, float]:
    _require_keys(entry, {"computation": "time per unit of work", "communication": "kbit/s"}, source, where)
    values = []
    for key in ("computation", "communication"):
        value = _number(entry[key], source, f"{where}.{key}", "a finite number > 0")
        if value <= 0:
            raise SpecError(f"expected a finite number > 0, got {value!r}", source=source, where=f"{where}.{key}")
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
    windows left out because they start at or after ``period_s``.
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
    path: str | Path, *, period_s: Optional[float] = None, chunk_s: float = 3600.0
) -> FedScaleAvailability:
    """Read a FedScale ``client_behave_trace`` pickle as a repeating check-in table.

    Each ``(active[k], inactive[k])`` is one online window. Client ids map to
    device indices ``0..n-1`` in sorted id order (clients without windows keep
    their index). A client whose ``active`` list has one more entry than
    ``inactive`` has its last window closed at its ``finish_time``.

    The table repeats every ``period_s``: by default the trace's end,
    ``max(finish_time, last inactive)`` over all clients. With a shorter
    ``period_s`` the windows that start at or after it are left out (counted in
    ``dropped_windows``). Pickles run code when loaded: load only trusted files.
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
                raise SpecError(f"expected a number of seconds >= 0, got {finish!r}", source=source,
                                where=f"{where}.finish_time")
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
                    f"is negative ({arr[neg[0]]!r}); times must be >= 0 s", source=source,
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
    if not keep.any():
        raise SpecError(f"no online window starts before period_s = {period}", source=source)
    trace = TableTrace(start=start[keep], end=end[keep], device=device[keep], period_s=period,
                       chunk_s=chunk_s, source=source)
    return FedScaleAvailability(trace, tuple(ids), tuple(models) if any_model else None, dropped)


# ------------------------------------------------------------------ Venn client table

_ELIGIBILITY_WHAT = "a pickled list of per-device eligibility lists (category numbers 1-4)"


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
    masks = np.zeros(len(eligibility), dtype=np.uint8)
    n_categories = len(CATEGORY_NAMES)
    for k, entry in enumerate(eligibility):
        if isinstance(entry, (str, bytes)) or not isinstance(entry, (Sequence, set, frozenset, np.ndarray)):
            raise SpecError(
                f"expected a list of category numbers 1-{n_categories}, got {entry!r}", source=source,
                where=f"entry {k}",
            )
        mask = 0
        for category in entry:
            if not isinstance(category, (int, np.integer)) or isinstance(category, bool) \
                    or not 1 <= int(category) <= n_categories:
                raise SpecError(
                    f"expected category numbers 1-{n_categories}, got {category!r}", source=source,
                    where=f"entry {k}",
                )
            mask |= 1 << (int(category) - 1)
        masks[k] = mask
    return masks


def _authors_capacity(path: str | Path) -> tuple[np.ndarray, np.ndarray, str]:
    """Capacity arrays indexed by key - 1; the authors' file has keys 1..N."""
    source = str(path)
    data = _load_pickle(path, _CAPACITY_WHAT + " with keys 1..N")
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
                f"has no key {key}; the authors' mapping needs the keys 1..{n} (entry (i mod N) + 1 "
                "for row i)",
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
      (category ``k`` sets bit ``k-1`` of the attribute ``categories``);
    - ``compute_factor = computation / mean(computation)``; the means are taken
      over the capacity file (they come out at ~78 and ~13,736 for the authors'
      files, the constants their code hard-codes); ``bandwidth_mbps =
      communication / 1000`` (kbit/s to Mbit/s, i.e. the authors' relative
      bandwidth times ``communication_mean / 1000``);
    - each window runs from ``start`` to ``end + online_extension_s`` (the
      authors add 80 s to every window; pass 0 for the raw table);
    - the table repeats every ``period_s`` (the authors' ``start + j * 432000``).

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
        raise SpecError(f"cannot be read as CSV: {exc}", source=source) from None
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
    bad = np.flatnonzero(start < 0)
    if len(bad):
        raise SpecError(f"start {float(start[bad[0]])!r} is negative; times must be >= 0 s", source=source,
                        where=f"line {lines[bad[0]]}, column 'start'")
    bad = np.flatnonzero((end < start) | (end + online_extension_s <= start))
    if len(bad):
        k = bad[0]
        raise SpecError(
            f"end {float(end[k])!r} is {'before' if end[k] < start[k] else 'not after'} start {float(start[k])!r}; "
            "expected end > start",
            source=source,
            where=f"line {lines[k]}, column 'end'",
        )
    order = np.argsort(start, kind="stable")
    keep = order[start[order] < period_s]
    dropped = len(order) - len(keep)
    if len(keep) == 0:
        raise SpecError(f"no row starts before period_s = {period_s}", source=source)
    start, end = start[keep], end[keep] + online_extension_s
    ids = frame["ID"].to_numpy()[keep]

    masks = _category_masks(_load_pickle(eligibility, _ELIGIBILITY_WHAT), str(eligibility))
    comp, comm, _ = _authors_capacity(capacity)
    n = len(start)
    rows = np.arange(n)
    cap_index = rows % len(comp)
    compute_mean, communication_mean = float(comp.mean()), float(comm.mean())
    population = DevicePopulation(
        compute_factor=comp[cap_index] / compute_mean,
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
        what = "missing value" if shown is None or (isinstance(shown, float) and np.isnan(shown)) \
            or (isinstance(shown, str) and not shown.strip()) else f"got {shown!r}"
        raise SpecError(f"expected a number, {what}", source=source, where=f"line {lines[k]}, column '{name}'")
    return values


# ---------------------------------------------------------------- hand-written CSVs

_COMMENT = re.compile(r"^\s*#")


def _read_hand_csv(path: str | Path, expected: Sequence[str], what: str) -> tuple[pd.DataFrame, np.ndarray, str]:
    """Read a small hand-written CSV as strings; returns (frame, 1-based line of each row, source).

    ``#`` comment lines and blank lines are skipped but still counted for line numbers.
    """
    path = Path(path)
    source = _check_file(path, what)
    try:
        text = path.read_text()
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
    for k, fields in enumerate(csv.reader(cleaned[header + 1:]), start=header + 2):
        if fields and any(f.strip() for f in fields) and len(fields) > len(names):
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
            f" (the header has {','.join(frame.columns)})",
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


def _column(frame: pd.DataFrame, name: str, lines: np.ndarray, source: str, *, integer: bool = False) -> np.ndarray:
    raw = frame[name].to_numpy(dtype=object)
    values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        k = bad[0]
        got = "a missing value" if raw[k] == "" else repr(raw[k])
        expected = "an integer" if integer else "a number"
        raise SpecError(f"expected {expected}, got {got}", source=source, where=f"line {lines[k]}, column '{name}'")
    if integer:
        bad = np.flatnonzero(values != np.round(values))
        if len(bad):
            k = bad[0]
            raise SpecError(f"expected an integer, got {raw[k]!r}", source=source,
                            where=f"line {lines[k]}, column '{name}'")
    return values


TRACE_CSV_COLUMNS = ("device", "start_s", "end_s")
DEVICES_CSV_COLUMNS = ("device", "compute_factor", "bandwidth_mbps")


def read_trace_csv(
    path: str | Path,
    *,
    period_s: Optional[float] = None,
    n_devices: Optional[int] = None,
    chunk_s: float = 3600.0,
) -> TableTrace:
    """A hand-written check-in table: columns ``device,start_s,end_s``, one row per check-in.

    ``device`` is a device index (0-based; below ``n_devices`` when that is given),
    ``start_s`` the check-in time and ``end_s`` when the device leaves (seconds,
    ``0 <= start_s < end_s``). The table repeats every ``period_s``: by default
    the last ``end_s`` (give e.g. 86400 to repeat a day). Rows need not be sorted.
    """
    frame, lines, source = _read_hand_csv(path, TRACE_CSV_COLUMNS, "a trace CSV with columns device,start_s,end_s")
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

    def fail(mask: np.ndarray, column: str, message) -> None:
        bad = np.flatnonzero(mask)
        if len(bad):
            k = bad[0]
            raise SpecError(message(k), source=source, where=f"line {lines[k]}, column '{column}'")

    fail(device < 0, "device", lambda k: f"device indices must be >= 0, got {int(device[k])}")
    if n_devices is not None:
        fail(device >= n_devices, "device",
             lambda k: f"device {int(device[k])} is not in the population (it has {n_devices} devices, "
                       f"0-{n_devices - 1})")
    fail(start < 0, "start_s", lambda k: f"start_s must be >= 0, got {float(start[k])!r}")
    fail(end <= start, "end_s", lambda k: f"end_s {float(end[k])!r} is not after start_s {float(start[k])!r}")
    if period_s is None:
        period = float(end.max())
    else:
        if not (_is_number(period_s) and np.isfinite(period_s) and period_s > 0):
            raise SpecError(f"period_s must be a number > 0, got {period_s!r}", source=source)
        period = float(period_s)
        fail(start >= period, "start_s",
             lambda k: f"start_s {float(start[k])!r} is not inside the period [0, {period:g}) s")
    return TableTrace(start=start, end=end, device=device.astype(np.int64), period_s=period, chunk_s=chunk_s,
                      source=source)


def read_devices_csv(path: str | Path) -> DevicePopulation:
    """A hand-written device table: ``device,compute_factor,bandwidth_mbps`` plus numeric attributes.

    ``device`` numbers the devices 0..n-1 (each once, any order);
    ``compute_factor`` (> 0) multiplies a job's ``workload_s`` (1.0 = a typical
    device); ``bandwidth_mbps`` (> 0) is in Mbit/s. Every other column is a
    numeric attribute that requirements can test (``categories`` is the paper's
    category bit mask: bit k-1 for category k; e.g. ``ram_gb``, ``os_version``).
    """
    frame, lines, source = _read_hand_csv(
        path, DEVICES_CSV_COLUMNS, "a devices CSV with columns device,compute_factor,bandwidth_mbps,<attributes>"
    )
    device = _column(frame, "device", lines, source, integer=True)
    bad = np.flatnonzero(device < 0)
    if len(bad):
        raise SpecError(f"device numbers must be >= 0, got {int(device[bad[0]])}", source=source,
                        where=f"line {lines[bad[0]]}, column 'device'")
    n = len(device)
    seen: dict[int, int] = {}
    for k, d in enumerate(device.astype(np.int64)):
        if d in seen:
            raise SpecError(f"device {d} appears twice (also on line {lines[seen[d]]})", source=source,
                            where=f"line {lines[k]}, column 'device'")
        seen[int(d)] = k
    bad = np.flatnonzero(device >= n)
    if len(bad):
        missing = sorted(set(range(n)) - set(seen))[0]
        raise SpecError(
            f"devices must be numbered 0..{n - 1} (one row each); device {missing} is missing",
            source=source,
            where=f"line {lines[bad[0]]}, column 'device'",
        )
    order = np.argsort(device, kind="stable")
    columns = {}
    for name in frame.columns:
        if name == "device":
            continue
        values = _column(frame, name, lines, source, integer=name == CATEGORY_ATTRIBUTE)
        if name in ("compute_factor", "bandwidth_mbps"):
            bad = np.flatnonzero(values <= 0)
            if len(bad):
                raise SpecError(f"must be > 0, got {float(values[bad[0]])!r}", source=source,
                                where=f"line {lines[bad[0]]}, column '{name}'")
        if name == CATEGORY_ATTRIBUTE:
            bad = np.flatnonzero((values < 0) | (values >= 1 << len(CATEGORY_NAMES)))
            if len(bad):
                raise SpecError(
                    f"is a bit mask of the {len(CATEGORY_NAMES)} categories (0-{(1 << len(CATEGORY_NAMES)) - 1}), "
                    f"got {values[bad[0]]:g}",
                    source=source,
                    where=f"line {lines[bad[0]]}, column '{name}'",
                )
            values = values.astype(np.int64)
        columns[name] = values[order]
    compute = columns.pop("compute_factor")
    bandwidth = columns.pop("bandwidth_mbps")
    return DevicePopulation(compute_factor=compute, bandwidth_mbps=bandwidth, attributes=columns, source=source)
