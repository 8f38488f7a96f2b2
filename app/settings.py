"""URL-backed page settings: every setting a page shows lives in `st.query_params`, so a copied link
reproduces the view.

A setting's value comes from, in order: the widget the user just touched, the URL, the value this
session last used (kept in `st.session_state`, which is per browser tab, so two tabs never interfere),
the page's default. Widgets are per page, settings are shared through the URL. After each widget the value is written back to the URL (defaults are left out of
the URL to keep links short). Values in the URL are strings; each helper parses them and ignores a
value that is not one of the widget's options, so a hand-edited link cannot break a page.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

_STORE = "_url_settings"  # session_state key: {setting key: serialized value} last used in this session


def _store() -> dict[str, Any]:
    return st.session_state.setdefault(_STORE, {})


def _url_value(key: str) -> str | list[str] | None:
    if key not in st.query_params:
        return None
    values = st.query_params.get_all(key)
    return values if len(values) != 1 else values[0]


def raw(key: str) -> str | list[str] | None:
    """The setting's serialized value: the widget the user just changed (a rerun reads it before the widget
    is drawn again), else the URL, else this session's last value; None if none of them."""
    wkey = _widget_key(key)
    if wkey in st.session_state:
        value = st.session_state[wkey]
        if isinstance(value, bool):
            return "1" if value else "0"
        return [str(v) for v in value] if isinstance(value, (list, tuple)) else str(value)
    url = _url_value(key)
    return url if url is not None else _store().get(key)


def remember(key: str, value: str | list[str], default: str | list[str]) -> None:
    """Keep `value` for this session and write it to the URL (removed from the URL when it is the default)."""
    _store()[key] = value
    current = _url_value(key)
    if value == default or value == []:
        if key in st.query_params:
            del st.query_params[key]
    elif current != value:
        st.query_params[key] = value


SCOPE_KEY = "_settings_scope"  # session_state: the url_path of the page being drawn (set by app/main.py)


def _widget_key(key: str) -> str:
    """The widget's session key: per page (`_w_law_form`), so that pages sharing a setting (the law form on
    the Law, What-if and Report pages) never share a widget, whose state Streamlit would mix up on a switch."""
    return f"_w_{st.session_state.get(SCOPE_KEY, 'app')}_{key}"


def assign(key: str, value: str | list[str] | None) -> None:
    """Set a setting from code (None forgets it): the URL and this session's store change now, and its widget,
    if drawn, starts from the new value on the next run (call st.rerun() after)."""
    st.session_state.pop(_widget_key(key), None)
    if value is None or value == [] or value == "":
        _store().pop(key, None)
        if key in st.query_params:
            del st.query_params[key]
    else:
        _store()[key] = value
        st.query_params[key] = value


def _seed(key: str, value: Any) -> str:
    """Put the starting value in the widget's session slot (only when the widget has none)."""
    wkey = _widget_key(key)
    if wkey not in st.session_state:
        st.session_state[wkey] = value
    return wkey


def choice(label: str, options: Sequence[Any], *, key: str, default: Any = None, widget: str = "selectbox",
           format_func: Callable[[Any], str] = str, container: Any = None, **kwargs: Any) -> Any:
    """A selectbox / radio / segmented control whose value is kept in the URL under `key`."""
    options = list(options)
    if not options:
        return None
    by_text = {str(o): o for o in options}
    if default not in options:
        default = options[0]
    wkey = _widget_key(key)
    if wkey in st.session_state and st.session_state[wkey] not in options:
        del st.session_state[wkey]
    text = raw(key)
    start = by_text.get(text, default) if isinstance(text, str) else default
    if _seed(key, start) and st.session_state[wkey] not in options:
        st.session_state[wkey] = start
    target = container or st
    make = {"selectbox": target.selectbox, "radio": target.radio}[widget]
    value = make(label, options, key=wkey, format_func=format_func, **kwargs)
    remember(key, str(value), str(default))
    return value


def choices(label: str, options: Sequence[Any], *, key: str, default: Sequence[Any] | None = None,
            format_func: Callable[[Any], str] = str, container: Any = None, **kwargs: Any) -> list[Any]:
    """A multiselect whose values are kept in the URL under `key` (repeated keys: ?fam=a&fam=b).

    `default=None` means all options; the URL then stays short.
    """
    options = list(options)
    by_text = {str(o): o for o in options}
    default = list(options) if default is None else [d for d in default if d in options]
    wkey = _widget_key(key)
    if wkey in st.session_state and any(v not in options for v in st.session_state[wkey]):
        del st.session_state[wkey]
    text = raw(key)
    if text is None:
        start = default
    else:
        texts = [text] if isinstance(text, str) else list(text)
        start = [by_text[t] for t in texts if t in by_text] or default
    if _seed(key, start) and any(v not in options for v in st.session_state[wkey]):
        st.session_state[wkey] = start
    target = container or st
    values = target.multiselect(label, options, key=wkey, format_func=format_func, **kwargs)
    remember(key, [str(v) for v in values], [str(d) for d in default])
    return values


def flag(label: str, *, key: str, default: bool = False, widget: str = "toggle", container: Any = None,
         **kwargs: Any) -> bool:
    """A toggle / checkbox kept in the URL as 1 or 0."""
    text = raw(key)
    start = default if text not in ("0", "1") else text == "1"
    wkey = _seed(key, start)
    target = container or st
    make = {"toggle": target.toggle, "checkbox": target.checkbox}[widget]
    value = bool(make(label, key=wkey, **kwargs))
    remember(key, "1" if value else "0", "1" if default else "0")
    return value


def text(label: str, *, key: str, default: str = "", container: Any = None, **kwargs: Any) -> str:
    """A text input kept in the URL (at most 200 characters are read back from a link)."""
    raw_text = raw(key)
    start = raw_text[:200] if isinstance(raw_text, str) else default
    wkey = _seed(key, start)
    target = container or st
    value = target.text_input(label, key=wkey, **kwargs)
    remember(key, value, default)
    return value


def number(label: str, *, key: str, default: int, min_value: int, max_value: int, container: Any = None,
           **kwargs: Any) -> int:
    """An integer number input kept in the URL; values out of range in a link fall back to the default."""
    text_value = raw(key)
    try:
        start = int(text_value) if isinstance(text_value, str) else default
    except ValueError:
        start = default
    if not min_value <= start <= max_value:
        start = default
    wkey = _seed(key, start)
    target = container or st
    value = int(target.number_input(label, min_value=min_value, max_value=max_value, step=1, key=wkey, **kwargs))
    remember(key, str(value), str(default))
    return value


def value_of(key: str, default: str) -> str:
    """A setting's value without drawing a widget (e.g. the law form on the What-if page)."""
    text_value = raw(key)
    return text_value if isinstance(text_value, str) else default
