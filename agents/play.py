"""A trained agent, loaded from the ``model.zip`` that ``venn-gym train`` writes, playing an episode.

Models saved before the packages were namespaced (``agents.networks`` instead of
``venn_gym.agents.networks``) still load: their policy class and policy kwargs are rebuilt from
the names the file records, read without unpickling, instead of from the pickled references.
"""

from __future__ import annotations

import base64
import json
import pickletools
import re
import zipfile
from pathlib import Path

from ..errors import SpecError
from .config import MODELS_DIR, algorithm_class, import_dotted, renamed_module

_CLASS_REPR = re.compile(r"<class '([\w.]+)'>")


def shipped_models(models: Path | None = None) -> list[Path]:
    """The model files in ``models`` (default: the agents shipped in ``agents/models/``)."""
    return sorted(Path(models or MODELS_DIR).glob("*.zip"))


def training_record(model: Path) -> dict:
    """What ``venn-gym train`` recorded about a model: the ``.json`` shipped beside it, else the
    run folder's ``train_info.json``; empty when there is neither."""
    model = Path(model)
    for path in (model.with_suffix(".json"), model.parent / "train_info.json"):
        if path.exists():
            return json.loads(path.read_text())
    return {}


def agent_name(path: Path) -> str:
    path = Path(path)
    return path.parent.name if path.stem == "model" else path.stem


def load_agent(path: Path):
    """(model, meta) for a model.zip written by ``venn-gym train``."""
    path = Path(path)
    if not path.exists():
        raise SpecError(f"no agent at {path}")
    data = saved_data(path)
    meta = data.get("venn_gym_meta")
    if not meta:
        raise SpecError(f"{path} was not written by venn-gym train (no venn_gym_meta)")
    return algorithm_class(meta["algo"]).load(str(path), device="cpu", custom_objects=renamed_classes(path, data)), meta


def saved_data(path: Path) -> dict:
    """The JSON part of a saved SB3 model (its pickled entries stay encoded: nothing runs)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("data"))
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise SpecError(f"{path} is not a Stable-Baselines3 model file: {exc}") from None


def renamed_classes(path: Path, data: dict | None = None) -> dict:
    """SB3 ``custom_objects`` for the entries of a saved model that pickle a reference to a module
    since renamed (empty for a model saved under the current names): pass them to ``load``.
    ``data``: the model's :func:`saved_data`, when the caller has read it already."""
    data = saved_data(path) if data is None else data
    custom = {}
    for key in ("policy_class", "policy_kwargs"):
        item = data.get(key)
        if not isinstance(item, dict) or ":serialized:" not in item:
            continue
        refs = _pickled_globals(base64.b64decode(item[":serialized:"]))
        if not any(renamed_module(module) != module for module, _ in refs):
            continue
        if key == "policy_class":
            (module, name), *rest = refs
            if rest:
                raise SpecError(f"{path}: cannot rebuild the policy class from {refs}")
            custom[key] = import_dotted(f"{renamed_module(module)}.{name}")
        else:  # a dict pickled by value: SB3 also wrote each entry as JSON, or a class as its repr
            custom[key] = {k: _entry(v, path) for k, v in item.items() if not k.startswith(":")}
    return custom


def _entry(value, path: Path):
    if isinstance(value, str) and value.startswith("<"):
        match = _CLASS_REPR.fullmatch(value)
        if match is None:
            raise SpecError(f"{path}: cannot rebuild the policy keyword argument {value}; retrain or re-save the model")
        return import_dotted(match.group(1))
    return value


def _pickled_globals(payload: bytes) -> list[tuple[str, str]]:
    """(module, name) of every global a pickle refers to, read from its opcodes (nothing runs)."""
    refs, strings = [], []
    for opcode, arg, _ in pickletools.genops(payload):
        if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
            strings.append(arg)
        elif opcode.name == "STACK_GLOBAL":
            refs.append((strings[-2], strings[-1]))
        elif opcode.name in ("GLOBAL", "INST"):
            refs.append(tuple(arg.split(" ", 1)))
    return refs


def play_episode(model, env, seed: int, masked: bool):
    """Run ``model`` deterministically through one episode of ``env`` on scenario seed ``seed``;
    returns the finished simulation (``.result(name)`` gives its result)."""
    obs, info = env.reset(seed=int(seed))
    done = False
    while not done:
        kwargs = {"action_masks": env.unwrapped.action_masks()} if masked else {}
        action, _ = model.predict(obs, deterministic=True, **kwargs)
        obs, _, term, trunc, info = env.step(action)
        done = term or trunc
    return env.unwrapped.sim
