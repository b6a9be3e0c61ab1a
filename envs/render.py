"""The one offscreen renderer of a task: one simulation of the batch, seen by the robot's tracking camera."""

from __future__ import annotations

import mujoco
import numpy as np

from envs.robot import CAMERA
from envs.task import LocomotionTask


class TaskRenderer:
    """Renders simulation `index` of a task; needs a GL backend (MUJOCO_GL=egl or osmesa when headless)."""

    def __init__(self, task: LocomotionTask, height: int = 360, width: int = 480) -> None:
        self.task = task
        try:
            self.renderer = mujoco.Renderer(task.model, height, width)
        except Exception as err:  # no GL backend or display: one line saying how to get one
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise RuntimeError(f"rendering: no OpenGL context ({first}); on a machine without a display set "
                               "MUJOCO_GL=egl (Debian: libegl1 libegl-mesa0) or osmesa (libosmesa6) before "
                               "importing mujoco") from None  # fmt: skip
        self.data = mujoco.MjData(task.model)

    def render(self, index: int = 0) -> np.ndarray:
        """An RGB frame (height, width, 3) of simulation `index` as it stands now."""
        self.task.batch.get_data(index, self.data)
        mujoco.mj_forward(self.task.batch.get_model(index), self.data)
        self.renderer.update_scene(self.data, camera=CAMERA)
        return self.renderer.render().copy()

    def close(self) -> None:
        self.renderer.close()
