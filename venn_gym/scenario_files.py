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
    device_once_per_round: false     # true: a device serves each round at most once

Details:

- **Paths** are relative to the folder of the file that names them.
- **The schema** of these files is published as JSON Schema
  (:func:`venn_gym.scenario_schema.scenario_file_schema`, shipped as
  ``venn_gym/data/scenario.schema.json``): every key with its type, allowed
  values, default and description, for editors to check and complete files.
  The loader checks the structure with it, then what a schema cannot say (files
  exist, requirements match devices, size limits).
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
from .jobs import JobSpec, Workload, comm_s_to_model_size_mb, generate_paper_workload, paper_mixes
from .registry import mark_source, register_scenario, registered_names
from .scenario import Scenario, devices_that_check_in, never_runs_text, servable_devices
from .scenario_schema import SCHEMA, SYNTHETIC_ATTRIBUTES
from .scenario_schema import problems as schema_problems
from .seeds import ATTRIBUTE_STREAM, POPULATION_STREAM, WORKLOAD_STREAM, stream
from .trace import CheckinTrace, DiurnalTrace, TableTrace

__all__ = [
    "load_scenario_file",
    "load_workload_file",
    "validate_file",
    "register_scenario_file",
    "SCENARIO_KEYS",
]

SUFFIXES = (".yaml", ".yml", ".json")
SCENARIO_KEYS = tuple(SCHEMA["properties"])
_SETTINGS = tuple(key for key in SCENARIO_KEYS if key not in ("devices", "trace", "workload"))
DEFINITIONS = SCHEMA["definitions"]
# Density of the full-scale paper scenarios: 300 k check-ins a day from 100 k devices.
DEFAULT_CHECKINS_PER_DEVICE_PER_DAY = 3.0


_FAILED = object()
_CAST = {"integer": int, "number": float}


def _typed(value: Mapping, properties: Mapping) -> dict:
    """A checked mapping with its numbers as the schema types them: int for integers, float for numbers."""
    out = {}
    for key, item in value.items():
        kind = properties[key].get("type")
        kind = kind[0] if isinstance(kind, list) else kind
        out[key] = _CAST[kind](item) if kind in _CAST and item is not None else item
    return out


