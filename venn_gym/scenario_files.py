"""Scenarios and workloads written by hand in YAML or JSON.

A scenario file (``.yaml``, ``.yml`` or ``.json``) is one mapping::

    name: mylab/campus-v0            # optional; 'owner/thing-vN' to register it
    description: a campus pool       # optional
    devices:                         # required: exactly one source
      synthetic: {n_devices: 2000}   #   the calibrated synthetic population, or
      # csv: devices.csv             #   device,compute_factor,bandwidth_mbps,<attributes>, or any
      #                              #   table with a column mapping (+ columns: see below), or
      # fedscale_capacity: cap.pkl   #   FedScale client_device_capacity (+ match: order|client_id), or
      # venn_client_table: {table: clients.csv, eligibility: elig.pkl, capacity: cap.pkl,
      #                     period_s: 432000, online_extension_s: 80,
      #                     compute_reference: 78}   # devices AND trace
      # synthetic_attributes: true   # optional: add the synthetic categories / ram_gb /
      #                              # os_version / cpu_score a file lacks (or a list of names)
      # category_names: [general, gpu, big_ram, high_performance, npu]   # optional: name the
      #                              # categories (category i = i-th name; see below)
    trace:                           # optional (see below): exactly one source
      diurnal: {checkins_per_day: 6000, amplitude: 0.5}
      # csv: trace.csv               #   device,start_s,end_s  (+ period_s: 86400), or
      # fedscale_behavior: trace.pkl #   FedScale client_behave_trace (+ period_s)
      # drop_after_period: false     #   csv / fedscale_behavior: drop rows starting at or
      #                              #   after period_s instead of rejecting them
      # chunk_s: 3600                #   optional, any source
    workload:                        # required: exactly one of jobs / paper / csv / file
      jobs:
        - {arrival_s: 0, requirement: general, participants: 20, rounds: 10, deadline_s: 600,
           quorum: 0.8, workload_s: 30, model_size_mb: 5}
        - {arrival_s: 600, requirement: {attr: ram_gb, op: ">=", value: 8},
           participants: 10, rounds: 5, deadline_s: 300}
      # paper: {mix: even, n_jobs: 10, scale: 0.05, mean_gap_s: 1800, model_size_mb: 5}
      # csv: jobs.csv                #   a job-list CSV, one job per row (below)
      # file: jobs.yaml              #   a workload file (below)
    speed_tiers: 4                   # optional settings, with their defaults
    task_noise_log_sd: 0.5
    horizon_s: null
    max_sim_days: 3650
    round_deadline_from: request     # or dispatch (see venn_gym.jobs.JobSpec)

Details:

- **Paths** are relative to the folder of the file that names them.
- **Unknown keys are errors**; every error is a :class:`~venn_gym.errors.SpecError`
  naming the file, the field path (``workload.jobs[3].participants``) and what
  was expected. Duplicate keys are errors too. YAML numbers like ``1e5`` are read
  as numbers (plain YAML 1.1 would read them as strings).
- **Jobs** take ``arrival_s``, ``requirement``, ``participants``, ``rounds``,
  ``deadline_s`` (required) and ``quorum`` (0.8), ``workload_s`` (30),
  ``model_size_mb`` (5), ``comm_s`` (instead of ``model_size_mb``: the Venn
  authors' ``comm``, one-way transfer seconds at 13.736 Mbit/s, stored as
  ``model_size_mb = comm_s * 13.736 / 8``; see
  :func:`venn_gym.importers.read_jobs_csv`), ``mode`` (sync | async),
  ``buffer_size`` (async only), ``name`` (``job<i>``). Requirements are written
  as in :mod:`venn_gym.requirements`: a category name or number, ``any_device``,
  ``{attr, op, value}``, ``{all: [...]}``, ``{any: [...]}``, ``{not: ...}``.
- **csv** (workload): a job-list CSV with columns ``arrival_s, requirement`` (or
  ``category``) ``, participants, rounds, deadline_s`` and optionally ``quorum,
  workload_s, model_size_mb, comm_s, mode, buffer_size, name`` (empty cell =
  default); a ``requirement`` cell may hold a quoted YAML/JSON mapping
  (``"{attr: ram_gb, op: '>=', value: 8}"``). Format and errors:
  :func:`venn_gym.importers.read_jobs_csv`.
- **category_names** (devices, any source): names for the bits of the devices'
  ``categories`` mask, category ``i`` (bit ``i-1``) being the ``i``-th name, up
  to 63 (e.g. an eligibility pickle with more than the paper's 4 categories).
  Every requirement of the workload (jobs, csv, file) then names categories by
  these names or by numbers 1..N (the paper's names only where listed), and
  results show these names (``{"category": 2, "name": "gpu"}``, see
  :func:`venn_gym.requirements.name_categories`). Without it, the paper's four
  names and numbers 1-4 are used. It must name every category the devices
  carry.
- **columns** (devices ``csv``): read any table (e.g. AI Benchmark's
  ``device_id,model,cpu_score,ram_gb,fp16_memory_score,android_version,
  inference_ms``) by mapping venn_gym fields to its columns; device ``i`` is the
  ``i``-th row, unmapped columns are ignored::

      devices:
        csv: aibench.csv
        columns:
          compute_factor: {from: inference_ms, relative_to: median}  # median device = 1.0
          # or {from: inference_ms, scale: 0.0159} (1/63 ms, the synthetic pool's median)
          bandwidth_mbps: 20                 # or {value: 20}: the same for every device
          ram_gb: ram_gb                     # a column as it is: a device attribute
          os_version: android_version        # renamed
          cpu: {from: cpu_score, default: 5} # missing cells filled (else an error)

  ``compute_factor`` and ``bandwidth_mbps`` are required; every other field is a
  numeric device attribute that requirements can test. Forms:
  :func:`venn_gym.importers.map_device_columns`.
- **period boundary** (trace ``csv`` and ``fedscale_behavior`` with
  ``period_s``): the table covers ``[0, period_s)``; a row starting at or after
  ``period_s`` is an error naming it, unless ``drop_after_period: true`` (then it
  is left out). ``venn_client_table`` leaves such rows out, as the authors do.
- **venn_client_table** ``compute_reference``: divide the capacity file's
  ``computation`` by this (the authors' constant is 78) instead of by its mean.
- **paper** draws jobs from the paper's templates (:func:`venn_gym.jobs.generate_paper_workload`)
  with the scenario's seed. Unlike the registered ``paper/*`` scenarios it does
  not resize the device pool: ``scale`` shrinks only the jobs.
- **trace** may be left out: devices from ``venn_client_table`` bring their own
  trace (and then ``trace`` must be left out); otherwise the default is a
  diurnal trace with 3 check-ins per device per day (the density of the
  full-scale paper scenarios). A diurnal trace draws from all devices.
- **fedscale_capacity** ``match: order`` (default): device ``i`` takes entry
  ``i mod N`` in sorted client-id order, with as many devices as the trace names
  (or one per entry under a diurnal trace); ``match: client_id``: device ``i``
  takes the entry of the FedScale availability trace's client ``i``.
- The **seed** draws the synthetic population, synthetic attributes, paper
  workloads and every random stream of the run.

A workload file holds ``jobs``, ``paper`` or ``csv`` and nothing else but an
optional ``name``, as in a scenario's ``workload`` section (its csv path is
relative to the workload file).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import re
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import numpy as np
import yaml

from . import requirements
from .devices import DevicePopulation, synthetic_population
from .errors import SpecError, VennGymError, short_repr
from .importers import (
    VENN_ONLINE_EXTENSION_S,
    VENN_PERIOD_S,
    _read_jobs,  # the job-list reader, with the line of each job
    is_pickle_path,
    read_devices_csv,
    read_fedscale_availability,
    read_fedscale_capacity,
    read_trace_csv,
    read_venn_client_table,
)
from .jobs import (
    ASYNC,
    DEADLINE_ORIGINS,
    SYNC,
    JobSpec,
    Workload,
    comm_s_to_model_size_mb,
    generate_paper_workload,
    paper_mixes,
)
from .registry import mark_source, register_scenario, registered_names
from .scenario import Scenario
from .trace import CheckinTrace, DiurnalTrace, TableTrace

__all__ = [
    "load_scenario_file",
    "load_workload_file",
    "validate_file",
    "register_scenario_file",
    "SCENARIO_KEYS",
]

SUFFIXES = (".yaml", ".yml", ".json")
SCENARIO_KEYS = (
    "name",
    "description",
    "devices",
    "trace",
    "workload",
    "speed_tiers",
    "task_noise_log_sd",
    "horizon_s",
    "max_sim_days",
    "round_deadline_from",
)
_DEVICE_SOURCES = {
    "synthetic": (),
    "csv": ("columns",),
    "fedscale_capacity": ("match",),
    "venn_client_table": (),
}
_DEVICE_COMMON = ("synthetic_attributes", "category_names")
_SYNTHETIC_KEYS = ("n_devices",)
_VENN_TABLE_KEYS = ("table", "eligibility", "capacity", "period_s", "online_extension_s", "compute_reference")
_TRACE_SOURCES = {
    "diurnal": (),
    "csv": ("period_s", "drop_after_period"),
    "fedscale_behavior": ("period_s", "drop_after_period"),
}
_TRACE_COMMON = ("chunk_s",)
_DIURNAL_KEYS = ("checkins_per_day", "amplitude", "peak_hour", "window_median_s", "window_log_sd")
_WORKLOAD_SOURCES = ("jobs", "paper", "csv", "file")
_PAPER_KEYS = ("mix", "n_jobs", "scale", "mean_gap_s", "model_size_mb")
_JOB_REQUIRED = ("arrival_s", "requirement", "participants", "rounds", "deadline_s")
_JOB_OPTIONAL = ("quorum", "workload_s", "model_size_mb", "comm_s", "mode", "buffer_size", "name")
_SYNTHETIC_ATTRIBUTES = ("categories", "ram_gb", "os_version", "cpu_score")
# Density of the full-scale paper scenarios: 300 k check-ins a day from 100 k devices.
DEFAULT_CHECKINS_PER_DEVICE_PER_DAY = 3.0

# Streams of the seed (the population and workload streams match paper_scenario's).
_POPULATION_STREAM = 0xDE71CE
_WORKLOAD_STREAM = 0x10B5
_ATTRIBUTE_STREAM = 0xA771B

_FAILED = object()


# ------------------------------------------------------------------------ reading


class _Loader(yaml.SafeLoader):
    """Safe YAML with duplicate keys rejected and ``1e5`` read as a number."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict:
    loader.flatten_mapping(node)
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark, f"unhashable key {key!r}", key_node.start_mark
            ) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


