"""One nominal episode rendered offscreen (MUJOCO_GL=egl or osmesa) into an MP4."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def record(
    policy: Any, parts: dict[str, Any], path: Path, seconds: float = 5.0, size: tuple[int, int] = (360, 480)
) -> dict[str, Any]:
    """Render one environment of a scenario; {'made': bool, 'path', 'reason'} for the report."""
    try:
        import imageio
        import mujoco

        from envs.task import LocomotionTask

        task = LocomotionTask(**parts, num_envs=1, seed=0, nthread=1)
        renderer = mujoco.Renderer(task.model, *size)
    except Exception as err:  # no GL backend, no display: validation goes on without a video
        return {
            "made": False,
            "path": None,
            "reason": f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}",
        }
    obs = task.reset()
    frames = []
    data = mujoco.MjData(task.model)
    try:
        for _ in range(int(round(seconds / task.dt))):
            obs = obs["policy"] if isinstance(obs, dict) else obs
            result = task.step(np.asarray(policy(obs), dtype=np.float64))
            obs = result.obs
            task.batch.get_data(0, data)
            mujoco.mj_forward(task.batch.get_model(0), data)
            renderer.update_scene(data, camera="track")
            frames.append(renderer.render().copy())
        path.parent.mkdir(parents=True, exist_ok=True)
        imageio.mimsave(path, frames, fps=int(round(1.0 / task.dt)), macro_block_size=1)
    except Exception as err:
        return {
            "made": False,
            "path": None,
            "reason": f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}",
        }
    finally:
        renderer.close()
    return {"made": True, "path": path.name, "reason": None, "frames": len(frames)}
