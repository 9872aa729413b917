"""Every code block of README.md and docs/*.md runs, so that the docs cannot rot.

- ```python blocks run each in a fresh interpreter from the repository root, as written
  (registrations in one block cannot leak into other tests). Keep them small and free of writes.
- ```bash blocks run in a fresh temporary folder holding copies of the repository's
  ``examples``, ``agents``, ``benchmarks`` and (when the block names it) ``results``: copies,
  not links, so that no command can write into the repository. ``HOME`` and
  ``XDG_CONFIG_HOME`` point into that folder too. A block runs as one bash script with
  ``set -e``, so ``export`` and files carry from one line to the next, and every command must
  exit 0. Before running, each command line (``\\`` continuations joined, ``&&`` chains split,
  ``#`` comments dropped) is shrunk by ``RULES`` below (``venn-gym train`` also by
  ``TRAIN_SHRINK``), or skipped (``SKIP``) with a stated reason. A block that uses a folder an
  earlier block of the same file wrote with ``--out`` runs after that block, in the same folder
  and the same test. ``SLOW`` names the blocks that only run with ``-m slow``.
- ```yaml and ```csv blocks whose first line is ``# <path of a repository file>`` must appear
  verbatim (less that first line) in that file, so shown files cannot drift from shipped ones.
- Blocks without a language (or ```text) are output and are not run.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COPIED = ("examples", "agents", "benchmarks", "results")  # what a bash block can read (copies)
LANGUAGES = {"python", "bash", "yaml", "csv", "text", ""}

SMALL_SCALE = 0.02
# One shipped agent for the leaderboard (the default, agents/models/, evaluates six: over a minute).
LEADERBOARD_AGENT = "ppo_priority_low"

# Commands a test does not run, with the reason (matched at the start of a command).
SKIP = {
    "pip install": "installs packages; the tests run in the environment that is already installed",
    "python -m pytest": "the test suite itself",
    "tensorboard": "starts a server that does not exit",
}


def _paper_scenario(command: str) -> bool:
    """--scale only applies to the paper scenarios (and the default scenario is one)."""
    match = re.search(r"--scenario[= ](\S+)", command)
    return match is None or match.group(1).startswith("paper/")


# How each command is shrunk (matched at the start of a command; every matching entry applies).
# Each entry: (prefix, [(option, value)], [flags to drop], condition on the command or None). An
# option is set when present and added when absent, except IF_PRESENT ones (only set when given);
# "--scale" is only ever lowered, never raised.
IF_PRESENT = {"--eval-seeds"}
RULES = [
    ("venn-gym compare", [("--seeds", "1"), ("--workers", "1")], [], None),
    ("venn-gym compare", [("--scale", SMALL_SCALE)], [], _paper_scenario),
    ("venn-gym train", [("--timesteps", "256"), ("--eval-seeds", "100,")], [], None),
    ("venn-gym train", [("--scale", SMALL_SCALE)], [], _paper_scenario),
    ("venn-gym evaluate", [("--seeds", "100,"), ("--workers", "1")], [], None),
    # half the usual scale: evaluate always runs uniform Random, which collapses on the larger
    # workloads (45 s alone on paper/high-v1 x0.02, 8 s at x0.01)
    ("venn-gym evaluate", [("--scale", SMALL_SCALE / 2)], [], _paper_scenario),
    (
        "venn-gym paper-table",
        [("--workloads", "low"), ("--seeds", "1"), ("--scale", SMALL_SCALE), ("--workers", "1")],
        [],
        lambda c: "--tables-only" not in c,
    ),
    (
        "venn-gym leaderboard",
        [
            ("--scenarios", "paper/low-v1"),
            ("--seeds", "100,"),
            ("--scale", SMALL_SCALE),
            ("--workers", "1"),
            ("--models", "one-agent"),
        ],
        [],
        lambda c: "--render-only" not in c,
    ),
    ("venn-gym benchmark", [("--scale", SMALL_SCALE)], [], _paper_scenario),
    (
        "venn-gym headroom",
        [
            ("--scenarios", "paper/low-v1"),
            ("--seeds", "100,"),
            ("--scale", SMALL_SCALE),
            ("--budget", "2"),
            ("--futures", "2"),
            ("--robust-budget", "2"),
            ("--robust-futures", "1"),
        ],
        [],
        None,
    ),
    (
        "python benchmarks/env_speed.py",
        [("--scale", SMALL_SCALE), ("--steps", "2000"), ("--priority-steps", "200")],
        ["--full"],
        None,
    ),
    ("python benchmarks/train_profile.py", [("--scale", SMALL_SCALE), ("--steps", "256")], [], None),
    (
        "python benchmarks/authors_table.py",
        [("--rows", "20000"), ("--devices", "5000"), ("--policies", "random,venn")],
        [],
        None,
    ),
    (
        "python benchmarks/backoff_rules.py",
        [("--scenarios", "paper/low-v1"), ("--seeds", "10000,"), ("--scale", SMALL_SCALE), ("--workers", "1")],
        [],
        None,
    ),
    (
        "python benchmarks/venn_knobs.py",
        [("--scenarios", "paper/low-v1"), ("--seeds", "10000,"), ("--scale", SMALL_SCALE), ("--workers", "1")],
        [],
        None,
    ),
]

# Flags the small form needs: the test's copy of results/ holds the shipped full-scale Table 1
# record, which a small paper-table run replaces, and paper-table refuses that without --overwrite.
ADDED_FLAGS = {"venn-gym paper-table": "--overwrite"}

# `venn-gym train` also gets `--hyperparams` pointing to a copy of the YAML it would use with
# shorter behaviour cloning and rollouts (TRAIN_SHRINK), written into the test's folder:
# behaviour cloning alone takes about 40 s with the shipped settings.
TRAIN_SHRINK = {"n_steps": 256, "batch_size": 64, "n_epochs": 1, "bc": {"episodes": 1, "epochs": 1}}


def small_hyperparams(command: str, workdir: Path) -> str:
    algo = re.search(r"--algo[= ](\S+)", command).group(1)
    given = re.search(r"--hyperparams[= ](\S+)", command)
    source = workdir / (given.group(1) if given else f"agents/hyperparams/{algo}.yml")
    table = yaml.safe_load(source.read_text())
    for entry in table.values():
        for key, value in TRAIN_SHRINK.items():
            if key == "bc":
                if entry.get("bc") is not None:
                    entry["bc"] = {**entry["bc"], **value}
            elif key in entry:
                entry[key] = min(entry[key], value)
    dest = workdir / "test-hyperparams" / source.name
    dest.parent.mkdir(exist_ok=True)
    dest.write_text(yaml.safe_dump(table))
    return set_option(command, "--hyperparams", dest.relative_to(workdir))


# Blocks too long for the default run (a block of FILE containing TEXT), run with -m slow.
# Together they take about two minutes of the file's four (CPU, at the test's sizes).
SLOW = [
    (
        "README.md",
        "venn-gym paper-table",
    ),  # the results commands (benchmarks, tables, agents)
    ("README.md", "venn-gym train --algo"),  # train + evaluate + leaderboard
]


# ----------------------------------------------------------------------------- parsing
@dataclass(frozen=True)
class Block:
    doc: str  # path relative to ROOT
    line: int  # line of the opening fence
    language: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


FENCE = re.compile(r"^```([\w-]*)[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def blocks_of(path: Path) -> list[Block]:
    text = path.read_text()
    return [
        Block(str(path.relative_to(ROOT)), text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2))
        for m in FENCE.finditer(text)
    ]


ALL_BLOCKS = [b for path in DOC_FILES for b in blocks_of(path)]


def _unquoted(text: str):
    """(index, char) of the characters of a shell line outside quotes."""
    quote = None
    escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        else:
            yield i, ch


def strip_comment(line: str) -> str:
    for i, ch in _unquoted(line):
        if ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def split_unquoted(line: str, separator: str) -> list[str]:
    cuts = [i for i, ch in _unquoted(line) if line.startswith(separator, i)]
    parts, start = [], 0
    for i in cuts:
        if i >= start:
            parts.append(line[start:i])
            start = i + len(separator)
    parts.append(line[start:])
    return [p.strip() for p in parts if p.strip()]


def commands_of(script: str) -> list[str]:
    """The block's commands: continuations joined, comments dropped, && chains split."""
    lines, pending = [], ""
    for raw in script.splitlines():
        line = strip_comment(raw) if not pending else strip_comment(raw).strip()
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        line = pending + line
        pending = ""
        if line.strip():
            lines.append(line.strip())
    assert not pending, f"a continuation runs past the end of the block:\n{script}"
    return [command for line in lines for command in split_unquoted(line, "&&")]