TRUST_PICKLES_VARIABLE = "VENN_GYM_TRUST_PICKLES"
TRUST_PICKLES_HOW = (
    "venn-gym --trust-pickles ..., trust_pickles=True in load_scenario_file or "
    "register_scenario_file, or VENN_GYM_TRUST_PICKLES=1"
)


def _trusting(trust_pickles: Optional[bool]) -> bool:
    """An explicit choice, else the environment (which the CLI's --trust-pickles sets for its workers)."""
    if trust_pickles is not None:
        return bool(trust_pickles)
    return os.environ.get(TRUST_PICKLES_VARIABLE) == "1"


def _read_document(path: str | Path, trust_pickles: bool = False) -> tuple[dict, "_Context"]:
    path = Path(path).expanduser()
    source = str(path)
    if path.suffix.lower() not in SUFFIXES:
        raise SpecError(f"expected a {', '.join(SUFFIXES)} file", source=source)
    if not path.is_file():
        raise SpecError("file not found", source=source)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot be read: {exc}", source=source) from None
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(text, object_pairs_hook=_no_duplicates) if text.strip() else None
        except json.JSONDecodeError as exc:
            raise SpecError(
                f"invalid JSON: {exc.msg}", source=source, where=f"line {exc.lineno}, column {exc.colno}"
            ) from None
        except ValueError as exc:
            raise SpecError(f"invalid JSON: {exc}", source=source) from None
    else:
        try:
            doc = yaml.load(text, Loader=_Loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else None
            raise SpecError(f"invalid YAML: {problem}", source=source, where=where) from None
    if doc is None:
        raise SpecError("the file is empty", source=source)
    if not isinstance(doc, dict):
        raise SpecError(f"the top level must be a mapping of keys, got {type(doc).__name__}", source=source)
    return doc, _Context(path, trust_pickles)


class _Context:
    """The file being read: builds errors that name it, and resolves relative paths."""

    def __init__(self, path: Path, trust_pickles: bool = False):
        self.path = path
        self.source = str(path)
        self.base = path.parent
        self.trust_pickles = trust_pickles

    def error(self, where: Optional[str], message: str) -> SpecError:
        return SpecError(message, source=self.source, where=where)

    def rewrap(self, exc: SpecError, where: Optional[str]) -> SpecError:
        """An error from a library call or a data file, named under this file and field."""
        if exc.source == self.source:
            return exc
        return SpecError(str(exc), source=self.source, where=where)

    def mapping(self, value: Any, where: str, allowed: tuple, required: tuple = ()) -> dict:
        if not isinstance(value, dict):
            raise self.error(where, f"expected a mapping with keys {_keys(allowed)}, got {short_repr(value)}")
        for key in value:
            if key not in allowed:
                raise self.error(_path(where, key), f"unknown key {key!r}; allowed keys: {_keys(allowed)}")
        for key in required:
            if key not in value:
                raise self.error(where, f"missing key {key!r} (required keys: {_keys(required)})")
        return value

    def source_of(self, value: Any, where: str, sources: Mapping[str, tuple], common: tuple) -> tuple[str, dict]:
        """The single source key of a section like ``devices`` and its checked mapping."""
        names = tuple(sources)
        if not isinstance(value, dict):
            raise self.error(where, f"expected a mapping with one of the keys {_keys(names)}, got {short_repr(value)}")
        given = [key for key in value if key in sources]
        unknown = [key for key in value if key not in sources and key not in common]
        if not given and unknown:
            raise self.error(
                _path(where, unknown[0]), f"unknown key {unknown[0]!r}; expected one of the sources {_keys(names)}"
            )
        if len(given) != 1:
            found = f"found {_keys(given)}" if given else f"found {_keys(value) or 'no keys'}"
            raise self.error(where, f"expected exactly one of the keys {_keys(names)}; {found}")
        kind = given[0]
        self.mapping(value, where, (kind, *sources[kind], *common))
        return kind, value

    def file(self, value: Any, where: str) -> Path:
        if not isinstance(value, str) or not value.strip():
            raise self.error(where, f"expected a file path, got {short_repr(value)}")
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = self.base / path
        if not path.is_file():
            raise self.error(where, f"file not found: {path}")
        return path

    def data_file(self, value: Any, where: str) -> Path:
        """A capacity, eligibility or availability file: JSON, or a pickle if pickles are trusted."""
        path = self.file(value, where)
        if is_pickle_path(path) and not self.trust_pickles:
            raise self.error(
                where,
                f"{path} is read as a pickle, and unpickling runs code: scenario files load "
                f"pickles only when trusted ({TRUST_PICKLES_HOW}). Or convert it once to "
                f"JSON, which loads safely: venn-gym convert-pickle {path} "
                f"{path.with_suffix('.json')}",
            )
        return path

    def number(
        self,
        value: Any,
        where: str,
        *,
        minimum: Optional[float] = None,
        above: Optional[float] = None,
        maximum: Optional[float] = None,
        below: Optional[float] = None,
        integer: bool = False,
        allow_none: bool = False,
    ) -> Any:
        if value is None and allow_none:
            return None
        kind = "an integer" if integer else "a number"
        bounds = [
            f">= {minimum:g}" if minimum is not None else "",
            f"> {above:g}" if above is not None else "",
            f"<= {maximum:g}" if maximum is not None else "",
            f"< {below:g}" if below is not None else "",
        ]
        expected = " ".join([kind, " and ".join(b for b in bounds if b)]).strip()
        if allow_none:
            expected += " or null"
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if ok and integer:
            ok = float(value).is_integer()
        ok = ok and (minimum is None or value >= minimum) and (above is None or value > above)
        ok = ok and (maximum is None or value <= maximum) and (below is None or value < below)
        if not ok:
            raise self.error(where, f"expected {expected}, got {short_repr(value)}")
        return int(value) if integer else float(value)

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(where, f"expected a non-empty string, got {short_repr(value)}")
        return value


def _keys(keys) -> str:
    return ", ".join(str(k) for k in keys)


def _path(where: Optional[str], key: Any) -> str:
    return f"{where}.{key}" if where else str(key)


def _bare(exc: SpecError) -> str:
    """The message of a SpecError without its 'source: where: ' prefix."""
    prefix = ": ".join(p for p in (exc.source, exc.where) if p)
    text = str(exc)
    return text[len(prefix) + 2 :] if prefix and text.startswith(prefix + ": ") else text


class _Issues:
    """Runs checks: raises the first error, or (for validate_file) collects them all."""

    def __init__(self, collect: bool):
        self.collect = collect
        self.items: list[str] = []

    def run(self, fn: Callable, *args, **kwargs) -> Any:
        try:
            return fn(*args, **kwargs)
        except SpecError as exc:
            if not self.collect:
                raise
            self.items.append(str(exc))
            return _FAILED


# ----------------------------------------------------------------------- workload


def _named_requirement(ctx: _Context, value: Any, where: str, names: Optional[tuple]) -> Any:
    """A job's requirement with the scenario's category names applied (unchanged without names)."""
    if names is None:
        return value
    try:
        return requirements.name_categories(value, names, where="requirement")
    except SpecError as exc:
        inner = exc.where[len("requirement") :] if exc.where and exc.where.startswith("requirement") else ""
        raise ctx.error(f"{where}{inner}", _bare(exc)) from None


def _parse_job(ctx: _Context, value: Any, where: str, index: int, names: Optional[tuple] = None) -> JobSpec:
    spec = ctx.mapping(value, where, (*_JOB_REQUIRED, *_JOB_OPTIONAL), _JOB_REQUIRED)
    fields: dict[str, Any] = {
        "requirement": _named_requirement(ctx, spec["requirement"], f"{where}.requirement", names)
    }
    fields["arrival_s"] = ctx.number(spec["arrival_s"], f"{where}.arrival_s", minimum=0)
    fields["participants"] = ctx.number(spec["participants"], f"{where}.participants", minimum=1, integer=True)
    fields["rounds"] = ctx.number(spec["rounds"], f"{where}.rounds", minimum=1, integer=True)
    fields["deadline_s"] = ctx.number(spec["deadline_s"], f"{where}.deadline_s", above=0)
    if "quorum" in spec:
        fields["quorum"] = ctx.number(spec["quorum"], f"{where}.quorum", above=0, maximum=1)
    for key in ("workload_s", "model_size_mb"):
        if key in spec:
            fields[key] = ctx.number(spec[key], f"{where}.{key}", minimum=0)
    if "comm_s" in spec:
        if "model_size_mb" in spec:
            raise ctx.error(f"{where}.comm_s", "give model_size_mb or comm_s, not both")
        fields["model_size_mb"] = comm_s_to_model_size_mb(ctx.number(spec["comm_s"], f"{where}.comm_s", minimum=0))
    if "mode" in spec:
        if spec["mode"] not in (SYNC, ASYNC):
            raise ctx.error(f"{where}.mode", f"expected '{SYNC}' or '{ASYNC}', got {short_repr(spec['mode'])}")
        fields["mode"] = spec["mode"]
    if "buffer_size" in spec:
        fields["buffer_size"] = ctx.number(spec["buffer_size"], f"{where}.buffer_size", minimum=1, integer=True)
    name = ctx.text(spec["name"], f"{where}.name") if "name" in spec else f"job{index}"
    try:
        # Checked without a name first so that its error paths read 'job.<field>'.
        JobSpec(**fields)
    except SpecError as exc:
        field = exc.where or "job.requirement"  # category errors come without a field
        field = where + field[3:] if field.startswith("job") else _path(where, field)
        raise ctx.error(field, _bare(exc)) from None
    return JobSpec(**fields, name=name)


def _parse_workload(
    ctx: _Context,
    value: Any,
    where: str,
    seed: int,
    issues: _Issues,
    *,
    allow_file: bool = True,
    names: Optional[tuple] = None,
) -> tuple[Optional[Workload], list[tuple[str, JobSpec]]]:
    """A workload section; returns the workload and (field path, job) of every job.

    ``names``: the scenario's category names (devices.category_names), applied to
    every requirement.
    """
    sources = _WORKLOAD_SOURCES if allow_file else tuple(s for s in _WORKLOAD_SOURCES if s != "file")
    kind, spec = ctx.source_of(value, where, {s: () for s in sources}, ("name",))
    name = ctx.text(spec["name"], f"{where}.name") if "name" in spec else None
    if kind == "file":
        path = ctx.file(spec["file"], f"{where}.file")
        doc, sub = _read_document(path)
        workload, jobs = _parse_workload(sub, doc, "", seed, issues, allow_file=False, names=names)
        if workload is not None and name:
            workload = Workload(workload.jobs, name=name)
        return workload, jobs
    if kind == "csv":
        csv_where = _path(where, "csv")
        path = ctx.file(spec["csv"], csv_where)
        try:
            jobs_read, lines, _ = _read_jobs(path, names)
        except SpecError as exc:
            raise ctx.rewrap(exc, csv_where) from None
        workload = Workload(tuple(jobs_read), name=name or path.stem)
        return workload, [(f"{csv_where}[line {line}]", job) for job, line in zip(jobs_read, lines)]
    if kind == "paper":
        if names is not None and len(names) < len(requirements.CATEGORY_NAMES):
            raise ctx.error(
                f"{where}.paper",
                f"the paper's workloads use categories 1-4, but devices.category_names names only {len(names)}",
            )
        paper = ctx.mapping(spec["paper"], f"{where}.paper", _PAPER_KEYS, ("mix",))
        mixes = paper_mixes()
        if paper["mix"] not in mixes:
            raise ctx.error(
                f"{where}.paper.mix",
                f"unknown paper workload {short_repr(paper['mix'])}; expected one of {_keys(sorted(mixes))}",
            )
        options = {}
        if "n_jobs" in paper:
            options["n_jobs"] = ctx.number(paper["n_jobs"], f"{where}.paper.n_jobs", minimum=1, integer=True)
        if "scale" in paper:
            options["scale"] = ctx.number(paper["scale"], f"{where}.paper.scale", above=0, maximum=1)
        if "mean_gap_s" in paper:
            options["mean_gap_s"] = ctx.number(paper["mean_gap_s"], f"{where}.paper.mean_gap_s", above=0)
        if "model_size_mb" in paper:
            options["model_size_mb"] = ctx.number(paper["model_size_mb"], f"{where}.paper.model_size_mb", minimum=0)
        rng = np.random.default_rng([seed, _WORKLOAD_STREAM])
        workload = generate_paper_workload(mixes[paper["mix"]], rng, **options)
        if names is not None:  # the paper's category k is shown by the scenario's k-th name
            workload = Workload(
                tuple(
                    dataclasses.replace(
                        job,
                        requirement={
                            "category": requirements.category_number(job.requirement),
                            "name": names[requirements.category_number(job.requirement) - 1],
                        },
                    )
                    for job in workload.jobs
                ),
                name=workload.name,
            )
        if name:
            workload = Workload(workload.jobs, name=name)
        return workload, [(f"{where}.paper", job) for job in workload.jobs]
    jobs_where = _path(where, "jobs")
    items = spec["jobs"]
    if not isinstance(items, list) or not items:
        raise ctx.error(jobs_where, f"expected a non-empty list of jobs, got {short_repr(items)}")
    jobs: list[tuple[str, JobSpec]] = []
    failed = False
    for i, item in enumerate(items):
        job = issues.run(_parse_job, ctx, item, f"{jobs_where}[{i}]", i, names)
        if job is _FAILED:
            failed = True
        else:
            jobs.append((f"{jobs_where}[{i}]", job))
    seen: dict[str, str] = {}
    for job_where, job in jobs:
        if job.name in seen:
            issues.run(
                _raise, ctx.error(f"{job_where}.name", f"duplicate job name {job.name!r} (also {seen[job.name]})")
            )
            failed = True
        seen.setdefault(job.name, job_where)
    if failed:
        return None, jobs
    return Workload(tuple(job for _, job in jobs), name=name or ctx.path.stem), jobs


def _raise(exc: Exception) -> None:
    raise exc


# ------------------------------------------------------------------ devices, trace


def _synthetic_attributes(ctx, value, where, population: DevicePopulation, seed: int) -> DevicePopulation:
    if value is False:
        return population
    if value is True:
        names = [n for n in _SYNTHETIC_ATTRIBUTES if n not in population.attributes]
    elif isinstance(value, list) and value:
        names = []
        for k, name in enumerate(value):
            if name not in _SYNTHETIC_ATTRIBUTES:
                raise ctx.error(
                    f"{where}[{k}]",
                    f"unknown synthetic attribute {short_repr(name)}; expected one of {_keys(_SYNTHETIC_ATTRIBUTES)}",
                )
            if name in population.attributes:
                raise ctx.error(f"{where}[{k}]", f"the devices already have the attribute {name!r}")
            names.append(name)
    else:
        raise ctx.error(
            where, f"expected true, false or a list of {_keys(_SYNTHETIC_ATTRIBUTES)}, got {short_repr(value)}"
        )
    if not names:
        return population
    synthetic = synthetic_population(len(population), np.random.default_rng([seed, _ATTRIBUTE_STREAM]))
    attributes = dict(population.attributes)
    attributes.update({name: synthetic.attributes[name] for name in names})
    return DevicePopulation(population.compute_factor, population.bandwidth_mbps, attributes, population.source)


def _read_file_trace(ctx, kind: str, spec: dict, n_devices: Optional[int]):
    """A trace from a csv or FedScale file; returns (trace, FedScale ids or None)."""
    where = f"trace.{kind}"
    path = ctx.file(spec[kind], where) if kind == "csv" else ctx.data_file(spec[kind], where)
    period = ctx.number(spec["period_s"], "trace.period_s", above=0) if "period_s" in spec else None
    chunk = ctx.number(spec["chunk_s"], "trace.chunk_s", above=0) if "chunk_s" in spec else 3600.0
    drop = spec.get("drop_after_period", False)
    if not isinstance(drop, bool):
        raise ctx.error("trace.drop_after_period", f"expected true or false, got {short_repr(drop)}")
    try:
        if kind == "csv":
            return read_trace_csv(
                path, period_s=period, n_devices=n_devices, chunk_s=chunk, drop_after_period=drop
            ), None
        imported = read_fedscale_availability(path, period_s=period, chunk_s=chunk, drop_after_period=drop)
        return imported.trace, imported.client_ids
    except SpecError as exc:
        raise ctx.rewrap(exc, where) from None


def _diurnal_trace(ctx, spec: dict, n_devices: int) -> DiurnalTrace:
    params = ctx.mapping(spec["diurnal"], "trace.diurnal", _DIURNAL_KEYS)
    options: dict[str, float] = {}
    checks = {
        "checkins_per_day": dict(above=0),
        "amplitude": dict(minimum=0, below=1),
        "peak_hour": dict(minimum=0, below=24),
        "window_median_s": dict(above=0),
        "window_log_sd": dict(minimum=0),
    }
    for key, bounds in checks.items():
        if key in params:
            options[key] = ctx.number(params[key], f"trace.diurnal.{key}", **bounds)
    options.setdefault("checkins_per_day", DEFAULT_CHECKINS_PER_DEVICE_PER_DAY * n_devices)
    if "chunk_s" in spec:
        options["chunk_s"] = ctx.number(spec["chunk_s"], "trace.chunk_s", above=0)
    try:
        return DiurnalTrace(n_devices=n_devices, **options)
    except SpecError as exc:
        raise ctx.rewrap(exc, "trace.diurnal") from None


def _category_names(ctx: _Context, doc: dict) -> Optional[tuple]:
    """``devices.category_names``, checked (None when absent or when devices is not a mapping)."""
    devices = doc.get("devices")
    if not isinstance(devices, dict) or "category_names" not in devices:
        return None
    try:
        return requirements.check_category_names(devices["category_names"], where="devices.category_names")
    except SpecError as exc:
        raise ctx.error(exc.where, _bare(exc)) from None


def _check_names_cover(ctx: _Context, names: tuple, population: DevicePopulation) -> None:
    masks = population.attributes.get(requirements.CATEGORY_ATTRIBUTE)
    if masks is None or len(masks) == 0:
        return
    highest = int(np.bitwise_or.reduce(np.asarray(masks).astype(np.int64))).bit_length()
    if highest > len(names):
        raise ctx.error(
            "devices.category_names",
            f"names {len(names)} categories, but the devices carry category {highest}; name every category 1-{highest}",
        )


def _build_pool(
    ctx: _Context, doc: dict, seed: int, names: Optional[tuple] = None
) -> tuple[DevicePopulation, CheckinTrace]:
    """The devices and trace sections."""
    if "devices" not in doc:
        raise ctx.error(None, "missing key 'devices' (the device population)")
    kind, spec = ctx.source_of(doc["devices"], "devices", _DEVICE_SOURCES, _DEVICE_COMMON)
    trace_spec = doc.get("trace")
    if trace_spec is not None:
        trace_kind, trace_spec = ctx.source_of(trace_spec, "trace", _TRACE_SOURCES, _TRACE_COMMON)
    else:
        trace_kind = None
    trace: Optional[CheckinTrace] = None
    where = f"devices.{kind}"

    if kind == "venn_client_table":
        if trace_kind is not None:
            raise ctx.error("trace", "devices from venn_client_table bring their own trace; leave 'trace' out")
        table = ctx.mapping(spec[kind], where, _VENN_TABLE_KEYS, ("table", "eligibility", "capacity"))
        files = {
            "table": ctx.file(table["table"], f"{where}.table"),
            **{key: ctx.data_file(table[key], f"{where}.{key}") for key in ("eligibility", "capacity")},
        }
        period = ctx.number(table.get("period_s", VENN_PERIOD_S), f"{where}.period_s", above=0)
        extension = ctx.number(
            table.get("online_extension_s", VENN_ONLINE_EXTENSION_S), f"{where}.online_extension_s", minimum=0
        )
        reference = (
            ctx.number(table["compute_reference"], f"{where}.compute_reference", above=0)
            if "compute_reference" in table
            else None
        )
        try:
            imported = read_venn_client_table(
                files["table"],
                files["eligibility"],
                files["capacity"],
                period_s=period,
                online_extension_s=extension,
                compute_reference=reference,
            )
        except SpecError as exc:
            raise ctx.rewrap(exc, where) from None
        population, trace = imported.population, imported.trace
    elif kind in ("synthetic", "csv"):
        if kind == "synthetic":
            params = ctx.mapping(spec[kind], where, _SYNTHETIC_KEYS, _SYNTHETIC_KEYS)
            n = ctx.number(params["n_devices"], f"{where}.n_devices", minimum=1, integer=True)
            population = synthetic_population(n, np.random.default_rng([seed, _POPULATION_STREAM]))
        else:
            path = ctx.file(spec[kind], where)
            try:
                population = (
                    read_devices_csv(path, columns=spec["columns"]) if "columns" in spec else read_devices_csv(path)
                )
            except SpecError as exc:
                if exc.where and exc.where.startswith("columns") and exc.source == str(path):
                    raise ctx.error(f"devices.{exc.where}", _bare(exc)) from None  # a mistake in the mapping
                raise ctx.rewrap(exc, where) from None
        if trace_kind in ("csv", "fedscale_behavior"):
            trace, _ = _read_file_trace(ctx, trace_kind, trace_spec, len(population))
    else:  # fedscale_capacity: sized by the trace
        path = ctx.data_file(spec[kind], where)
        match = spec.get("match", "order")
        if match not in ("order", "client_id"):
            raise ctx.error("devices.match", f"expected 'order' or 'client_id', got {short_repr(match)}")
        ids = None
        if trace_kind in ("csv", "fedscale_behavior"):
            trace, ids = _read_file_trace(ctx, trace_kind, trace_spec, None)
        try:
            if match == "client_id":
                if ids is None:
                    raise ctx.error(
                        "devices.match",
                        "match: client_id needs a 'fedscale_behavior' trace (its client ids pick the capacity entries)",
                    )
                population = read_fedscale_capacity(path, client_ids=ids)
            elif isinstance(trace, TableTrace):
                population = read_fedscale_capacity(path, n_devices=trace.n_devices)
            else:
                population = read_fedscale_capacity(path)
        except SpecError as exc:
            raise ctx.rewrap(exc, where) from None

    if "synthetic_attributes" in spec:
        population = _synthetic_attributes(
            ctx, spec["synthetic_attributes"], "devices.synthetic_attributes", population, seed
        )
    if names is not None:
        _check_names_cover(ctx, names, population)
    if trace is None:
        trace = _diurnal_trace(ctx, trace_spec or {"diurnal": {}}, len(population))
    if isinstance(trace, TableTrace) and trace.n_devices > len(population):
        raise ctx.error(
            "trace",
            f"the trace names device {trace.n_devices - 1} but the population has only {len(population)} devices",
        )
    return population, trace


# ------------------------------------------------------------------------ settings


def _parse_settings(ctx: _Context, doc: dict) -> dict:
    settings: dict[str, Any] = {}
    if "speed_tiers" in doc:
        settings["speed_tiers"] = ctx.number(doc["speed_tiers"], "speed_tiers", minimum=1, integer=True)
    if "task_noise_log_sd" in doc:
        settings["task_noise_log_sd"] = ctx.number(doc["task_noise_log_sd"], "task_noise_log_sd", minimum=0)
    if "horizon_s" in doc:
        settings["horizon_s"] = ctx.number(doc["horizon_s"], "horizon_s", above=0, allow_none=True)
    if "max_sim_days" in doc:
        settings["max_sim_days"] = ctx.number(doc["max_sim_days"], "max_sim_days", above=0)
    if "round_deadline_from" in doc:
        if doc["round_deadline_from"] not in DEADLINE_ORIGINS:
            raise ctx.error(
                "round_deadline_from",
                f"expected one of {', '.join(DEADLINE_ORIGINS)}, got {short_repr(doc['round_deadline_from'])}",
            )
        settings["round_deadline_from"] = doc["round_deadline_from"]
    if "name" in doc:
        settings["name"] = ctx.text(doc["name"], "name")
    if "description" in doc:
        if not isinstance(doc["description"], str):
            raise ctx.error("description", f"expected a string, got {short_repr(doc['description'])}")
        settings["description"] = doc["description"]
    return settings


def _check_requirements(
    ctx: _Context, population: DevicePopulation, trace: CheckinTrace, jobs: list[tuple[str, JobSpec]], issues: _Issues
) -> None:
    seen = np.zeros(len(population), dtype=bool)
    if isinstance(trace, TableTrace):
        seen[np.asarray(trace.device)] = True
    else:
        seen[:] = True
    cache: dict[str, Any] = {}
    for where, job in jobs:

        def check(where=where, job=job) -> None:
            key = requirements.key(job.requirement)
            if key not in cache:
                try:
                    eligible = requirements.evaluate(job.requirement, population.attributes, len(population))
                except SpecError as exc:
                    cache[key] = exc
                else:
                    cache[key] = bool((eligible & seen).any())
            result = cache[key]
            if isinstance(result, SpecError):
                raise ctx.error(f"{where}.requirement", _bare(result))
            if not result:
                raise ctx.error(
                    f"{where}.requirement",
                    f"no device that checks in satisfies {requirements.label(job.requirement)}: "
                    f"job {job.name!r} could never run",
                )

        issues.run(check)


# --------------------------------------------------------------------------- API


def _build(
    path: str | Path, seed: int, options: Mapping[str, Any], issues: _Issues, trust_pickles: bool = False
) -> Optional[Scenario]:
    doc, ctx = _read_document(path, trust_pickles)
    for key in options:
        if key not in SCENARIO_KEYS:
            raise ctx.error(None, f"unknown option {key!r}; options override the top-level keys {_keys(SCENARIO_KEYS)}")
    doc = {**doc, **options}
    for key in doc:
        if key not in SCENARIO_KEYS:
            issues.run(_raise, ctx.error(key, f"unknown key {key!r}; allowed keys: {_keys(SCENARIO_KEYS)}"))
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ctx.error(None, f"seed must be an integer, got {seed!r}")
    settings = issues.run(_parse_settings, ctx, doc)
    names = issues.run(_category_names, ctx, doc)
    names = None if names is _FAILED else names
    if "workload" in doc:
        parsed = issues.run(_parse_workload, ctx, doc["workload"], "workload", int(seed), issues, names=names)
    else:
        parsed = issues.run(_raise, ctx.error(None, "missing key 'workload' (the jobs)"))
    pool = issues.run(_build_pool, ctx, doc, int(seed), names)
    if issues.items:
        return None
    workload, jobs = parsed
    population, trace = pool
    issues.run(_check_requirements, ctx, population, trace, jobs, issues)
    if issues.items:
        return None
    settings.setdefault("name", f"file/{ctx.path.stem}")
    settings.setdefault("description", f"scenario file {ctx.source}")
    try:
        return Scenario(seed=int(seed), population=population, trace=trace, workload=workload, **settings)
    except SpecError as exc:
        issues.run(_raise, ctx.rewrap(exc, None))
        return None


def load_scenario_file(
    path: str | Path, seed: int = 0, *, trust_pickles: Optional[bool] = None, **options: Any
) -> Scenario:
    """Build the scenario a YAML/JSON file describes (schema: this module's docstring).

    ``options`` override top-level keys (``horizon_s=3600``, ``speed_tiers=1``,
    ``name=...``). Raises :class:`SpecError` naming the file and field path.
    Pickled data files (which run code when loaded) load only with ``trust_pickles=True``
    (default: ``VENN_GYM_TRUST_PICKLES=1`` in the environment, which ``--trust-pickles`` sets).
    """
    return _build(path, seed, options, _Issues(collect=False), _trusting(trust_pickles))


def load_workload_file(path: str | Path, seed: int = 0, *, category_names: Optional[Any] = None) -> Workload:
    """A workload file: ``jobs: [...]``, ``paper: {...}`` or ``csv: jobs.csv``, with an optional ``name``.

    ``seed`` draws the jobs of a ``paper`` workload (explicit job lists ignore it).
    ``category_names`` names the categories as a scenario's ``devices.category_names``.
    """
    doc, ctx = _read_document(path)
    names = requirements.check_category_names(category_names) if category_names is not None else None
    workload, _ = _parse_workload(ctx, doc, "", seed, _Issues(collect=False), allow_file=False, names=names)
    return workload


def validate_file(path: str | Path, trust_pickles: Optional[bool] = None) -> list[str]:
    """Every problem found in a scenario or workload file (empty if it loads).

    A file whose top-level keys are only ``jobs`` / ``paper`` / ``name`` is read as
    a workload file, anything else as a scenario. Problems in independent
    sections (settings, each job, devices and trace) are all reported; checks
    that need the earlier parts (requirements against the devices) run once
    those are fine.
    """
    try:
        doc, ctx = _read_document(path)
    except SpecError as exc:
        return [str(exc)]
    issues = _Issues(collect=True)
    try:
        if set(doc) <= {"jobs", "paper", "csv", "name"} and set(doc) & {"jobs", "paper", "csv"}:
            _parse_workload(ctx, doc, "", 0, issues, allow_file=False)
        else:
            _build(path, 0, {}, issues, _trusting(trust_pickles))
    except SpecError as exc:
        issues.items.append(str(exc))
    return issues.items


def _registered_factory(
    path: Path, name: str, trust_pickles: Optional[bool], seed: int = 0, **options: Any
) -> Scenario:
    options.setdefault("name", name)
    return load_scenario_file(path, seed=seed, trust_pickles=trust_pickles, **options)


def register_scenario_file(
    path: str | Path,
    name: Optional[str] = None,
    *,
    overwrite: bool = False,
    check: bool = True,
    trust_pickles: Optional[bool] = None,
) -> str:
    """Register a scenario file so that ``make_scenario(name, seed)`` builds it; returns the name.

    The name is ``name`` or the file's ``name`` key and must be versioned
    (``mylab/campus-v0``). With ``check`` (default) the file is loaded once now
    (seed 0) so that its errors show at registration. The file is read again at
    every ``make_scenario`` call (edit it and you change the scenario: give it a
    new version instead). ``trust_pickles``: as :func:`load_scenario_file`.
    """
    path = Path(path).expanduser().resolve()
    doc, ctx = _read_document(path)
    registered = name if name is not None else doc.get("name")
    if registered is None:
        raise ctx.error("name", "the file has no 'name' and none was given; expected e.g. 'mylab/campus-v0'")
    registered = ctx.text(registered, "name")
    if check:
        load_scenario_file(path, seed=0, name=registered, trust_pickles=trust_pickles)
    description = doc.get("description") if isinstance(doc.get("description"), str) else ""
    register_scenario(
        registered,
        functools.partial(_registered_factory, path, registered, trust_pickles),
        description or f"scenario file {path}",
        overwrite=overwrite,
        source=f"file {path}",
    )
    return registered


SCENARIO_PATH_VARIABLE = "VENN_GYM_SCENARIO_PATH"
ENTRY_POINT_GROUP = "venn_gym.scenarios"
_discovered = False
discovery_problems: list[str] = []  # files or entry points that could not be registered, with why


def scenario_folders() -> list[Path]:
    """The folders searched for scenario files: ``$VENN_GYM_SCENARIO_PATH`` (os.pathsep-separated),
    else ``$XDG_CONFIG_HOME/venn_gym/scenarios`` (``~/.config/venn_gym/scenarios``)."""
    listed = os.environ.get(SCENARIO_PATH_VARIABLE)
    if listed is not None:
        return [Path(p).expanduser() for p in listed.split(os.pathsep) if p]
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return [config / "venn_gym" / "scenarios"]


def discover_scenarios(refresh: bool = False) -> list[str]:
    """Register the scenario files of :func:`scenario_folders` (each under its ``name`` key) and
    run every ``venn_gym.scenarios`` entry point (a function that registers a package's scenarios).

    Done once per process (again with ``refresh``). A file or entry point that fails is skipped and
    its problem kept in ``discovery_problems`` (``venn-gym scenarios list`` prints them), so one
    broken file cannot hide the others. Returns the names registered by this call."""
    global _discovered
    if _discovered and not refresh:
        return []
    _discovered = True
    discovery_problems.clear()

    before = set(registered_names())
    for folder in scenario_folders():
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix not in SUFFIXES:
                continue
            try:
                register_scenario_file(path, check=False, overwrite=refresh)
            except VennGymError as exc:
                discovery_problems.append(f"{path}: {exc}")
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        earlier = set(registered_names())
        try:
            entry.load()()
        except Exception as exc:  # a broken package must not hide the other scenarios
            discovery_problems.append(f"entry point {entry.name} ({entry.value}): {type(exc).__name__}: {exc}")
        mark_source(set(registered_names()) - earlier, f"entry point {entry.name} ({entry.value})")
    return sorted(set(registered_names()) - before)
