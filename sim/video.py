"""One episode of a scenario rendered offscreen (MUJOCO_GL=egl or osmesa) into an MP4."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envs.config import TaskConfig
from envs.rollout import rollout


def _reason(err: BaseException) -> str:
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"


def record(
    policy: Any, cfg: TaskConfig, path: Path, seconds: float = 5.0, size: tuple[int, int] = (360, 480)
) -> dict[str, Any]:
    """Render one environment of a scenario; {'made': bool, 'path', 'reason'} for the report."""
    try:
        import imageio

        from envs.render import TaskRenderer
        from envs.task import LocomotionTask

        task = LocomotionTask(cfg, num_envs=1, seed=0, nthread=1)
        renderer = TaskRenderer(task, *size)
    except Exception as err:  # no GL backend, no display: validation goes on without a video
        return {"made": False, "path": None, "reason": _reason(err)}
    try:
        frames = [renderer.render(0) for _ in rollout(policy, task, int(round(seconds / task.dt)))]
        path.parent.mkdir(parents=True, exist_ok=True)
        imageio.mimsave(path, frames, fps=int(round(1.0 / task.dt)), macro_block_size=1)
    except Exception as err:
        return {"made": False, "path": None, "reason": _reason(err)}
    finally:
        renderer.close()
    return {"made": True, "path": path.name, "reason": None, "frames": len(frames)}
