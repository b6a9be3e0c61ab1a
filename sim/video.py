"""One episode of a scenario rendered offscreen (MUJOCO_GL=egl or osmesa) into an MP4."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from envs.config import TaskConfig
from envs.rollout import rollout


def _reason(err: BaseException) -> str:
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"


def overlay(frame: np.ndarray, lines: list[str]) -> np.ndarray:
    """Text lines on a dark band at the top of an RGB frame (what the robot was told and what it did)."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, image.width, 14 * len(lines) + 6], fill=(20, 24, 30))
    for i, line in enumerate(lines):
        draw.text((6, 3 + 14 * i), line, fill=(235, 235, 235))
    return np.asarray(image)


def record(
    policy: Any,
    cfg: TaskConfig,
    path: Path,
    seconds: float = 5.0,
    size: tuple[int, int] = (360, 480),
    title: str = "",
) -> dict[str, Any]:
    """Render one environment of a scenario, command and measured velocity written on each frame;
    {'made': bool, 'path', 'reason'} for the report."""
    try:
        import imageio

        from envs.render import TaskRenderer
        from envs.task import LocomotionTask

        task = LocomotionTask(cfg, num_envs=1, seed=0, nthread=1)
        renderer = TaskRenderer(task, *size)
    except Exception as err:  # no GL backend, no display: validation goes on without a video
        return {"made": False, "path": None, "reason": _reason(err)}
    try:
        frames = []
        for step in rollout(policy, task, int(round(seconds / task.dt))):
            c, v, w = step.command[0], step.state.base_lin_vel[0], step.state.base_ang_vel[0, 2]
            frames.append(overlay(renderer.render(0), [
                f"{title}  t {step.index * task.dt:4.1f} s",
                f"command  vx {c[0]:+.2f}  vy {c[1]:+.2f}  yaw {c[2]:+.2f}",
                f"measured vx {v[0]:+.2f}  vy {v[1]:+.2f}  yaw {w:+.2f}"]))  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        imageio.mimsave(path, frames, fps=int(round(1.0 / task.dt)), macro_block_size=1)
    except Exception as err:
        return {"made": False, "path": None, "reason": _reason(err)}
    finally:
        renderer.close()
    return {"made": True, "path": path.name, "reason": None, "frames": len(frames)}
