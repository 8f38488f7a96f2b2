"""The app's safety net: any exception inside a guarded block becomes one `st.error` in words, never a
traceback on the screen (DESIGN.md: bad input gets a clear message). The traceback goes to the server log.

Use `with guarded("fitting the law"):` around each independent part of a page so that one failing part
leaves the rest of the page usable; `app/main.py` guards the whole page as a last resort.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from app.display import md

log = logging.getLogger("capgap.app")


def describe_error(error: BaseException) -> str:
    """A one-paragraph message for the user: validation errors as they are, others with their type."""
    text = str(error).strip() or error.__class__.__name__
    # the loaders' DataError and plain ValueErrors already say file/row/column and expected vs found
    if isinstance(error, (ValueError, KeyError, FileNotFoundError)) and not isinstance(error, KeyError):
        return text
    if isinstance(error, KeyError):
        return f"missing entry {text}"
    return f"{error.__class__.__name__}: {text}"


@contextmanager
def guarded(what: str) -> Iterator[None]:
    """Show any exception raised in the block as `Could not <what>: <message>`, and carry on."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - the point is that nothing escapes to the screen
        # st.stop()/st.rerun() raise BaseException subclasses, which pass through untouched
        log.exception("error while %s", what)
        st.error(f"Could not {what}: {md(describe_error(error))}", icon=":material/error:")
