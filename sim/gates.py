"""Gates: '[scenario.]metric OP value' strings checked against the report's metrics."""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass

OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
_GATE = re.compile(
    r"^\s*(?:(?P<scenario>[A-Za-z0-9_]+)\.)?(?P<metric>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op><=|>=|<|>)\s*(?P<value>\S+)\s*$"
)


@dataclass(frozen=True)
class Gate:
    metric: str
    op: str
    value: float
    scenario: str | None = None

    def __str__(self) -> str:
        where = f"{self.scenario}." if self.scenario else ""
        return f"{where}{self.metric}{self.op}{self.value:g}"

    def check(self, measured: float) -> bool:
        """A NaN measurement fails the gate (it could not be checked)."""
        return not math.isnan(measured) and OPS[self.op](measured, self.value)


def parse(text: str, metrics: list[str], scenarios: list[str]) -> Gate:
    """Parse one gate; fail with one line naming what is wrong and what is accepted."""
    match = _GATE.match(str(text))
    if match is None:
        raise ValueError(f"gates: '{text}' is not a gate; write '[scenario.]metric OP value' with OP one of "
                         f"{', '.join(OPS)}, e.g. 'fall_rate<=0.05'")  # fmt: skip
    metric, scenario = match["metric"], match["scenario"]
    if metric not in metrics:
        raise ValueError(f"gates: unknown metric '{metric}' in '{text}'; accepted: {', '.join(metrics)}")
    if scenario is not None and scenario not in scenarios:
        raise ValueError(f"gates: unknown scenario '{scenario}' in '{text}'; accepted: {', '.join(scenarios)}")
    try:
        value = float(match["value"])
    except ValueError:
        raise ValueError(f"gates: '{match['value']}' in '{text}' is not a number") from None
    if math.isnan(value):
        raise ValueError(f"gates: '{text}' compares with NaN; give a number")
    return Gate(metric, match["op"], value, scenario)
