"""Checks of [low, high] ranges in term parameters: one line naming the field and what is accepted."""

from __future__ import annotations


def check_range(name: str, value: list | None, non_negative: bool) -> None:
    """Fail with one line unless value is None or [low, high] with low <= high (and low >= 0 if asked)."""
    if value is None:
        return
    if len(value) != 2 or value[0] > value[1] or (non_negative and value[0] < 0):
        floor = "0 <= " if non_negative else ""
        raise ValueError(f"{name}: {list(value)} is not a range; give [low, high] with {floor}low <= high")
