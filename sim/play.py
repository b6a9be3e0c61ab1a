"""Drive a trained robot yourself: `python play.py policy=<run_dir | bundle_dir> [viewer=window|browser|headless]`.

The Player holds one robot of the policy's own task (nominal physics, the ground it trained on unless told
otherwise) and steps it with the policy; a frontend sets the command, pushes, resets, pauses and slows time:
MuJoCo's window (`viewer=window`, keys below), a browser page served with viser (`viewer=browser`, for
headless training boxes: `sim/play_browser.py`), or a scripted run that prints what the robot did
(`viewer=headless`). A bundle flies through its NumPy runtime: exactly what export ships.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs import task_config
from envs.rollout import check_obs_size, policy_obs
from envs.task import LocomotionTask
from sim.config import PlayConfig
from sim.policy import Policy, load_policy

KEYS = {  # GLFW key codes of MuJoCo's window -> (what, amount)
    265: ("vx", +0.1),
    264: ("vx", -0.1),  # up, down
    263: ("yaw", +0.1),
    262: ("yaw", -0.1),  # left, right
    44: ("vy", +0.1),
    46: ("vy", -0.1),  # ',' '.'
    32: ("pause", 0),
    80: ("push", 0),
    82: ("reset", 0),
    83: ("slow", 0),
    48: ("stop", 0),  # space P R S 0
}
"""Window keys: arrows for vx and yaw rate, ',' and '.' for vy, space pause, P push, R reset, S slow motion,
0 zero command."""


@dataclass
class Reading:
    """What the robot did during the last policy step."""

    t: float
    command: np.ndarray
    measured: np.ndarray
    """vx, vy (m/s) in the base frame and yaw rate (rad/s), as the tracking metrics measure them."""
    fell: bool


class Player:
    """One robot flown by a policy, under an operator's command."""

    def __init__(self, policy: Policy, terrain: Any = None, seed: int = 0, history_s: float = 10.0,
                 robot: Any = None) -> None:  # fmt: skip
        # presets by name or dicts (what play.yaml's robot/terrain groups compose), over the policy's own
        changes = {k: v for k, v in (("robot", robot), ("terrain", terrain)) if v is not None}
        cfg = task_config(policy.cfg, randomization="none", **changes)
        cfg.env.sim.episode_length_s = 3600.0  # the operator decides when to reset
        cfg.env.curriculum = {}
        if "velocity" not in cfg.env.commands:
            raise ValueError(f"policy: its task has no velocity command to drive; commands: {list(cfg.env.commands)}")
        self.policy, self.task = policy, LocomotionTask(cfg, num_envs=1, seed=seed, nthread=1)
        check_obs_size(policy, self.task)
        trained = list(policy.cfg.robot.joints)
        if self.task.scene.joint_names != trained:
            raise ValueError(f"robot: {cfg.robot.name}'s joints {self.task.scene.joint_names} are not the joints the policy "
                             f"was trained on {trained}")  # fmt: skip
        params = cfg.env.commands["velocity"].params
        self.limits = {k: list(params.get(k, [-1.0, 1.0])) for k in ("vx", "vy", "yaw_rate")}
        """The command ranges the policy trained on: frontends offer these."""
        self.command = np.zeros(3)
        self.falls = 0
        self.history: deque[Reading] = deque(maxlen=int(round(history_s / self.task.dt)))
        self.t = 0.0
        self.reset()

    @property
    def dt(self) -> float:
        return self.task.dt

    def set_command(self, vx: float, vy: float, yaw_rate: float) -> None:
        """The operator's command, clipped to the ranges the policy trained on; held until changed."""
        lim = self.limits
        self.command = np.array([np.clip(vx, *lim["vx"]), np.clip(vy, *lim["vy"]), np.clip(yaw_rate, *lim["yaw_rate"])])

    def nudge(self, what: str, amount: float) -> None:
        """Change one component of the command by `amount` (a key press)."""
        i = {"vx": 0, "vy": 1, "yaw": 2}[what]
        command = self.command.copy()
        command[i] = round(command[i] + amount, 3)
        self.set_command(*command)

    def reset(self) -> None:
        """A new episode at the spawn point, command kept."""
        self.task.commands.terms["velocity"].hold(np.array([0]), self.command)
        self.obs = policy_obs(self.task.reset())

    def push(self, speed: float = 0.5) -> None:
        """Kick the base sideways (its left) at `speed` m/s, as validation's push events do."""
        task, r = self.task, self.task.scene.root_dof
        w, x, y, z = task.qpos[0, task.scene.root_qpos + 3 : task.scene.root_qpos + 7]
        left = np.array([2 * (x * y - w * z), 1 - 2 * (x * x + z * z)])  # the base's y axis in the world plane
        task.qvel[0, r : r + 2] += speed * left / max(np.linalg.norm(left), 1e-9)

    def step(self) -> Reading:
        """One policy step under the current command; a fall starts a new episode."""
        self.task.commands.terms["velocity"].hold(np.array([0]), self.command)
        result = self.task.step(np.asarray(self.policy(self.obs), dtype=np.float64).reshape(1, -1))
        s = self.task.last_state
        fell = bool(result.terminated[0])
        self.falls += fell
        self.t += self.dt
        reading = Reading(self.t, self.command.copy(), np.array([s.base_lin_vel[0, 0], s.base_lin_vel[0, 1],
                                                                 s.base_ang_vel[0, 2]]), fell)  # fmt: skip
        self.history.append(reading)
        self.obs = policy_obs(result.obs)
        return reading

    def status(self) -> str:
        """One line: command, measured velocity, falls."""
        m = self.history[-1].measured if self.history else np.zeros(3)
        c = self.command
        return (f"command vx {c[0]:+.2f} vy {c[1]:+.2f} yaw {c[2]:+.2f} | measured vx {m[0]:+.2f} vy {m[1]:+.2f} "
                f"yaw {m[2]:+.2f} | falls {self.falls}")  # fmt: skip


