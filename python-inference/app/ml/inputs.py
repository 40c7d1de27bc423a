"""Per-input checks for each input kind; they return a message instead of raising so that
the API can report every bad input of a batch at once."""

from __future__ import annotations

import math
from typing import Any

from app.ml.model import ServedModel


def input_error(model: ServedModel, value: Any, *, max_text_length: int) -> str | None:
    if model.input_kind == "text":
        return text_error(value, max_text_length=max_text_length)
    return features_error(value, feature_count=model.feature_count or 0)


def text_error(value: Any, *, max_text_length: int) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, got {_json_type(value)}"
    if not is_unicode(value):
        return "must be valid Unicode text (no lone UTF-16 surrogate)"
    if not value.strip():
        return "must not be empty or whitespace only"
    if len(value) > max_text_length:
        return f"must be at most {max_text_length} characters, got {len(value)}"
    return None


def is_unicode(text: str) -> bool:
    """JSON can escape a lone UTF-16 surrogate ("\\ud800"); Python decodes it into a str that is not Unicode text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def features_error(value: Any, *, feature_count: int) -> str | None:
    if not isinstance(value, list):
        return f"must be a list of {feature_count} numbers, got {_json_type(value)}"
    if len(value) != feature_count:
        return f"must be a list of {feature_count} numbers, got {len(value)} items"
    for position, number in enumerate(value):
        if not _is_number(number):
            return f"item {position} must be a number, got {_json_type(number)}"
        if not _is_finite(number):
            return f"item {position} must be a finite number"
    return None


def _is_number(value: Any) -> bool:
    # bool is an int subclass, but `true` is not a measurement.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite(number: int | float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an int too large for a float
        return False


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
