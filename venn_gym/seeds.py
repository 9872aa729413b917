"""How seeds are written on every command line: a count or a list of seeds and ranges."""

from __future__ import annotations

from .errors import SpecError

SEEDS_HELP = "a count N (seeds 0..N-1) or seeds and ranges, e.g. 100-104,200 (one seed: '7,' or 7-7)"


def parse_seeds(text: str, first: int = 0) -> list[int]:
    """``"3"``: seeds first..first+2; ``"100-104,200"``: those seeds."""
    text = str(text).strip()
    try:
        if text.isdigit():
            return list(range(first, first + int(text)))
        seeds = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            low, dash, high = part.partition("-")
            seeds += list(range(int(low), int(high) + 1)) if dash else [int(low)]
    except ValueError:
        raise SpecError(f"--seeds takes a count (3) or seeds and ranges (100-104,200), got {text!r}") from None
    if not seeds:
        raise SpecError(f"--seeds names no seed: {text!r}")
    if len(set(seeds)) != len(seeds):
        raise SpecError(f"--seeds names a seed twice: {text!r}")
    return seeds