# ----------------------------------------------------------------------------- rewriting
def set_option(command: str, option: str, value) -> str:
    pattern = re.compile(rf"(\s{re.escape(option)})(?:=|\s+)(\S+)")
    match = pattern.search(command)
    if match is None:
        return command if option in IF_PRESENT else f"{command} {option} {value}"
    if option == "--scale" and float(match.group(2)) <= float(value):
        return command
    return command[: match.start()] + f"{match.group(1)} {value}" + command[match.end() :]


def drop_flag(command: str, flag: str) -> str:
    return re.sub(rf"\s{re.escape(flag)}(?=\s|$)", "", command)


def shrink(command: str, workdir: Path | None = None) -> str:
    """The command as the test runs it: skipped (a ':' line naming the reason) or made small
    (in ``workdir``, a train command also gets its small hyperparameters)."""
    for prefix, reason in SKIP.items():
        if (_program(command) + " ").startswith(prefix + " "):
            return ": " + shlex.quote(f"skipped {command}: {reason}")
    # options go before any pipe or redirection
    cut = min([i for i, ch in _unquoted(command) if ch in "|<>;"], default=len(command))
    head, tail = command[:cut].rstrip(), command[cut:]
    key = _program(head)
    for prefix, options, flags, condition in RULES:
        if (key + " ").startswith(prefix + " ") and (condition is None or condition(head)):
            for option, value in options:
                head = set_option(head, option, value)
            for flag in flags:
                head = drop_flag(head, flag)
    for prefix, flag in ADDED_FLAGS.items():
        if (key + " ").startswith(prefix + " ") and "--tables-only" not in head and flag not in head.split():
            head = f"{head} {flag}"
    if workdir is not None and (key + " ").startswith("venn-gym train "):
        head = small_hyperparams(head, workdir)
    return f"{head} {tail}".rstrip()


