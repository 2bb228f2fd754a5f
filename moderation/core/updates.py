"""Partial updates: a settings or update payload leaves a field out (``None``)
to keep what is stored. One helper says that once, instead of one
``if p.x is not None: obj.x = p.x`` per field in every handler."""
from __future__ import annotations


def assign_given(target: object, payload: object, *fields: str, **renamed: str) -> list[str]:
    """Copy each of ``fields`` the payload gave (not ``None``) to the
    attribute of the same name on ``target``; ``renamed`` maps a target
    attribute to a payload field of another name
    (``summary_attribution="attribution"``). Returns the names of the
    target's attributes that were set, in the order given."""
    assigned = []
    for attribute, field in [*((name, name) for name in fields), *renamed.items()]:
        value = getattr(payload, field)
        if value is not None:
            setattr(target, attribute, value)
            assigned.append(attribute)
    return assigned
