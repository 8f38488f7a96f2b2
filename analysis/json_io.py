"""Reading JSON that may come from anyone: one parser for every JSON the project reads (uploads, lm-eval files,
plan files, job specs, the workspace's own records), with a depth limit.

`json.loads` raises RecursionError (not ValueError) on a document nested about a thousand levels deep, and a
document a little less deep loads but breaks whatever walks or prints it later (a 2 KB file nested 1,000 levels,
uploaded once, broke every page of the app). `loads` turns both into a `JsonError` (a ValueError) that names the
source and says what is accepted: documents nested at most MAX_DEPTH levels, which no results table, lm-eval file
or job record comes near (lm-eval's deepest is about 6).
"""
from __future__ import annotations

import json
from pathlib import Path

MAX_DEPTH = 64  # containers inside containers; lm-eval results files nest ~6, our own records ~4


class JsonError(ValueError):
    """A JSON document that cannot be read safely (too deep), with the source in the message."""


def depth_exceeds(obj, limit: int = MAX_DEPTH) -> bool:
    """Whether `obj` nests dicts/lists more than `limit` levels (iterative: no recursion, stops early)."""
    stack = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, (dict, list)))
    return False


def loads(text: str | bytes, *, source: str = "JSON", max_depth: int = MAX_DEPTH):
    """json.loads with a depth limit: JsonError (a ValueError) for a document nested deeper than `max_depth`;
    json.JSONDecodeError (also a ValueError) for one that is not JSON."""
    try:
        obj = json.loads(text)
    except RecursionError:
        raise JsonError(f"{source}: the JSON is nested too deeply to read (more than {max_depth} levels of "
                        f"objects or lists inside each other; no results or lm-eval file nests more than a "
                        f"few)") from None
    if isinstance(obj, (dict, list)) and depth_exceeds(obj, max_depth):
        raise JsonError(f"{source}: the JSON is nested more than {max_depth} levels deep (objects or lists inside "
                        f"each other); results and lm-eval files nest a few levels, so this is not one")
    return obj


def read_json(path: str | Path, *, encoding: str = "utf-8", max_depth: int = MAX_DEPTH):
    """A JSON file, read with `loads` (OSError if it cannot be read)."""
    path = Path(path)
    return loads(path.read_text(encoding=encoding), source=str(path), max_depth=max_depth)