def _program(command: str) -> str:
    """The command without leading VAR=value assignments and venn-gym's global options."""
    command = re.sub(r"^(\w+=\S*\s+)+", "", command)
    return re.sub(r"^venn-gym(\s+--trust-pickles)+(?=\s)", "venn-gym", command)


def out_folders(script: str) -> set[str]:
    """Folders a block writes with --out, less the copied ones (already there for every block)."""
    found = re.findall(r"--out[= ](\S+)", " ".join(commands_of(script)))
    return {f for f in found if f.split("/")[0] not in COPIED}


def uses(script: str, folder: str) -> bool:
    return re.search(rf"(?<![\w./-]){re.escape(folder)}(?![\w.-])", script) is not None


def bash_groups(blocks: list[Block]) -> list[list[Block]]:
    """Bash blocks of one file, grouped so that a block runs after the blocks whose --out it uses."""
    bash = [b for b in blocks if b.language == "bash"]
    group_of = list(range(len(bash)))

    def find(i):
        while group_of[i] != i:
            i = group_of[i]
        return i

    for i, later in enumerate(bash):
        for j in range(i):
            if any(uses(later.text, folder) for folder in out_folders(bash[j].text)):
                group_of[find(i)] = find(j)
    groups: dict[int, list[Block]] = {}
    for i, block in enumerate(bash):
        groups.setdefault(find(i), []).append(block)
    return list(groups.values())


def _is_slow(block: Block) -> bool:
    return any(block.doc == doc and text in block.text for doc, text in SLOW)


def _param(blocks, slow: bool):
    marks = [pytest.mark.slow] if slow else []
    return pytest.param(blocks, id=blocks[0].id if isinstance(blocks, list) else blocks.id, marks=marks)


PYTHON = [_param(b, _is_slow(b)) for b in ALL_BLOCKS if b.language == "python"]
BASH = [_param(group, any(_is_slow(b) for b in group)) for path in DOC_FILES for group in bash_groups(blocks_of(path))]
FILES = [b for b in ALL_BLOCKS if b.language in ("yaml", "csv")]


# ----------------------------------------------------------------------------- tests
def test_every_doc_has_runnable_blocks():
    assert len(DOC_FILES) >= 5, [str(p) for p in DOC_FILES]  # README.md, docs/README.md and three tutorials
    for path in DOC_FILES:
        languages = [b.language for b in blocks_of(path)]
        if path.name == "README.md" and path.parent.name == "docs":
            continue  # the index: links only
        assert {"python", "bash"} & set(languages), f"{path.relative_to(ROOT)} has no python or bash block"
    assert sum(b.language == "python" for b in blocks_of(ROOT / "README.md")) >= 4


def test_block_languages_are_known():
    """A block in another language (sh, console, ...) would silently not run."""
    unknown = [(b.id, b.language) for b in ALL_BLOCKS if b.language not in LANGUAGES]
    assert not unknown, f"unknown code block languages (use one of {sorted(LANGUAGES)}): {unknown}"


def test_every_doc_file_is_reachable_from_the_index():
    index = (ROOT / "docs" / "README.md").read_text()
    for path in DOC_FILES:
        if path.parent.name == "docs" and path.name != "README.md":
            assert f"({path.name})" in index, f"docs/README.md does not link {path.name}"


