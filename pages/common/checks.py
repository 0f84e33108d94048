"""Server-side checks of every API parameter (a client can bypass the sliders), and turning the library's
ValueErrors into messages the user sees: never a stack trace, and never more than ~80 characters of the bad value."""
from __future__ import annotations

import functools
import inspect
import math

import gradio as gr

MAX_SEED = 2**31 - 1  # the largest seed a page accepts
QUOTE = 80  # characters of a bad value an error message repeats


def quoted(value) -> str:
    """repr(value), cut to about QUOTE characters, so a huge value is never echoed back or logged."""
    text = repr(value)
    return text if len(text) <= QUOTE else f"{text[:QUOTE]}… ({len(text):,} characters)"


def check_int(value, name: str, lo: int, hi: int) -> int:
    """An integer in [lo, hi] (a whole float such as 3.0 counts, as sliders send floats)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value == int(value)
    if not ok or not lo <= int(value) <= hi:
        raise gr.Error(f"{name} must be a whole number from {lo} to {hi}; got {quoted(value)}.")
    return int(value)


def check_float(value, name: str, lo: float, hi: float) -> float:
    """A finite number in [lo, hi]."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not lo <= value <= hi:
        raise gr.Error(f"{name} must be a number from {lo:g} to {hi:g}; got {quoted(value)}.")
    return float(value)


def check_choice(value, name: str, choices):
    if not isinstance(value, (str, int, float, type(None))) or value not in choices:
        shown = ", ".join(map(str, choices))
        raise gr.Error(f"{name} must be one of: {shown[:300]}; got {quoted(value)}.")
    return value


def check_seed(value) -> int:
    return check_int(value, "seed", 0, MAX_SEED)


def _as_user_error(err: ValueError) -> gr.Error:
    message = str(err.args[0]) if err.args else str(err)
    return gr.Error(message if len(message) <= 400 else message[:400] + "…")


def user_errors(fn):
    """Re-raise the library's ValueError (bad input, bad upload) as gr.Error, so its message reaches the user."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except ValueError as err:
                raise _as_user_error(err) from None
        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except ValueError as err:
            raise _as_user_error(err) from None
    return wrapper
