"""The scenario-file format as JSON Schema: one description that checks the files and that editors use.

:func:`scenario_file_schema` is the schema (draft-07: every key a scenario file takes, with its
type, allowed values, default and a one-line description); ``venn_gym/data/scenario.schema.json``
is the same schema written out, for editors (``# yaml-language-server: $schema=...`` in a YAML
file, or an editor's schema association). Regenerate it after a change here with
``python -m venn_gym.scenario_schema venn_gym/data/scenario.schema.json``.

:func:`problems` checks a document with ``jsonschema`` and words each problem as the rest of
venn_gym does: the field path, what is wrong and what is allowed. Two parts of the published
schema are only described here and checked where the Python API checks them too, with messages
that know more: requirements (:mod:`venn_gym.requirements`, which knows the scenario's category
names) and device column mappings (:func:`venn_gym.importers.map_device_columns`, which knows
the table). What a schema cannot say (files exist, requirements match devices, size limits) is
checked by :mod:`venn_gym.scenario_files`.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
import math
import sys
from collections import defaultdict
from typing import Any, Iterator, Optional

import jsonschema

from .errors import short_repr
from .importers import VENN_ONLINE_EXTENSION_S, VENN_PERIOD_S
from .jobs import ASYNC, DEADLINE_ORIGINS, SYNC, JobSpec, generate_paper_workload, paper_mixes
from .requirements import CATEGORY_NAMES, COMPARISONS, MAX_CATEGORIES
from .scenario import Scenario
from .trace import DiurnalTrace

__all__ = ["scenario_file_schema", "scenario_schema_text", "problems", "SYNTHETIC_ATTRIBUTES"]

SYNTHETIC_ATTRIBUTES = ("categories", "ram_gb", "os_version", "cpu_score")
CHECKED_ELSEWHERE = ("requirement", "columns")  # see the module docstring
_NO_DEFAULT = object()


def _defaults(of: Any) -> dict:
    """The defaults of a dataclass's fields or a function's keyword arguments: the values a key left out gets."""
    if dataclasses.is_dataclass(of):
        return {f.name: f.default for f in dataclasses.fields(of) if f.default is not dataclasses.MISSING}
    return {p.name: p.default for p in inspect.signature(of).parameters.values() if p.default is not p.empty}


_JOB, _SCENARIO, _DIURNAL, _PAPER = (_defaults(x) for x in (JobSpec, Scenario, DiurnalTrace, generate_paper_workload))
_BOUNDS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}


def _field(schema: dict, description: str, default: Any = _NO_DEFAULT) -> dict:
    schema["description"] = description
    if default is not _NO_DEFAULT:
        schema["default"] = default
    return schema


def _number(description: str, default: Any = _NO_DEFAULT, *, integer: bool = False, null: bool = False, **bounds):
    kind = "integer" if integer else "number"
    schema = {"type": [kind, "null"] if null else kind, **{_BOUNDS[k]: v for k, v in bounds.items()}}
    return _field(schema, description, default)


def _text(description: str) -> dict:
    return _field({"type": "string", "pattern": r"\S"}, description)


def _path(description: str) -> dict:
    return _field(
        {"type": "string", "pattern": r"\S", "title": "a file path"},
        description + " (relative paths: to this file's folder)",
    )


def _choice(values, description: str, default: Any = _NO_DEFAULT) -> dict:
    return _field({"enum": list(values)}, description, default)


def _mapping(properties: dict, required=(), description: Optional[str] = None, **more) -> dict:
    schema = {"type": "object", "additionalProperties": False, "required": list(required), "properties": properties}
    if not required:
        del schema["required"]
    schema.update(more)
    return schema if description is None else _field(schema, description)


def _sources(description: str, sources: dict, common: dict) -> dict:
    """A section with exactly one source key (``devices``, ``trace``, ``workload``): one branch per source,
    each requiring its key; the key names the branch in error messages."""
    branches = [
        _mapping({key: value, **extra, **common}, [key], description=doc)
        for key, (value, extra, doc) in sources.items()
    ]
    return _field({"oneOf": branches}, description)


def _ref(name: str) -> dict:
    return {"$ref": f"#/definitions/{name}"}


_REQUIREMENT = {
    "description": "which devices may run the job (venn_gym.requirements)",
    "anyOf": [
        _field(
            {"type": "string", "examples": [*CATEGORY_NAMES, "any_device"]},
            "a category name (the paper's, or devices.category_names) or any_device (every device)",
        ),
        _number("a category number (1-4, or 1..N with devices.category_names)", integer=True, ge=1, le=MAX_CATEGORIES),
        _mapping(
            {
                "attr": _text("a device attribute (ram_gb, os_version, cpu_score, a column of the devices csv, ...)"),
                "op": _choice(sorted(COMPARISONS), "the comparison"),
                "value": _number("the number the attribute is compared with"),
            },
            ["attr", "op", "value"],
            "a comparison on a device attribute",
        ),
        _mapping(
            {"all": _field({"type": "array", "minItems": 1, "items": _ref("requirement")}, "every one of these")},
            ["all"],
            "devices that satisfy every requirement listed",
        ),
        _mapping(
            {"any": _field({"type": "array", "minItems": 1, "items": _ref("requirement")}, "at least one of these")},
            ["any"],
            "devices that satisfy at least one requirement listed",
        ),
        _mapping({"not": _ref("requirement")}, ["not"], "devices that do not satisfy the requirement"),
        _mapping(
            {
                "category": _number("the category number", integer=True, ge=1, le=MAX_CATEGORIES),
                "name": _text("the name results show"),
            },
            ["category"],
            "a category by number, shown by a name",
        ),
    ],
}

_JOB_SCHEMA = _mapping(
    {
        "arrival_s": _number("when the job is submitted, seconds from the start", ge=0),
        "requirement": _ref("requirement"),
        "participants": _number("devices a round asks for (async: devices kept busy)", integer=True, ge=1),
        "rounds": _number("rounds to run", integer=True, ge=1),
        "deadline_s": _number("seconds a round may take (see round_deadline_from)", gt=0),
        "quorum": _number("share of participants whose results complete a round", _JOB["quorum"], gt=0, le=1),
        "workload_s": _number(
            "seconds of computation per task on a device of compute_factor 1", _JOB["workload_s"], ge=0
        ),
        "model_size_mb": _number("model size in MB, sent to and from each device", _JOB["model_size_mb"], ge=0),
        "comm_s": _number(
            "instead of model_size_mb: the Venn authors' one-way transfer seconds at 13.736 Mbit/s "
            "(model_size_mb = comm_s * 13.736 / 8)",
            ge=0,
        ),
        "mode": _choice((SYNC, ASYNC), "synchronous rounds, or asynchronous (buffered) aggregation", _JOB["mode"]),
        "buffer_size": _number("async only: results per round", integer=True, ge=1),
        "name": _text("the job's name, unique in the workload (default: job<i>)"),
    },
    ["arrival_s", "requirement", "participants", "rounds", "deadline_s"],
    "one job",
    **{"not": {"type": "object", "required": ["model_size_mb", "comm_s"]}},
)

_PAPER_SCHEMA = _mapping(
    {
        "mix": _choice(sorted(paper_mixes()), "the paper's workload mix"),
        "n_jobs": _number("jobs to draw", _PAPER["n_jobs"], integer=True, ge=1),
        "scale": _number(
            "shrinks participants, rounds and arrival gaps (not the devices)", _PAPER["scale"], gt=0, le=1
        ),
        "mean_gap_s": _number("mean seconds between arrivals (before scale)", _PAPER["mean_gap_s"], gt=0),
        "model_size_mb": _number("every job's model size in MB", _PAPER["model_size_mb"], ge=0),
    },
    ["mix"],
    "jobs drawn from the paper's templates with the scenario's seed",
)


def _workload(with_file: bool) -> dict:
    sources = {
        "jobs": (
            _field(
                {"type": "array", "minItems": 1, "items": _ref("job"), "title": "a non-empty list of jobs"}, "the jobs"
            ),
            {},
            "a list of jobs",
        ),
        "paper": (_ref("paper"), {}, "the paper's workload generator"),
        "csv": (
            _path("a job-list CSV, one job per row (venn_gym.importers.read_jobs_csv)"),
            {},
            "a job-list CSV",
        ),
    }
    if with_file:
        sources["file"] = (_path("a workload file (jobs, paper or csv, and an optional name)"), {}, "a workload file")
    return _sources(
        "the jobs: exactly one of " + ", ".join(sources),
        sources,
        {"name": _text("the workload's name (default: the file's stem)")},
    )


_TRACE_FILE = {
    "period_s": _number("the table covers [0, period_s) and repeats (default: its last end)", gt=0),
    "drop_after_period": _field(
        {"type": "boolean"}, "leave out rows starting at or after period_s instead of refusing them", False
    ),
}
_DEVICES_COMMON = {
    "synthetic_attributes": _field(
        {
            "anyOf": [
                {"type": "boolean"},
                {"type": "array", "minItems": 1, "items": _choice(SYNTHETIC_ATTRIBUTES, "a synthetic attribute")},
            ],
            "title": f"true, false or a list of {', '.join(SYNTHETIC_ATTRIBUTES)}",
        },
        "add the synthetic population's attributes the devices lack (true: all of them)",
        False,
    ),
    "category_names": _field(
        {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "string",
                "pattern": r"^\S([\s\S]*\S)?$",
                "title": "a non-empty name without surrounding spaces",
            },
            "title": "a non-empty list of category names",
        },
        f"names of categories 1..N (N <= {MAX_CATEGORIES}); requirements then use these names",
    ),
}

_DEFINITIONS = {
    "devices": _sources(
        "the device population: exactly one of synthetic, csv, fedscale_capacity, venn_client_table",
        {
            "synthetic": (_ref("synthetic"), {}, "the calibrated synthetic population"),
            "csv": (
                _path("a devices CSV (device,compute_factor,bandwidth_mbps,<attributes>), or any table with columns"),
                {"columns": _ref("columns")},
                "a device table",
            ),
            "fedscale_capacity": (
                _path("a FedScale client_device_capacity file (JSON, or a trusted pickle)"),
                {
                    "match": _choice(
                        ("order", "client_id"),
                        "order: device i takes entry i mod N; client_id: the entry of the trace's client i",
                        "order",
                    )
                },
                "FedScale device capacities",
            ),
            "venn_client_table": (_ref("venn_client_table"), {}, "the Venn authors' client table (devices and trace)"),
        },
        _DEVICES_COMMON,
    ),
    "synthetic": _mapping(
        {"n_devices": _number("devices in the population", integer=True, ge=1)}, ["n_devices"], "synthetic devices"
    ),
    "columns": _field(
        {
            "type": "object",
            "required": ["compute_factor", "bandwidth_mbps"],
            "additionalProperties": _ref("column_source"),
        },
        "venn_gym field -> where its values come from (venn_gym.importers.map_device_columns); "
        "fields other than compute_factor and bandwidth_mbps are device attributes",
    ),
    "column_source": {
        "description": "a column name, a constant, {value: ...} or {from: column, scale, relative_to, default}",
        "anyOf": [
            _field({"type": "string"}, "a column, as it is"),
            _number("the same value for every device"),
            _mapping({"value": _number("the same value for every device")}, ["value"]),
            _mapping(
                {
                    "from": _text("the column"),
                    "scale": _number("multiply by this (after relative_to)", 1),
                    "relative_to": _choice(("median", "mean"), "divide by the column's median or mean"),
                    "default": _number("fills missing cells (without it a missing cell is an error)"),
                },
                ["from"],
            ),
        ],
    },
    "venn_client_table": _mapping(
        {
            "table": _path("the client table CSV (,ID,start,end)"),
            "eligibility": _path("per-device eligibility lists (JSON, or a trusted pickle)"),
            "capacity": _path("FedScale capacities with keys 1..N (JSON, or a trusted pickle)"),
            "period_s": _number("the table repeats every period_s", VENN_PERIOD_S, gt=0),
            "online_extension_s": _number("seconds added to every online window", VENN_ONLINE_EXTENSION_S, ge=0),
            "compute_reference": _number("divide computation by this (the authors': 78) instead of by its mean", gt=0),
        },
        ["table", "eligibility", "capacity"],
        "the Venn authors' files (venn_gym.importers.read_venn_client_table)",
    ),
    "trace": _sources(
        "device check-ins: exactly one of diurnal, csv, fedscale_behavior "
        "(default: diurnal, 3 check-ins per device per day)",
        {
            "diurnal": (_ref("diurnal"), {}, "synthetic check-ins with a daily cycle"),
            "csv": (_path("a trace CSV: device,start_s,end_s"), _TRACE_FILE, "a check-in table"),
            "fedscale_behavior": (
                _path("a FedScale client_behave_trace (JSON, or a trusted pickle)"),
                _TRACE_FILE,
                "a FedScale availability trace",
            ),
        },
        {"chunk_s": _number("seconds of check-ins the simulator reads at once", _DIURNAL["chunk_s"], gt=0)},
    ),
    "diurnal": _mapping(
        {
            "checkins_per_day": _number("check-ins a day (default: 3 per device)", gt=0),
            "amplitude": _number("daily swing of the rate", _DIURNAL["amplitude"], ge=0, lt=1),
            "peak_hour": _number("busiest hour of the day", _DIURNAL["peak_hour"], ge=0, lt=24),
            "window_median_s": _number("median online window, seconds", _DIURNAL["window_median_s"], gt=0),
            "window_log_sd": _number("log-sd of the online window", _DIURNAL["window_log_sd"], ge=0),
        },
        description="a Poisson process with a daily cycle (venn_gym.trace.DiurnalTrace)",
    ),
    "workload": _workload(with_file=True),
    "workload_file": _workload(with_file=False),
    "paper": _PAPER_SCHEMA,
    "job": _JOB_SCHEMA,
    "requirement": _REQUIREMENT,
}

SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "venn_gym scenario file",
    "description": "A scenario for venn_gym: devices, check-ins, jobs and settings (venn_gym.scenario_files).",
    **_mapping(
        {
            "name": _text("the name to register it under, versioned: 'owner/thing-vN'"),
            "description": _field({"type": "string"}, "one line shown in listings"),
            "devices": _ref("devices"),
            "trace": _field(
                {"anyOf": [_ref("trace"), {"type": "null"}]}, "device check-ins (left out or null: the default)"
            ),
            "workload": _ref("workload"),
            "speed_tiers": _number(
                "equal tiers of devices by speed, for tier matching", _SCENARIO["speed_tiers"], integer=True, ge=1
            ),
            "task_noise_log_sd": _number(
                "log-sd of the log-normal noise on task times", _SCENARIO["task_noise_log_sd"], ge=0
            ),
            "horizon_s": _number(
                "stop the run here (null: when every job ends)", _SCENARIO["horizon_s"], null=True, gt=0
            ),
            "max_sim_days": _number("a run longer than this is an error", _SCENARIO["max_sim_days"], gt=0),
            "round_deadline_from": _choice(
                DEADLINE_ORIGINS, "where a round's deadline counts from", _SCENARIO["round_deadline_from"]
            ),
            "device_once_per_round": _field(
                {"type": "boolean"},
                "a device serves each round of a synchronous job at most once (deployed FL); false: it may "
                "fill several places of one round (the authors' simulator)",
                _SCENARIO["device_once_per_round"],
            ),
        },
        ["devices", "workload"],
    ),
    "definitions": _DEFINITIONS,
}


def scenario_file_schema() -> dict:
    """The JSON Schema (draft-07) of scenario files; ``definitions.workload_file`` is that of workload files."""
    return copy.deepcopy(SCHEMA)


def scenario_schema_text() -> str:
    """The schema as venn_gym/data/scenario.schema.json holds it."""
    return json.dumps(SCHEMA, indent=2) + "\n"


# ----------------------------------------------------------------------- checking


def _is_number(_, value: Any) -> bool:
    """Numbers as the files mean them: no booleans, nothing infinite (YAML's .inf, JSON's NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        return False


_Validator = jsonschema.validators.extend(
    jsonschema.Draft7Validator,
    type_checker=jsonschema.Draft7Validator.TYPE_CHECKER.redefine_many(
        {"number": _is_number, "integer": lambda _, v: _is_number(_, v) and float(v).is_integer()}
    ),
)
_LOADER = _Validator({**SCHEMA, "definitions": {**_DEFINITIONS, **{name: {} for name in CHECKED_ELSEWHERE}}})


def problems(value: Any, definition: Optional[str] = None, where: str = "") -> list[tuple[str, str]]:
    """Every structural problem of ``value`` as (field path, message), checked against the scenario
    schema (or one of its ``definitions``: "workload_file", "job", ...); empty if there is none.

    An unknown key beside a missing one is taken for its misspelling: only the unknown key is reported.
    """
    validator = _LOADER if definition is None else _LOADER.evolve(schema=_LOADER.schema["definitions"][definition])
    found = [item for error in validator.iter_errors(value) for item in _explain(error)]
    unknown_in = {path[:-1] for path, _, kind in found if kind == "unknown"}
    kept = [(path, message) for path, message, kind in found if not (kind == "missing" and path in unknown_in)]
    return [(_where(where, path), message) for path, message in dict.fromkeys(kept)]


def _where(where: str, path: tuple) -> str:
    for step in path:
        where += f"[{step}]" if isinstance(step, int) else f".{step}" if where else str(step)
    return where


def _explain(error: jsonschema.ValidationError) -> Iterator[tuple[tuple, str, str]]:
    """(path, message, kind) of one jsonschema error, in venn_gym's words."""
    path, value, schema, keyword = tuple(error.absolute_path), error.instance, error.schema, error.validator
    if keyword == "additionalProperties":
        known = schema.get("properties", {})
        allowed = ", ".join(known)
        for key in value:
            if key not in known:
                yield path + (key,), f"unknown key {key!r}; allowed keys: {allowed}", "unknown"
    elif keyword == "required":
        missing = next((key for key in error.validator_value if key not in value), error.validator_value[0])
        yield path, f"missing key {missing!r} (required keys: {', '.join(error.validator_value)})", "missing"
    elif keyword == "not" and "required" in error.validator_value:  # not both of the keys
        *first, last = error.validator_value["required"]
        yield path + (last,), f"give {' or '.join(first)} or {last}, not both", "both"
    elif keyword in ("oneOf", "anyOf"):
        yield from _explain_branches(error, path, value)
    else:
        yield path, f"expected {_expected(schema)}, got {short_repr(value)}", keyword


def _explain_branches(error, path: tuple, value: Any) -> Iterator[tuple[tuple, str, str]]:
    """A value that fits none of the forms: explain it by the one form it was meant as, if it says which."""
    branches = error.validator_value
    errors = defaultdict(list)
    for sub in error.context:
        errors[sub.relative_schema_path[0]].append(sub)
    sources = [b["required"][0] for b in branches if b.get("type") == "object" and len(b.get("required", ())) == 1]
    if len(sources) == len(branches):  # a section with one source key: the key says which
        if not isinstance(value, dict):
            yield path, f"expected a mapping with one of the keys {', '.join(sources)}, got {short_repr(value)}", "type"
            return
        given = [key for key in value if key in sources]
        unknown = [key for key in value if not any(key in b["properties"] for b in branches)]
        if len(given) != 1:
            if not given and unknown:
                message = f"unknown key {unknown[0]!r}; expected one of the sources {', '.join(sources)}"
                yield path + (unknown[0],), message, "unknown"
            else:
                found = ", ".join(str(key) for key in given or value) or "no keys"
                yield path, f"expected exactly one of the keys {', '.join(sources)}; found {found}", "sources"
            return
        meant = [sources.index(given[0])]
    else:  # the forms whose type (and required keys) the value has
        meant = [
            k
            for k in range(len(branches))
            if not any(sub.validator in ("type", "required") and not sub.relative_path for sub in errors[k])
        ]
    if len(meant) != 1:
        yield path, f"expected {_expected(error.schema)}, got {short_repr(value)}", error.validator
        return
    for sub in errors[meant[0]]:
        yield from _explain(sub)


def _expected(schema: dict) -> str:
    """What a schema allows, in words: its title, else its enum, type and bounds."""
    if "title" in schema:
        return schema["title"]
    if "enum" in schema:
        values = schema["enum"]
        return f"{values[0]!r} or {values[1]!r}" if len(values) == 2 else f"one of {', '.join(map(str, values))}"
    if "anyOf" in schema or "oneOf" in schema:
        return " or ".join(_expected(b) for b in schema.get("anyOf", schema.get("oneOf")))
    types = schema.get("type", [])
    words = []
    for kind in [types] if isinstance(types, str) else types:
        if kind in ("integer", "number"):
            bounds = [f"{sign} {schema[key]:g}" for key, sign in _SIGNS.items() if key in schema]
            words.append(" ".join(["an integer" if kind == "integer" else "a number", " and ".join(bounds)]).strip())
        elif kind == "object":
            words.append(f"a mapping with keys {', '.join(schema.get('properties', ()))}".strip())
        elif kind in ("string", "array"):
            noun = "string" if kind == "string" else "list"
            words.append(f"a non-empty {noun}" if "pattern" in schema or "minItems" in schema else f"a {noun}")
        else:
            words.append({"boolean": "true or false", "null": "null"}[kind])
    return " or ".join(words)


_SIGNS = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}


if __name__ == "__main__":  # python -m venn_gym.scenario_schema [FILE]: write (or print) the schema
    if len(sys.argv) > 1:
        from .outputs import write_atomically

        write_atomically(sys.argv[1], scenario_schema_text())
    else:
        sys.stdout.write(scenario_schema_text())
