"""argparse ``type=`` converters shared by the command-line entry points.

An ``argparse.ArgumentTypeError`` (unlike a ``ValueError``) is shown to the user with its
own message, so each converter says what the option needs and what it got.
"""

from __future__ import annotations

import argparse


def _number_at_least(text: str, kind: type, low: float, strict: bool, what: str) -> int | float:
    try:
        number = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if number < low or (strict and number == low) or number != number:  # number != number: NaN
        raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
    return number


def positive_int(text: str) -> int:
    """``text`` as an int >= 1."""
    return int(_number_at_least(text, int, 1, False, "a positive integer"))


def non_negative_int(text: str) -> int:
    """``text`` as an int >= 0."""
    return int(_number_at_least(text, int, 0, False, "a non-negative integer"))


def positive_float(text: str) -> float:
    """``text`` as a float > 0 (not NaN)."""
    return float(_number_at_least(text, float, 0.0, True, "a positive number"))


def device_name(text: str) -> str:
    """``text`` if it names a device the estimators accept: 'auto', 'cpu', 'cuda' or 'cuda:N'.

    Only the form is checked here; whether that GPU exists is checked when training starts.
    """
    from imbsk.estimators.base import check_device_form  # torch only when a command parses a device
    from sklearn.utils._param_validation import InvalidParameterError

    try:
        check_device_form(text, "--device")
    except InvalidParameterError:
        raise argparse.ArgumentTypeError(f"must be auto, cpu, cuda or cuda:N (N the index of a GPU), got {text!r}") from None
    return text
