"""Command-line options built from frozen config dataclasses: one option per field, its help text taken from
the field's trailing `# comment`, so the config class stays the single description of every setting."""
from __future__ import annotations

import argparse
import inspect
import io
import tokenize
from dataclasses import MISSING, fields


def field_comments(cls) -> dict[str, str]:
    """{field name: trailing comment} read from the class source (empty when the source is unavailable)."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    comments, last_name, line_of_name = {}, None, -1
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME and tok.start[1] == 4 and last_name is None or (
                tok.type == tokenize.NAME and tok.start[1] == 4 and tok.start[0] != line_of_name):
            last_name, line_of_name = tok.string, tok.start[0]
        elif tok.type == tokenize.COMMENT and tok.start[0] == line_of_name and last_name:
            comments[last_name] = tok.string.lstrip("# ").strip()
    return comments


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, found {text!r}")


# Old option names kept working after a field's rename: field -> extra flag names (without the prefix).
OPTION_ALIASES = {"ce_weight": ("alpha",)}


def add_dataclass_options(parser: argparse.ArgumentParser, cls, *, prefix: str = "", skip: tuple[str, ...] = (),
                          size_fields: tuple[str, ...] = ()) -> None:
    """Add --<prefix><field> for every field of `cls` (tuples take several values; sizes accept 1.1M)."""
    from analysis.sizes import parse_size

    helps = field_comments(cls)
    group = parser.add_argument_group(cls.__name__)
    for f in fields(cls):
        if f.name in skip:
            continue
        default = f.default if f.default is not MISSING else None
        opt = "--" + (prefix + f.name).replace("_", "-")
        kind = type(default)
        help_text = f"{helps.get(f.name, '')} (default: {default})".replace("%", "%%")  # argparse formats with %
        kwargs = {"dest": prefix + f.name, "default": default, "help": help_text}
        if f.name in size_fields:
            kwargs["type"] = parse_size
            if isinstance(default, tuple):
                kwargs["nargs"] = "+"
        elif isinstance(default, bool):
            kwargs["type"] = _parse_bool
        elif isinstance(default, tuple):
            kwargs["nargs"] = "+"
            kwargs["type"] = type(default[0]) if default else str
        elif kind in (int, float, str):
            kwargs["type"] = kind
        group.add_argument(opt, *("--" + (prefix + a).replace("_", "-") for a in OPTION_ALIASES.get(f.name, ())),
                           **kwargs)


def dataclass_from_options(cls, args: argparse.Namespace, *, prefix: str = "", **overrides):
    values = {}
    for f in fields(cls):
        key = prefix + f.name
        if hasattr(args, key):
            v = getattr(args, key)
            values[f.name] = tuple(v) if isinstance(v, list) else v
    values.update(overrides)
    return cls(**values)


def add_override_options(parser: argparse.ArgumentParser, cls, *, prefix: str,
                         text_fields: tuple[str, ...] = ()) -> None:
    """Options that override single fields of `cls` (absent unless given: defaults come from elsewhere).

    Fields in `text_fields` are passed on as text (e.g. sizes such as 1.1M, parsed by the config's own loader).
    """
    helps = field_comments(cls)
    group = parser.add_argument_group(f"{cls.__name__} overrides")
    for f in fields(cls):
        default = f.default if f.default is not MISSING else None
        kwargs = {"dest": prefix + f.name, "default": argparse.SUPPRESS,
                  "help": helps.get(f.name, "").replace("%", "%%")}
        if isinstance(default, tuple):
            kwargs["nargs"] = "+"
        if f.name in text_fields:
            kwargs["type"] = str
        elif isinstance(default, bool):
            kwargs["type"] = _parse_bool
        elif isinstance(default, tuple):
            kwargs["type"] = type(default[0]) if default else str
        elif type(default) in (int, float, str):
            kwargs["type"] = type(default)
        group.add_argument("--" + f.name.replace("_", "-"),
                           *("--" + a.replace("_", "-") for a in OPTION_ALIASES.get(f.name, ())), **kwargs)


def overrides_from_options(cls, args: argparse.Namespace, *, prefix: str) -> dict:
    return {f.name: getattr(args, prefix + f.name) for f in fields(cls) if hasattr(args, prefix + f.name)}


def options_of(obj, *, base=None) -> list[str]:
    """The inverse of add_override_options: `--field value...` for every field of the frozen dataclass `obj` whose
    value differs from `base`'s (or from the field's default when no base), as the CLI parses them back."""
    out: list[str] = []
    for f in fields(obj):
        value = getattr(obj, f.name)
        reference = getattr(base, f.name) if base is not None else (f.default if f.default is not MISSING else None)
        if value == reference:
            continue
        values = list(value) if isinstance(value, (tuple, list)) else [value]
        if not values:
            raise ValueError(f"{f.name}: an empty list cannot be written as an option (give at least one value)")
        out += ["--" + f.name.replace("_", "-"),
                *(("true" if v else "false") if isinstance(v, bool) else str(v) for v in values)]
    return out
