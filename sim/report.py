"""Write report.json (schema: sim/report.schema.json), report.md and report.html with plots."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from common.io import atomic_write

SCHEMA = Path(__file__).with_name("report.schema.json")
TABLE_METRICS = [
    "fall_rate",
    "vx_rmse",
    "vy_rmse",
    "yaw_rmse",
    "speed_ratio",
    "return",
    "cost_of_transport",
    "torque_saturation",
    "action_rate",
    "foot_slip",
    "velocity_gap",
    "period_p99_ms",
    "deadline_misses",
    "states_lost_share",
    "hold_after_stale_ms",
    "damped",
]


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(scenario, verdict, failed gates) for the printed table."""
    rows = []
    for name, sc in report["scenarios"].items():
        failed = [g["gate"] + f" (got {_fmt(g['value'])})" for g in sc["gates"] if not g["passed"]]
        verdict = "PASS" if sc["passed"] else "FAIL"
        rows.append((name, verdict if sc["gates"] else "—", "; ".join(failed)))
    return rows


def plots(report: dict[str, Any], out: Path) -> list[str]:
    """Bar charts of the main metrics across scenarios; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["scenarios"])
    metrics = [m for m in ("fall_rate", "vx_rmse", "vy_rmse", "yaw_rmse", "return_mean") if any(
        report["scenarios"][n]["metrics"].get(m) is not None for n in names)]  # fmt: skip
    written = []
    for metric in metrics:
        values = [report["scenarios"][n]["metrics"].get(metric) or 0.0 for n in names]
        fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(names) + 2), 3.2))
        ax.bar(range(len(names)), values, color="#d9822b")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
        ax.set_title(metric)
        fig.tight_layout()
        path = out / "plots" / f"{metric}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(str(path.relative_to(out)))
    return written


def write(report: dict[str, Any], out: Path) -> None:
    """Plots, report.md and report.html, then report.json: its presence means the report is whole."""
    from sim.levels import plot as level_plot

    report["plots"] = plots(report, out) + [p for p in [level_plot(report, out)] if p]
    names = list(report["scenarios"])
    metric_names = [m for m in TABLE_METRICS if any(m in report["scenarios"][n]["metrics"] for n in names)] or list(
        report["scenarios"][names[0]]["metrics"])  # fmt: skip
    lines = [f"# Validation: suite `{report['suite']}`", "",
             f"Policy: `{report['policy']['path']}` ({report['policy']['kind']}, {report['policy'].get('env', '')}); "
             f"{report['episodes']} episodes of {report['episode_s']} s per scenario, seed {report['seed']}.", "",
             f"**Gates: {'all passed' if report['gates_passed'] else 'FAILED'}**", "",
             "| scenario | verdict | " + " | ".join(metric_names) + " |", "|---" * (len(metric_names) + 2) + "|"]  # fmt: skip
    for name, verdict, _ in summary_rows(report):
        values = " | ".join(_fmt(report["scenarios"][name]["metrics"].get(m)) for m in metric_names)
        lines.append(f"| {name} | {verdict} | {values} |")
    lines += [""] + [f"![{p}]({p})" for p in report["plots"]]
    video = report["video"]
    lines += ["", f"Video: {video['path']}" if video["made"] else f"Video not made: {video['reason']}", ""]
    for name, sc in report["scenarios"].items():
        if sc.get("levels"):
            m = sc["metrics"]
            lines.append(f"Terrain {name}: hardest level passed at <= 10 % falls: up {_fmt(m.get('highest_difficulty_up'))}, "
                         f"down {_fmt(m.get('highest_difficulty_down'))} (levels {_fmt(m['highest_level_up'])}, "
                         f"{_fmt(m['highest_level_down'])})")  # fmt: skip
    worst = report.get("worst_video")
    if worst and worst["made"]:
        lines += [f"Worst scenario ({worst['scenario']}): {worst['path']}", ""]
    atomic_write(out / "report.md", "\n".join(lines))
    rows = "".join(
        f"<tr><td>{html.escape(n)}</td><td>{v}</td>" + "".join(f"<td>{_fmt(report['scenarios'][n]['metrics'].get(m))}</td>" for m in metric_names) + "</tr>"
        for n, v, _ in summary_rows(report)
    )  # fmt: skip
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>LocoForge validation</title></head><body>"
            f"<h1>Validation: {html.escape(report['suite'])}</h1><p>{'All gates passed' if report['gates_passed'] else 'Gates FAILED'}</p>"
            f"<table border='1'><tr><th>scenario</th><th>verdict</th>" + "".join(f"<th>{m}</th>" for m in metric_names) + f"</tr>{rows}</table>"
            + "".join(f"<p><img src='{p}'></p>" for p in report["plots"])
            + (f"<video src='{video['path']}' controls></video>" if video["made"] else f"<p>Video not made: {html.escape(str(video['reason']))}</p>")
            + (f"<h2>Worst scenario: {html.escape(worst['scenario'])}</h2><video src='{worst['path']}' controls></video>"
               if worst and worst["made"] else "")
            + "</body></html>")  # fmt: skip
    atomic_write(out / "report.html", page)
    # last: a folder with report.json holds a whole report (a validation killed before this left none)
    atomic_write(out / "report.json", json.dumps(report, indent=2) + "\n")  # scenarios in suite order