def run_script(player: Player, script: list[list[float]], settle_s: float = 1.0) -> list[dict[str, Any]]:
    """Fly [[seconds, vx, vy, yaw_rate], ...]; each segment's mean measured velocity after `settle_s`."""
    out = []
    for seconds, vx, vy, yaw in script:
        player.set_command(vx, vy, yaw)
        readings = [player.step() for _ in range(int(round(seconds / player.dt)))]
        kept = [r.measured for r in readings if r.t - readings[0].t >= settle_s - 1e-9] or [readings[-1].measured]
        out.append({"command": player.command.tolist(), "measured": np.mean(kept, axis=0).tolist(),
                    "falls": sum(r.fell for r in readings)})  # fmt: skip
    return out


GAMEPAD_AXES = {"vx": (1, -1.0), "vy": (0, -1.0), "yaw": (3, -1.0)}
"""Left stick forward/back and sideways, right stick sideways for the yaw rate (SDL's usual layout: up and left
are negative); buttons: A (0) push, B (1) reset, Start (7) pause."""
DEADZONE = 0.08


def gamepad_command(axes: list[float], limits: dict[str, list[float]]) -> tuple[float, float, float]:
    """Stick positions in [-1, 1] -> (vx, vy, yaw rate): full stick is the end of the trained range in that
    direction; a dead zone around the centre stands still."""
    out = []
    for what, key in (("vx", "vx"), ("vy", "vy"), ("yaw", "yaw_rate")):
        index, sign = GAMEPAD_AXES[what]
        value = sign * (axes[index] if index < len(axes) else 0.0)
        value = 0.0 if abs(value) < DEADZONE else value
        low, high = limits[key]
        out.append(value * (high if value > 0 else -low))
    return out[0], out[1], out[2]


