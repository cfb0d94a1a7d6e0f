"""Checking a frozen config dataclass's fields when it is made: each value has the field's annotated type, and
lies in the range (or among the choices) a rule table gives for it.

    RULES = {"reprob": UNIT, "epochs": at_least(1), "amp": choice("auto", "off")}
    check_fields(cfg, RULES)      # ValueError "<owner>: reprob=25: reprob must be in [0, 1]"

Used by the stage configs (avfmae.train.domains) and the model configs (avfmae.models.geometry), so a recipe, a
grid file or an override with a wrong value is refused when the run is planned, naming the field.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import types
import typing

__all__ = ["at_least", "choice", "POSITIVE", "UNIT", "UNIT_OPEN", "FRACTION", "number", "integer", "check_fields",
           "lists_to_tuples"]


def at_least(lo):
    return (lambda v: v >= lo), f">= {lo}"


def choice(*options):
    return (lambda v: v in options), "one of " + ", ".join(options)


POSITIVE = (lambda v: v > 0), "> 0"
UNIT = (lambda v: 0 <= v <= 1), "in [0, 1]"
UNIT_OPEN = (lambda v: 0 <= v < 1), "in [0, 1)"
FRACTION = (lambda v: 0 < v < 1), "in (0, 1)"


def number(v) -> bool:
    """A finite real number (not a bool)."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def integer(v) -> bool:
    """An integer (python or numpy; not a bool)."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _allowed(hint) -> tuple:
    """The python types an annotation admits (tuple[int, ...] -> tuple; X | None -> X, NoneType)."""
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union \
        else (hint,)
    return tuple(typing.get_origin(a) or a for a in args)


@functools.lru_cache(maxsize=None)
def _hints(cls) -> dict:
    return {name: _allowed(hint) for name, hint in typing.get_type_hints(cls).items()}


def _type_ok(value, allowed: tuple) -> bool:
    if value is None:
        return type(None) in allowed
    if isinstance(value, bool):
        return bool in allowed
    if isinstance(value, numbers.Integral) and (int in allowed or float in allowed):
        return True                                          # numpy integers too
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return float in allowed and math.isfinite(value)
    return isinstance(value, tuple(a for a in allowed if isinstance(a, type) and a is not type(None)))


def _kind(allowed: tuple) -> str:
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string", tuple: "a tuple",
             type(None): "None"}
    return " or ".join(names.get(a, getattr(a, "__name__", str(a))) for a in allowed)


def lists_to_tuples(cfg) -> None:
    """A list given for a tuple field (JSON, a python caller) becomes a tuple, in place (frozen dataclass)."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, list) and tuple in _hints(type(cfg))[f.name]:
            object.__setattr__(cfg, f.name, tuple(value))


def check_fields(cfg, rules: dict, owner: str | None = None) -> None:
    """Raise ValueError naming the first field of the dataclass `cfg` whose value has the wrong type or breaks its
    rule (`rules`: field -> (test, what it takes)); `owner` starts the message (default: the class name)."""
    hints = _hints(type(cfg))
    owner = owner or type(cfg).__name__
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        allowed = hints[f.name]
        if not _type_ok(value, allowed):
            raise ValueError(f"{owner}: {f.name}={value!r} ({type(value).__name__}): {f.name} takes "
                             f"{_kind(allowed)}")
        rule = rules.get(f.name)
        if rule is not None and value is not None:
            test, what = rule
            try:
                ok = bool(test(value))
            except TypeError:
                ok = False
            if not ok:
                raise ValueError(f"{owner}: {f.name}={value!r}: {f.name} must be {what}")
