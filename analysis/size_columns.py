"""Finding the model sizes of a results table without being told: units in column names, sizes in model names.

Published tables rarely use the contract's column names. They name the models (`Qwen2.5-0.5B`, `pythia-1.4b`) and
often give their size in a column whose name carries the unit (`student_params_B`, `teacher_size (B)`,
`size_m`, `n_params_millions`). The results loader asks this module, for student_params and teacher_params:

1. `unit_in_name(column)`: ("student" | "teacher" | None, unit) when a column's name says "a size, in K/M/B/T".
2. `size_from_name(name)`: a parameter count from a checkpoint's name, through the model catalog first (its
   published count: `EleutherAI/pythia-1.4b` is 1,414,647,808) and the size written in the name second
   (`Qwen2.5-72B-Instruct` is 72B); None when neither says (`Mixtral-8x7B`, `gpt-4`), never a guess.
3. `choose_size_columns(...)`: which column gives each size, preferring a column whose name states a unit over a
   column of names (whose names are then kept as student_name / teacher_name); a contract column with more than one
   plausible source is a `SizeQuestion` (the loader answers it with the first candidate and says so; the app asks
   it in the mapping form, the inferred answer preselected).

Every choice is written as one sentence (`SizeChoice.describe`), which the loader puts in its report.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from analysis.sizes import UNITS, parse_sizes

SIZE_CONTRACTS = ("student_params", "teacher_params")
ROLE_OF = {"student_params": "student", "teacher_params": "teacher"}
NAME_OF = {"student_params": "student_name", "teacher_params": "teacher_name"}

# Words that mark a column as holding a size, and the unit words a name may carry (compared as whole tokens).
_SIZE_WORDS = frozenset({"params", "param", "parameters", "n_params", "nparams", "num_params", "size", "sizes"})
_UNIT_WORDS = {"k": "K", "thousand": "K", "thousands": "K",
               "m": "M", "mil": "M", "million": "M", "millions": "M", "mn": "M",
               "b": "B", "bn": "B", "billion": "B", "billions": "B",
               "t": "T", "trillion": "T", "trillions": "T"}
_ROLE_WORDS = {"student": "student", "students": "student", "teacher": "teacher", "teachers": "teacher"}
# A size written in a checkpoint name: a whole token such as 3B, 0.5B, 350m, 1.4b (tokens split at - _ / space).
_NAME_SIZE = re.compile(r"(\d+(?:\.\d+)?)([kmbt])", re.IGNORECASE)
# Suffixes that name a variant of a checkpoint, not another size (compared case-insensitively, repeatedly).
_VARIANT_SUFFIXES = ("-instruct", "-chat", "-it", "-hf", "-base", "-deduped", "-v0.1", "-v1")
NAMES_SHARE = 0.5  # a column is a column of names when fewer than this share of its filled cells are sizes


def _tokens(column: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", str(column).strip().lower()) if t]


def unit_in_name(column: str) -> tuple[str | None, str] | None:
    """(role, unit) when the column's name says it holds a size in a unit: "student_params_B" -> ("student", "B"),
    "teacher_size (B)" -> ("teacher", "B"), "size_m" -> (None, "M"), "n_params_millions" -> (None, "M");
    None otherwise ("student_params", "val_loss", "tokens_B")."""
    tokens = _tokens(column)
    joined = "_".join(tokens)
    has_size_word = any(t in _SIZE_WORDS for t in tokens) or any(w in joined for w in ("n_params", "num_params"))
    if not has_size_word:
        return None
    units = [_UNIT_WORDS[t] for t in tokens if t in _UNIT_WORDS]
    if len(set(units)) != 1:  # none, or two different units in one name: not a statement of unit
        return None
    roles = {_ROLE_WORDS[t] for t in tokens if t in _ROLE_WORDS}
    return (roles.pop() if len(roles) == 1 else None), units[0]


def _variant_free(name: str) -> str:
    key = name.strip().lower().rsplit("/", 1)[-1]
    changed = True
    while changed:
        changed = False
        for suffix in _VARIANT_SUFFIXES:
            if key.endswith(suffix) and len(key) > len(suffix):
                key, changed = key[: -len(suffix)], True
    return key


@lru_cache(maxsize=1)
def _catalog_index() -> dict[str, int]:
    """{checkpoint name without organisation and variant suffix, lower case: params} from the bundled catalog."""
    from analysis.catalog import load_catalog  # the catalog validates its own file; read once per process

    catalog = load_catalog()
    return {_variant_free(m): int(p) for m, p in zip(catalog["model"], catalog["params"])}


def size_from_name(name) -> tuple[int, str] | None:
    """(params, "catalog" | "name") for a checkpoint name, or None when neither the catalog nor the name says.

    `EleutherAI/pythia-1.4b` and `pythia-1.4b` find the catalog's count; `Qwen2.5-72B-Instruct` (not in the
    catalog) reads 72B from the token "72B"; a name with no such token, or with two different ones, gives None."""
    if not isinstance(name, str) or not name.strip():
        return None
    found = _catalog_index().get(_variant_free(name))
    if found is not None:
        return found, "catalog"
    sizes = set()
    for token in re.split(r"[-_/\s]+", name.strip().rsplit("/", 1)[-1]):
        match = _NAME_SIZE.fullmatch(token)
        if match:
            sizes.add(round(float(match[1]) * UNITS[match[2].upper()]))
    if len(sizes) == 1:
        count = sizes.pop()
        return (count, "name") if count >= 1000 else None
    return None


def sizes_from_names(column: pd.Series) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """(int64 params, ok mask, {"catalog": n, "name": n} distinct names resolved each way) for a column of names."""
    text = column.astype("string").str.strip()
    codes, uniques = pd.factorize(text)  # few distinct names over many rows
    found = [size_from_name(u) for u in uniques]
    params = np.array([f[0] if f else 0 for f in found] + [0], dtype=np.int64)[codes]
    how = np.array([f[1] if f else "" for f in found] + [""], dtype=object)[codes]
    ok = how != ""
    kinds = [f[1] for f in found if f]
    return params, ok, {"catalog": kinds.count("catalog"), "name": kinds.count("name")}


def is_names_column(column: pd.Series) -> bool:
    """True when the column holds names rather than sizes: fewer than NAMES_SHARE of its filled cells parse as a
    size (an empty/none cell, a student trained without a teacher, counts as neither)."""
    text = column.astype("string").str.strip()
    filled = text.notna() & ~text.str.lower().isin(["", "none", "0", "no teacher", "na", "nan", "n/a"])
    if not filled.any():
        return False
    cells = column[filled.to_numpy(dtype=bool)].reset_index(drop=True)
    numbers = pd.to_numeric(cells, errors="coerce").notna().to_numpy()  # 0.49 or 125: a size in some unit
    return float((parse_sizes(cells).ok | numbers).mean()) < NAMES_SHARE


@dataclass
class SizeChoice:
    """How one of student_params / teacher_params is read, and why."""

    contract: str  # student_params | teacher_params
    column: str  # the file's column
    unit: str | None = None  # K/M/B/T from the column's name (bare numbers only; a suffix in a cell wins)
    from_names: bool = False  # the column holds checkpoint names: sizes come from the catalog or the name
    candidates: list[str] = field(default_factory=list)  # every plausible size column, the chosen one first
    names_column: str | None = None  # the column of checkpoint names kept as student_name / teacher_name
    resolved: dict[str, int] = field(default_factory=dict)  # from_names: distinct names sized by "catalog" / "name"

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1

    def describe(self) -> str:
        if self.from_names:
            counts = (f": {self.resolved.get('catalog', 0)} by the catalog, {self.resolved.get('name', 0)} by the name"
                      if self.resolved else "")
            how = (f"from the checkpoint names in column {self.column!r} (the model catalog's count, else the size "
                   f"written in the name{counts}); the names are kept as {NAME_OF[self.contract]}")
        else:
            how = f"from column {self.column!r}" + (f", in {_UNIT_LONG[self.unit]} (its name says so)"
                                                    if self.unit else "")
            if self.names_column:
                how += f"; the names in {self.names_column!r} are kept as {NAME_OF[self.contract]}"
        others = [c for c in self.candidates if c != self.column]
        tail = (f"; also possible: {', '.join(map(repr, others))} (choose with column_map / --column "
                f"{self.contract}=COLUMN or the mapping form)" if others else "")
        return f"{self.contract} inferred {how}{tail}"


_UNIT_LONG = {"K": "thousands", "M": "millions", "B": "billions", "T": "trillions"}


def choose_size_columns(frame: pd.DataFrame, mapping: dict[str, str], fixed: set[str],
                        exact: set[str]) -> dict[str, SizeChoice]:
    """Decide the source of student_params and teacher_params; updates `mapping` in place.

    mapping: {contract: file column} as matched by name and alias; fixed: contract columns the user mapped (left
    as they are, but a unit in their column's name is still read); exact: contracts matched by their exact name
    (kept too). Returns {contract: SizeChoice} for every size column it found or inferred.
    """
    columns = [str(c) for c in frame.columns]
    used = set(mapping.values())
    units = {c: unit_in_name(c) for c in columns}
    choices: dict[str, SizeChoice] = {}
    for contract in SIZE_CONTRACTS:
        role = ROLE_OF[contract]
        current = mapping.get(contract)
        # columns whose name states a unit and this role ("student_params_B"); a role-less one ("size_m") only
        # when no column names a role at all and it is the only one of its kind
        with_unit = [c for c in columns if units[c] and units[c][0] == role and c not in used - {current}]
        if current is not None and (contract in fixed or contract in exact):
            # a column named student_params holds sizes (its bad cells are reported as sizes); a column the user
            # mapped may hold names
            if contract in fixed and is_names_column(frame[current]):
                mapping.setdefault(NAME_OF[contract], current)
                choices[contract] = SizeChoice(contract, current, from_names=True, candidates=[current])
            else:
                unit = units[current][1] if units.get(current) else None
                choices[contract] = SizeChoice(contract, current, unit=unit, candidates=[current])
            continue
        names_col = None
        if current is not None and is_names_column(frame[current]):
            names_col, current = current, None
        named = mapping.get(NAME_OF[contract])
        if names_col is None and named is not None and current is None:
            names_col = named
        if current is not None:  # an alias column of sizes ("teacher_size"): a unit column beside it is a rival
            rivals = [c for c in with_unit if c != current]
            unit = units[current][1] if units.get(current) else None
            choices[contract] = SizeChoice(contract, current, unit=unit, candidates=[current] + rivals)
            continue
        if with_unit:
            chosen = with_unit[0]
            mapping[contract] = chosen
            choices[contract] = SizeChoice(contract, chosen, unit=units[chosen][1], candidates=with_unit)
            if names_col and NAME_OF[contract] not in mapping:
                mapping[NAME_OF[contract]] = names_col
                choices[contract].names_column = names_col
        elif names_col is not None:
            mapping[contract] = names_col
            mapping.setdefault(NAME_OF[contract], names_col)
            choices[contract] = SizeChoice(contract, names_col, from_names=True, candidates=[names_col])
        used = set(mapping.values())
    # a column of names left over ("student" when the size was mapped to "student_params_B"): kept as names
    for contract in SIZE_CONTRACTS:
        role, used = ROLE_OF[contract], set(mapping.values())
        if NAME_OF[contract] in mapping:
            continue
        for c in columns:
            if c not in used and "_".join(_tokens(c)) in (role, f"{role}_model", f"{role}_name",
                                                          f"{role}_checkpoint") and is_names_column(frame[c]):
                mapping[NAME_OF[contract]] = c
                if contract in choices and not choices[contract].from_names:
                    choices[contract].names_column = c
                break
    # a unit column that names no role: the missing size, when exactly one size is missing and one such column
    missing = [c for c in SIZE_CONTRACTS if c not in mapping]
    loose = [c for c in columns if units[c] and units[c][0] is None and c not in set(mapping.values())]
    if len(missing) == 1 and len(loose) == 1:
        mapping[missing[0]] = loose[0]
        choices[missing[0]] = SizeChoice(missing[0], loose[0], unit=units[loose[0]][1], candidates=loose)
    return choices