class Gamepad:
    """The first joystick pygame sees, if pygame is installed and one is plugged in; else `present` is False."""

    def __init__(self) -> None:
        self.present, self.pressed = False, set()
        try:
            import os

            os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
            import pygame

            pygame.init()
            pygame.joystick.init()
            if pygame.joystick.get_count():
                self.pygame, self.stick, self.present = pygame, pygame.joystick.Joystick(0), True
        except ImportError:
            pass

    def poll(self, player: Player, state: dict) -> None:
        """Sticks set the command; a button press pushes, resets or pauses."""
        if not self.present:
            return
        self.pygame.event.pump()
        axes = [self.stick.get_axis(i) for i in range(self.stick.get_numaxes())]
        player.set_command(*gamepad_command(axes, player.limits))
        now = {b for b in range(self.stick.get_numbuttons()) if self.stick.get_button(b)}
        for button in now - self.pressed:
            if button == 0:
                player.push()
            elif button == 1:
                player.reset()
            elif button == 7:
                state["pause"] = not state["pause"]
        self.pressed = now


def window(player: Player) -> None:
    """MuJoCo's own viewer: keys (KEYS) or a gamepad (with pygame) drive the command, an overlay shows command
    and measured velocity."""
    import mujoco
    import mujoco.viewer

    task = player.task
    data = mujoco.MjData(task.model)
    state = {"pause": False, "slow": False}
    pad = Gamepad()

    def on_key(key: int) -> None:
        what, amount = KEYS.get(key, (None, 0))
        if what in ("vx", "vy", "yaw"):
            player.nudge(what, amount)
        elif what == "stop":
            player.set_command(0.0, 0.0, 0.0)
        elif what in ("pause", "slow"):
            state[what] = not state[what]
        elif what == "push":
            player.push()
        elif what == "reset":
            player.reset()

    with mujoco.viewer.launch_passive(task.model, data, key_callback=on_key) as viewer:
        viewer.cam.type = mujoco.mjtCamera.mjCAMERA_TRACKING
        viewer.cam.trackbodyid = task.scene.base_body
        viewer.cam.distance = 2.0
        while viewer.is_running():
            start = time.perf_counter()
            pad.poll(player, state)
            if not state["pause"]:
                player.step()
            with viewer.lock():
                data.qpos[:], data.qvel[:] = task.qpos[0], task.qvel[0]
                mujoco.mj_forward(task.model, data)
                flags = (" PAUSED" if state["pause"] else "") + (" SLOW x0.25" if state["slow"] else "")
                viewer.set_texts(
                    (None, None, player.status() + flags, "arrows vx/yaw  , . vy  P push  R reset  S slow")
                )
            viewer.sync()
            period = player.dt * (4.0 if state["slow"] else 1.0)
            time.sleep(max(0.0, period - (time.perf_counter() - start)))


def main(cfg: PlayConfig) -> int:
    """play.py's body."""
    if cfg.policy is None:
        raise ValueError("policy: missing; give policy=<run_dir> (train.py) or policy=<bundle_dir> (export.py)")
    if cfg.viewer not in ("window", "browser", "headless"):
        raise ValueError(f"viewer: unknown '{cfg.viewer}'; accepted: window, browser, headless")
    script = [list(row) for row in cfg.script]
    if not script or any(len(row) != 4 or not all(isinstance(v, (int, float)) for v in row) or row[0] <= 0
                         for row in script):  # fmt: skip
        raise ValueError(f"script: give [[seconds > 0, vx, vy, yaw_rate], ...], got {script}")
    player = Player(load_policy(cfg.policy), terrain=cfg.terrain, seed=cfg.seed, robot=cfg.robot)
    if cfg.viewer == "headless":
        for row, part in zip(run_script(player, script), script, strict=True):
            c, m = row["command"], row["measured"]
            print(f"{part[0]:5.1f} s  command ({c[0]:+.2f}, {c[1]:+.2f}, {c[2]:+.2f})  measured ({m[0]:+.2f}, "
                  f"{m[1]:+.2f}, {m[2]:+.2f})  falls {row['falls']}")  # fmt: skip
        return 0
    if cfg.viewer == "window":
        window(player)
        return 0
    try:
        import viser  # noqa: F401
    except ImportError:
        raise ValueError("viewer=browser: needs viser (pip install 'viser>=1.1', or locoforge[play]); "
                         "viewer=window and viewer=headless do not") from None  # fmt: skip
    from sim.play_browser import serve

    serve(player, host=cfg.host, port=cfg.port)
    return 0