# ------------------------------------------------------------------------ reading


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Safe YAML with duplicate keys rejected and ``1e5`` read as a number; parsed by libyaml where
    PyYAML was built with it (about ten times faster on a 10,000-job file), else in Python."""


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
    if _expanded_size(doc, MAX_DOCUMENT_VALUES) > MAX_DOCUMENT_VALUES:
        raise SpecError(
            f"the document expands to more than {MAX_DOCUMENT_VALUES:,} values (YAML aliases repeating "
            "one another?); a scenario file is far smaller",
            source=source,
        )
    return doc, _Context(path, trust_pickles)


MAX_DOCUMENT_VALUES = 1_000_000  # a 10,000-job workload is about 100,000


def _expanded_size(value: Any, limit: int) -> int:
    """Values in a loaded document, counting a YAML alias each time it is used (so a 'billion
    laughs' file, whose aliases nest, is caught); stops counting past ``limit``."""
    count, stack = 0, [value]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


class _Context:
    """The file being read: builds errors that name it, resolves relative paths, and keeps where
    its schema problems are (the checks that need a section run only once the section is sound)."""

    def __init__(self, path: Path, trust_pickles: bool = False):
        self.path = path
        self.source = str(path)
        self.base = path.parent
        self.trust_pickles = trust_pickles
        self.problems: list[tuple[str, str]] = []  # (field path, message) found by the schema
        self.reported: set[int] = set()

    def error(self, where: Optional[str], message: str) -> SpecError:
        return SpecError(message, source=self.source, where=where or None)

    def rewrap(self, exc: SpecError, where: Optional[str]) -> SpecError:
        """An error from a library call or a data file, named under this file and field."""
        if exc.source == self.source:
            return exc
        return SpecError(str(exc), source=self.source, where=where)

    def check(self, value: Any, definition: Optional[str] = None) -> None:
        """Check the document against the schema (venn_gym.scenario_schema); :meth:`report` tells its problems."""
        self.problems, self.reported = schema_problems(value, definition), set()

    def report(self, issues: "_Issues", where: str = "", but: tuple = ()) -> bool:
        """Report the schema's problems at or under ``where`` (not under the paths ``but``; ``x[``: the items
        of list ``x``) that were not reported yet, section by section; whether the schema found none there."""

        def under(path: str, prefix: str) -> bool:
            below = prefix if prefix.endswith("[") else (prefix + ".", prefix + "[")
            return not prefix or path == prefix or path.startswith(below)

        found = [
            k
            for k, (path, _) in enumerate(self.problems)
            if under(path, where) and not any(under(path, b) for b in but)
        ]
        for k in found:
            if k not in self.reported:
                self.reported.add(k)
                issues.run(_raise, self.error(*self.problems[k]))
        return not found

    def file(self, value: str, where: str) -> Path:
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = self.base / path
        if not path.is_file():
            raise self.error(where, f"file not found: {path}")
        return path

    def data_file(self, value: str, where: str) -> Path:
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


def _parse_job(ctx: _Context, spec: dict, where: str, index: int, names: Optional[tuple] = None) -> JobSpec:
    fields = _typed(spec, DEFINITIONS["job"]["properties"])
    fields["requirement"] = _named_requirement(ctx, spec["requirement"], f"{where}.requirement", names)
    if "comm_s" in fields:
        fields["model_size_mb"] = comm_s_to_model_size_mb(fields.pop("comm_s"))
    name = fields.pop("name", f"job{index}")
    try:
        # Checked without a name first so that its error paths read 'job.<field>'.
        JobSpec(**fields)
    except SpecError as exc:
        field = exc.where or "job.requirement"  # category errors come without a field
        field = where + field[3:] if field.startswith("job") else _path(where, field)
        raise ctx.error(field, _bare(exc)) from None
    return JobSpec(**fields, name=name)


def _workload_file(
    path: str | Path, seed: int, issues: _Issues, names: Optional[tuple] = None
) -> tuple[Optional[Workload], list[tuple[str, JobSpec]]]:
    """A workload file (``jobs``, ``paper`` or ``csv``, and an optional ``name``), checked."""
    doc, ctx = _read_document(path)
    ctx.check(doc, "workload_file")
    parsed = (
        _parse_workload(ctx, doc, "", seed, issues, names=names) if ctx.report(issues, "", but=("jobs[",)) else None
    )
    ctx.report(issues)  # the jobs' problems, if the workload was not sound
    return parsed or (None, [])


def _parse_workload(
    ctx: _Context, spec: dict, where: str, seed: int, issues: _Issues, *, names: Optional[tuple] = None
) -> tuple[Optional[Workload], list[tuple[str, JobSpec]]]:
    """A workload section whose schema problems (if any) are in its jobs; returns the workload (None if
    a job failed) and (field path, job) of every job. ``names``: the scenario's category names
    (devices.category_names), applied to every requirement."""
    name = spec.get("name")
    if "file" in spec:
        workload, jobs = _workload_file(ctx.file(spec["file"], f"{where}.file"), seed, issues, names)
        if workload is not None and name:
            workload = Workload(workload.jobs, name=name)
        return workload, jobs
    if "csv" in spec:
        csv_where = _path(where, "csv")
        path = ctx.file(spec["csv"], csv_where)
        try:
            jobs_read, lines, _ = _read_jobs(path, names)
        except SpecError as exc:
            raise ctx.rewrap(exc, csv_where) from None
        workload = Workload(tuple(jobs_read), name=name or path.stem)
        return workload, [(f"{csv_where}[line {line}]", job) for job, line in zip(jobs_read, lines)]
    if "paper" in spec:
        if names is not None and len(names) < len(requirements.CATEGORY_NAMES):
            raise ctx.error(
                f"{where}.paper",
                f"the paper's workloads use categories 1-4, but devices.category_names names only {len(names)}",
            )
        options = _typed(spec["paper"], DEFINITIONS["paper"]["properties"])
        rng = stream(seed, WORKLOAD_STREAM)
        workload = generate_paper_workload(paper_mixes()[options.pop("mix")], rng, **options)
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
    jobs: list[tuple[str, JobSpec]] = []
    failed = False
    for i, item in enumerate(spec["jobs"]):
        job_where = f"{jobs_where}[{i}]"
        job = issues.run(_parse_job, ctx, item, job_where, i, names) if ctx.report(issues, job_where) else _FAILED
        if job is _FAILED:
            failed = True
        else:
            jobs.append((job_where, job))
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
        names = [n for n in SYNTHETIC_ATTRIBUTES if n not in population.attributes]
    else:
        for k, name in enumerate(value):
            if name in population.attributes:
                raise ctx.error(f"{where}[{k}]", f"the devices already have the attribute {name!r}")
        names = list(value)
    if not names:
        return population
    synthetic = synthetic_population(len(population), stream(seed, ATTRIBUTE_STREAM))
    attributes = dict(population.attributes)
    attributes.update({name: synthetic.attributes[name] for name in names})
    return DevicePopulation(population.compute_factor, population.bandwidth_mbps, attributes, population.source)


def _read_file_trace(ctx, kind: str, spec: dict, n_devices: Optional[int]):
    """A trace from a csv or FedScale file; returns (trace, FedScale ids or None)."""
    where = f"trace.{kind}"
    path = ctx.file(spec[kind], where) if kind == "csv" else ctx.data_file(spec[kind], where)
    period = float(spec["period_s"]) if "period_s" in spec else None
    chunk = float(spec.get("chunk_s", 3600.0))
    drop = spec.get("drop_after_period", False)
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
    options = _typed(spec["diurnal"], DEFINITIONS["diurnal"]["properties"])
    options.setdefault("checkins_per_day", DEFAULT_CHECKINS_PER_DEVICE_PER_DAY * n_devices)
    if "chunk_s" in spec:
        options["chunk_s"] = float(spec["chunk_s"])
    try:
        return DiurnalTrace(n_devices=n_devices, **options)
    except SpecError as exc:
        raise ctx.rewrap(exc, "trace.diurnal") from None


def _category_names(ctx: _Context, doc: dict) -> Optional[tuple]:
    """``devices.category_names``, checked (None when absent)."""
    devices = doc.get("devices")
    if not isinstance(devices, dict) or "category_names" not in devices:
        return None
    try:
        return requirements.check_category_names(doc["devices"]["category_names"], where="devices.category_names")
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
    """The devices and trace sections (sound by the schema)."""
    spec = doc["devices"]
    kind = next(key for key in ("synthetic", "csv", "fedscale_capacity", "venn_client_table") if key in spec)
    trace_spec = doc.get("trace")
    trace_kind = (
        next(key for key in ("diurnal", "csv", "fedscale_behavior") if key in trace_spec) if trace_spec else None
    )
    trace: Optional[CheckinTrace] = None
    where = f"devices.{kind}"

    if kind == "venn_client_table":
        if trace_kind is not None:
            raise ctx.error("trace", "devices from venn_client_table bring their own trace; leave 'trace' out")
        table = _typed(spec[kind], DEFINITIONS["venn_client_table"]["properties"])
        files = {
            "table": ctx.file(table["table"], f"{where}.table"),
            **{key: ctx.data_file(table[key], f"{where}.{key}") for key in ("eligibility", "capacity")},
        }
        try:
            imported = read_venn_client_table(
                files["table"],
                files["eligibility"],
                files["capacity"],
                period_s=table.get("period_s", VENN_PERIOD_S),
                online_extension_s=table.get("online_extension_s", VENN_ONLINE_EXTENSION_S),
                compute_reference=table.get("compute_reference"),
            )
        except SpecError as exc:
            raise ctx.rewrap(exc, where) from None
        population, trace = imported.population, imported.trace
    elif kind in ("synthetic", "csv"):
        if kind == "synthetic":
            n = int(spec[kind]["n_devices"])
            population = synthetic_population(n, stream(seed, POPULATION_STREAM))
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
        ids = None
        if trace_kind in ("csv", "fedscale_behavior"):
            trace, ids = _read_file_trace(ctx, trace_kind, trace_spec, None)
        try:
            if spec.get("match") == "client_id":
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


def _check_requirements(
    ctx: _Context, population: DevicePopulation, trace: CheckinTrace, jobs: list[tuple[str, JobSpec]], issues: _Issues
) -> None:
    checking_in = devices_that_check_in(trace, len(population))
    cache: dict[str, Any] = {}
    for where, job in jobs:

        def check(where=where, job=job) -> None:
            key = requirements.key(job.requirement)
            if key not in cache:
                try:
                    cache[key] = bool(servable_devices(job.requirement, population, checking_in).any())
                except SpecError as exc:
                    cache[key] = exc
            result = cache[key]
            if isinstance(result, SpecError):
                raise ctx.error(f"{where}.requirement", _bare(result))
            if not result:
                raise ctx.error(f"{where}.requirement", never_runs_text(job))

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
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ctx.error(None, f"seed must be an integer, got {seed!r}")
    ctx.check(doc)
    ctx.report(issues, "", but=("devices", "trace", "workload"))  # the settings and unknown keys
    names = issues.run(_category_names, ctx, doc) if ctx.report(issues, "devices.category_names") else _FAILED
    names = None if names is _FAILED else names
    parsed = pool = _FAILED
    if "workload" in doc and ctx.report(issues, "workload", but=("workload.jobs[",)):
        parsed = issues.run(_parse_workload, ctx, doc["workload"], "workload", int(seed), issues, names=names)
    if ctx.report(issues, "devices") & ctx.report(issues, "trace") and "devices" in doc:
        pool = issues.run(_build_pool, ctx, doc, int(seed), names)
    ctx.report(issues)  # the jobs' problems, if the workload was not sound
    if issues.items:
        return None
    workload, jobs = parsed
    population, trace = pool
    issues.run(_check_requirements, ctx, population, trace, jobs, issues)
    if issues.items:
        return None
    settings = _typed({key: doc[key] for key in _SETTINGS if key in doc}, SCHEMA["properties"])
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
    """Build the scenario a YAML/JSON file describes (schema: this module's docstring, and
    :func:`venn_gym.scenario_schema.scenario_file_schema`).

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
    names = requirements.check_category_names(category_names) if category_names is not None else None
    workload, _ = _workload_file(path, seed, _Issues(collect=False), names)
    return workload


def validate_file(path: str | Path, trust_pickles: Optional[bool] = None) -> list[str]:
    """Every problem found in a scenario or workload file (empty if it loads).

    A file whose top-level keys are only ``jobs`` / ``paper`` / ``csv`` / ``name`` is read as
    a workload file, anything else as a scenario. Every problem the schema finds is reported, and
    those of the checks that need no more than sound sections (each job, the devices and trace);
    checks that need the earlier parts (requirements against the devices) run once those are fine.
    """
    try:
        doc, ctx = _read_document(path)
    except SpecError as exc:
        return [str(exc)]
    issues = _Issues(collect=True)
    try:
        if set(doc) <= {"jobs", "paper", "csv", "name"} and set(doc) & {"jobs", "paper", "csv"}:
            _workload_file(ctx.path, 0, issues)
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
    if not isinstance(registered, str) or not registered.strip():
        raise ctx.error("name", f"expected a non-empty string, got {short_repr(registered)}")
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