def test_shrinking_rules():
    assert (
        shrink("venn-gym compare --scenario paper/even-v1 --seeds 3 --out runs/even")
        == "venn-gym compare --scenario paper/even-v1 --seeds 1 --out runs/even --workers 1 --scale 0.02"
    )
    assert (
        shrink("venn-gym compare --scenario examples/scenarios/shop-v0.yaml --seeds 3")
        == "venn-gym compare --scenario examples/scenarios/shop-v0.yaml --seeds 1 --workers 1"
    )
    assert (
        shrink("venn-gym train --algo ppo --scale 0.01 --timesteps 9000 --out x")
        == "venn-gym train --algo ppo --scale 0.01 --timesteps 256 --out x"
    )
    assert "--eval-seeds 100, " in shrink("venn-gym train --algo ppo --eval-seeds 100-102 --timesteps 9 --out x")
    tables_only = "venn-gym paper-table --tables-only --out results"
    assert shrink(tables_only) == tables_only
    assert shrink("venn-gym paper-table --seeds 2 --out results").endswith("--workers 1 --overwrite")
    assert (
        shrink("python benchmarks/env_speed.py --full --out r.md")
        == "python benchmarks/env_speed.py --out r.md --scale 0.02 --steps 2000 --priority-steps 200"
    )
    assert (
        shrink("python benchmarks/authors_table.py --out r.md")
        == "python benchmarks/authors_table.py --out r.md --rows 20000 --devices 5000 --policies random,venn"
    )
    assert (
        shrink("venn-gym benchmark --scenario paper/even-v0 --out r.md")
        == "venn-gym benchmark --scenario paper/even-v0 --out r.md --scale 0.02"
    )
    assert shrink("pip install -e .").startswith(": 'skipped pip install")
    assert (
        shrink("VENN_GYM_TRUST_PICKLES=1 venn-gym --trust-pickles evaluate --agent a.zip --seeds 1-9")
        == "VENN_GYM_TRUST_PICKLES=1 venn-gym --trust-pickles evaluate --agent a.zip --seeds 100, --workers 1 "
        "--scale 0.01"
    )
    assert (
        shrink("venn-gym compare --seeds 3 > log.txt")
        == "venn-gym compare --seeds 1 --workers 1 --scale 0.02 > log.txt"
    )
    assert commands_of("a \\\n  --b 1  # note\n# only a comment\nc && d '&&' # e\n") == ["a --b 1", "c", "d '&&'"]


@pytest.mark.parametrize("block", FILES, ids=[b.id for b in FILES])
def test_shown_file_matches_the_shipped_one(block):
    first, _, rest = block.text.partition("\n")
    match = re.fullmatch(r"# (\S+/\S+\.\w+)", first.strip())
    if match is None:
        pytest.skip("not a shipped file (no '# <path>' first line)")
    assert (ROOT / match.group(1)).is_file(), f"{block.id}: {match.group(1)} is not a file of the repository"
    shipped = (ROOT / match.group(1)).read_text()
    assert rest.strip() and rest in shipped, f"{block.id}: the block is not a verbatim part of {match.group(1)}"


def _repository_outputs() -> tuple:
    """What a block must not change in the repository: runs/ and the files of results/."""
    return (ROOT / "runs").exists(), {p: p.stat().st_mtime_ns for p in (ROOT / "results").rglob("*")}


@pytest.mark.parametrize("block", PYTHON)
def test_python_block_runs(block):
    before = _repository_outputs()
    done = subprocess.run(
        [sys.executable, "-c", block.text],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env=_environment(None),
    )
    assert done.returncode == 0, f"{block.id}: python block failed:\n{block.text}\n{done.stderr[-3000:]}"
    assert _repository_outputs() == before, f"{block.id}: a python block wrote into runs/ or results/"


@pytest.mark.parametrize("blocks", BASH)
def test_bash_block_runs(blocks, tmp_path):
    for name in COPIED:
        if name != "results" or any(uses(b.text, "results") for b in blocks):  # results/ is 9 MB
            shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (tmp_path / "one-agent").mkdir()
    for model in (ROOT / "agents" / "models").glob(f"{LEADERBOARD_AGENT}.*"):
        shutil.copy(model, tmp_path / "one-agent")
    for block in blocks:
        script = "set -ex\n" + "\n".join(shrink(c, tmp_path) for c in commands_of(block.text)) + "\n"
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
            env=_environment(tmp_path),
        )
        assert done.returncode == 0, (
            f"{block.id}: bash block failed (exit {done.returncode}); as run:\n{script}\n"
            f"stdout:\n{done.stdout[-2000:]}\nstderr:\n{done.stderr[-4000:]}"
        )


def _environment(home: Path | None) -> dict:
    env = dict(os.environ)
    env.pop("VENN_GYM_SCENARIO_PATH", None)
    env.pop("VENN_GYM_TRUST_PICKLES", None)
    env["MPLBACKEND"] = "Agg"
    env["OMP_NUM_THREADS"] = "1"  # tests run in parallel: torch's threads would fight over the cores
    if home is not None:
        env["HOME"] = str(home)
        env["XDG_CONFIG_HOME"] = str(home / ".config")
    return env
