"""The velocity-tracking locomotion task, stepped for all environments at once through mujoco.batch.

One policy step is one `Batch.rollout` of `decimation` physics steps on all cores with the GIL released:
per-substep controls carry the action delay, and the recorded substeps give the delayed observation.
Everything else is NumPy over all environments, in terms composed by managers from config: commands,
events (resets, randomization, pushes, delays), curriculum, observations, rewards and terminations.
A simulation that diverges is reset alone and counted; its numbers never reach the policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from envs.config import EnvConfig, ReferenceRobotConfig, TaskConfig
from envs.managers import (
    CommandManager,
    CurriculumManager,
    EventManager,
    ObservationManager,
    RewardManager,
    TerminationManager,  # fmt: skip
)
from envs.mdp.state import LazyState, State
from envs.mirror import Mirror, observation_map, robot_sides
from envs.physics_state import PhysicsFields
from envs.robot import Scene, build_scene
from envs.simulation import Simulation
from envs.terrain import Terrain


@dataclass
class StepResult:
    """What one policy step returns for all environments."""

    obs: Any
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    terminal_obs: Any = None
    """Observations at the end of the finished episodes (rows of the done environments)."""
    infos: list[dict] = field(default_factory=list)


def _validate(env: EnvConfig) -> None:
    sim = env.sim
    if sim.physics_dt <= 0 or sim.decimation < 1 or sim.episode_length_s <= 0:
        raise ValueError("env.sim: physics_dt and episode_length_s must be > 0 and decimation >= 1")
    if not env.observations:
        raise ValueError("env.observations: no observation terms; give at least one")
    if env.action_clip <= 0:
        raise ValueError(f"env.action_clip: must be > 0, got {env.action_clip}")
    if env.obs_noise_scale < 0:
        raise ValueError(f"env.obs_noise_scale: must be >= 0, got {env.obs_noise_scale}")
    if "reset_pose" not in env.events:
        raise ValueError(f"env.events: 'reset_pose' is required (it starts every episode); given: {list(env.events)}")
    if sim.nthread < 0 or sim.max_base_speed <= 0 or (sim.impratio is not None and sim.impratio <= 0):
        raise ValueError("env.sim: nthread >= 0 (0: all cores), max_base_speed > 0 and impratio > 0 are required")
    if sim.contact_solref is not None and (len(sim.contact_solref) != 2 or sim.contact_solref[0] <= 0):
        raise ValueError(f"env.sim.contact_solref: give [timeconst > 0, dampratio], got {list(sim.contact_solref)}")
    if env.gait is not None and (env.gait.period_s <= 0 or any(not 0 <= o < 1 for o in env.gait.offsets)):
        raise ValueError(f"env.gait: period_s > 0 and offsets in [0, 1) are required, got period_s={env.gait.period_s}, "
                         f"offsets={list(env.gait.offsets)}")  # fmt: skip
    ref = env.reference_robot
    if ref is not None and (ref.mass <= 0 or ref.torque_limit_rms <= 0):
        raise ValueError(f"env.reference_robot: mass and torque_limit_rms must be > 0 (or the section null), got "
                         f"mass={ref.mass}, torque_limit_rms={ref.torque_limit_rms}")  # fmt: skip
    for group in ("observations", "critic_observations"):
        for name, term in getattr(env, group).items():
            if term.noise < 0 or (term.clip is not None and term.clip <= 0):
                raise ValueError(f"env.{group}.{name}: noise >= 0 and clip > 0 (or null) are required")


def robot_scales(ref: ReferenceRobotConfig | None, mass: float, torque_limit: np.ndarray) -> tuple[float, float]:
    """(payload scale, torque-penalty scale) of a robot against the reference robot; (1, 1) without one.
    Rounded to 6 decimals: the reference robot itself gets exactly 1 and trains bit for bit as before."""
    if ref is None:
        return 1.0, 1.0
    rms = float(np.sqrt(np.mean(np.square(torque_limit))))
    return round(mass / ref.mass, 6), round((ref.torque_limit_rms / rms) ** 2, 6)


class LocomotionTask:
    """All environments of the task; `step` takes (n, num_joints) actions in [-action_clip, action_clip]."""

    render_mode = None  # SB3's VecEnv asks its environments for one

    def __init__(self, cfg: TaskConfig, num_envs: int, seed: int = 0, autoreset: bool = True,
                 nthread: int | None = None) -> None:  # fmt: skip
        if num_envs < 1:
            raise ValueError(f"num_envs: must be >= 1, got {num_envs}")
        env = cfg.env
        _validate(env)
        self.cfg, self.num_envs, self.autoreset = env, num_envs, autoreset
        self.dt = env.sim.physics_dt * env.sim.decimation
        self.decimation = env.sim.decimation
        self.terrain = Terrain(cfg.terrain, seed)
        self.scene: Scene = build_scene(cfg.robot, env.sim, self.terrain)
        if env.gait is not None and len(env.gait.offsets) != len(cfg.robot.feet):
            raise ValueError(f"env.gait.offsets: one phase offset per foot of robot.feet ({len(cfg.robot.feet)}: "
                             f"{', '.join(cfg.robot.feet)}), got {list(env.gait.offsets)}")  # fmt: skip
        self.model = self.scene.model
        self.sim = Simulation(self.model, num_envs, env.sim.nthread if nthread is None else nthread, self.decimation,
                              self.scene.root_dof, env.sim.max_base_speed, self.scene.held_default)  # fmt: skip
        self.batch, self.qpos, self.qvel, self.ctrl = self.sim.batch, self.sim.qpos, self.sim.qvel, self.sim.ctrl
        self.max_episode_steps = int(round(env.sim.episode_length_s / self.dt))
        self.rng = np.random.default_rng(seed)
        self.noise_scale = env.obs_noise_scale
        self.mass_scale, self.torque_scale = robot_scales(env.reference_robot, self.robot_mass,
                                                          self.scene.torque_limit)  # fmt: skip

        n, nj = num_envs, self.scene.num_joints
        self.action, self.action_before = np.zeros((n, nj)), np.zeros((n, nj))
        self.target = np.tile(self.scene.default_joint_pos, (n, 1))
        self.action_delay = np.zeros(n, dtype=int)  # physics steps, drawn by the action_delay event
        self.obs_delay = np.zeros(n, dtype=int)
        self.episode_step = np.zeros(n, dtype=int)
        self.joint_vel_prev = np.zeros((n, nj))
        self.levels = np.full(n, cfg.terrain.start_level if not self.terrain.is_plane else 0)
        self.cols = np.arange(n) % self.terrain.n_cols
        self.origins = self.terrain.tile_origin(self.levels, self.cols)
        self.physics_resets = 0
        self.last_state: State | None = None
        self.training_steps = 0  # set by the trainer each rollout (all environments' steps): step-scheduled terms

        self.events = EventManager(env.events, self)
        self.commands = CommandManager(env.commands, self)
        self.curriculum = CurriculumManager(env.curriculum, self)
        probe = self._state(*self.sim.rows(), terminated=np.zeros(n, dtype=bool))  # shapes only
        self.obs_manager = ObservationManager(env.observations, "env.observations", probe)
        self.critic_manager = (ObservationManager(env.critic_observations, "env.critic_observations", probe)
                               if env.critic_observations else None)  # fmt: skip
        self.reward_manager = RewardManager(env.rewards, "env.rewards", probe, env.reward_floor)
        self.termination_manager = TerminationManager(env.terminations, "env.terminations", probe)
        self.episode_sums = {name: np.zeros(n) for name in self.reward_manager.names}
        self._last_obs = self.reset()

    @property
    def robot_mass(self) -> float:
        """kg: the floating base and every body below it, as built (before any payload)."""
        return float(self.model.body_subtreemass[self.scene.base_body])

    def scale_line(self) -> str:
        """One line: how the scale-free terms treat this robot against the task's reference robot."""
        ref = self.cfg.reference_robot
        if ref is None:
            return "no reference robot: torques_l2 in N·m², payload in kg as written"
        rms = float(np.sqrt(np.mean(np.square(self.scene.torque_limit))))
        return (f"against the reference robot ({ref.mass:g} kg, RMS torque limit {ref.torque_limit_rms:.2f} N·m): "
                f"{self.robot_mass:.2f} kg -> payload x{self.mass_scale:g}; {rms:.2f} N·m -> torque penalty "
                f"x{self.torque_scale:g}")  # fmt: skip

    @property
    def command(self) -> np.ndarray:
        """The velocity command in force, (n, 3): vx, vy (m/s), yaw rate (rad/s); zeros without one."""
        term = self.commands.terms.get("velocity")
        return term.value if term is not None else np.zeros((self.num_envs, 3))

    def terminated(self, qpos: np.ndarray, qvel: np.ndarray, sensordata: np.ndarray, force: np.ndarray) -> np.ndarray:
        """(n,) whether the termination terms end an episode in these physics rows (n = num_envs): how a
        stand-in robot outside the batch (sim.robot_server) calls a fall as training did."""
        s = self._state(qpos, qvel, sensordata, force, terminated=np.zeros(len(qpos), dtype=bool))
        return self.termination_manager.compute(s)

    def torque_limits(self) -> np.ndarray:
        """Torque limit of each policy motor in each simulation as randomized, (n, num_joints)."""
        nj = self.scene.num_joints  # the policy's motors (held joints' follow them)
        ranges = self.batch.expanded("actuator_forcerange")
        if ranges is None:
            return np.broadcast_to(self.model.actuator_forcerange[:nj, 1], (self.num_envs, nj))
        return ranges[:, :nj, 1]

    # ----------------------------------------------------------------------------------------------
    # state and observations

    def _state(self, qpos: np.ndarray, qvel: np.ndarray, sens: np.ndarray, force: np.ndarray, terminated: np.ndarray,
               rows: np.ndarray | slice = slice(None)) -> State:  # fmt: skip
        """The State of simulations `rows` from their physics arrays (rows of qpos, qvel, ...). Views are set
        now; fields that take work are derived when a term first reads them (`PhysicsFields`)."""
        sc, r = self.scene, self.scene.root_qpos
        derived = PhysicsFields(self, qpos, qvel, sens, self.joint_vel_prev[rows], self.episode_step[rows].copy(), rows)
        return LazyState(
            derived.field, base_pos=qpos[:, r : r + 3], base_lin_vel=sens[:, sc.velocimeter],
            base_ang_vel=sens[:, sc.gyro], torque=force[:, : sc.num_joints], default_joint_pos=sc.default_joint_pos,
            nominal_height=sc.robot.nominal_height, min_base_height=sc.robot.min_base_height,
            joint_range=sc.joint_range, command=self.command[rows], action=self.action[rows],
            action_before=self.action_before[rows], terminated=terminated, dt=self.dt, joint_names=sc.joint_names,
            ground=self.terrain.height_at, torque_scale=self.torque_scale,
        )  # fmt: skip

    def _gait_phase(self, episode_step: np.ndarray) -> np.ndarray | None:
        """Each foot's gait clock phase in [0, 1) at these episode steps."""
        gait = self.cfg.gait
        if gait is None:
            return None
        t = episode_step * self.dt
        return np.mod(t[:, None] / gait.period_s + np.asarray(gait.offsets)[None, :], 1.0)

    def observe(self, s: State, critic_state: State | None = None, noise: bool = True,
                fresh: np.ndarray | slice | None = None) -> Any:  # fmt: skip
        """The policy observation of state `s` (delayed as the robot would see it) and, when privileged terms
        are configured, the critic's of `critic_state` (the current state: the critic is not a sensor). A step
        observes every environment (term histories advance); `fresh` names new episodes' rows instead."""
        policy = self.obs_manager.compute(s, self.rng if noise else None, self.noise_scale, fresh)
        if self.critic_manager is None:
            return policy
        return {"policy": policy, "critic": self.critic_manager.compute(critic_state or s, None, 0.0, fresh)}

    def mirror(self) -> Mirror:
        """The left-right mirror of this task's observations and actions (robot.mirror), for a symmetry loss."""
        sc, gait = self.scene, self.cfg.gait
        sides = robot_sides(self.model, sc.base_body, sc.joint_names, sc.default_joint_pos, list(sc.robot.feet),
                            dict(sc.robot.mirror), None if gait is None else list(gait.offsets))  # fmt: skip
        maps = {}
        for key, manager, where in (("policy", self.obs_manager, "env.observations"),
                                    ("critic", self.critic_manager, "env.critic_observations")):  # fmt: skip
            if manager is not None:
                terms = [(n, size, dict(manager.cfg[n].params), h)
                         for n, size, h in zip(manager.names, manager.frame_sizes, manager.histories)]  # fmt: skip
                maps[key] = observation_map(terms, sides, where)
        if self.critic_manager is None:
            maps = {"": maps["policy"]}
        return Mirror(action=observation_map([("previous_action", sc.num_joints, {})], sides, "actions"), obs=maps)

    def observation_schema(self) -> list[dict]:
        """The policy's observation terms in order (name, size, scale, noise, clip, units): the contract."""
        return self.obs_manager.schema()

    # ----------------------------------------------------------------------------------------------
    # reset

    def seed(self, seed: int) -> None:
        """Reseed the task's random stream (commands, randomization, noise, spawn)."""
        self.rng = np.random.default_rng(seed)

    def reset(self) -> Any:
        """Reset every environment; return the first observation."""
        self._reset_envs(np.arange(self.num_envs))
        return self.observe(self._state(*self.sim.rows(), terminated=np.zeros(self.num_envs, dtype=bool)),
                            fresh=slice(None))  # fmt: skip

    def _reset_envs(self, ids: np.ndarray) -> None:
        """Start new episodes in simulations ids: curriculum, reset events, commands, then interval timers."""
        if len(ids) == 0:
            return
        self.curriculum.reset(ids)
        self.events.reset(ids)
        self.batch.forward(ids)
        self.commands.reset(ids)
        self.events.schedule(ids)
        self.action[ids] = 0.0
        self.action_before[ids] = 0.0
        self.target[ids] = self.scene.default_joint_pos
        self.episode_step[ids] = 0
        self.joint_vel_prev[ids] = 0.0
        self.reward_manager.reset(ids)
        for sums in self.episode_sums.values():
            sums[ids] = 0.0
        self.sim.remember(self.sim.rows(ids), ids)

    # ----------------------------------------------------------------------------------------------
    # step

    def step(self, action: np.ndarray) -> StepResult:
        """Advance every environment by one policy step."""
        n, sc = self.num_envs, self.scene
        action = np.asarray(action, dtype=np.float64).reshape(n, sc.num_joints)
        if not np.isfinite(action).all():
            action = np.nan_to_num(action, nan=0.0)
        self.action_before = self.action
        self.action = np.clip(action, -self.cfg.action_clip, self.cfg.action_clip)
        target = sc.default_joint_pos + sc.robot.action_scale * self.action
        rec, diverged = self.sim.step(target, self.target, self.action_delay)
        self.target = target
        last = self.sim.last(rec)

        self.episode_step += 1
        s = self._state(*last, terminated=np.zeros(n, dtype=bool))
        terminated = self.termination_manager.compute(s) & ~diverged
        truncated = (self.episode_step >= self.max_episode_steps) | diverged
        s.terminated = terminated
        self.last_state = s  # what the step did, before resets: for evaluation and logging
        reward, parts = self.reward_manager.compute(s)
        reward[diverged] = 0.0
        any_diverged = diverged.any()
        for name, value in parts.items():
            self.episode_sums[name] += np.where(diverged, 0.0, value) if any_diverged else value
        self.joint_vel_prev = s.joint_vel.copy()

        done = terminated | truncated
        # a finished episode's last observation shows the command it ran under (value bootstrapping reads it)
        self.commands.step(~done)
        self.events.step()
        obs = self.observe(self._observed_state(rec, s), s)
        if diverged.any():  # a diverged simulation's numbers never reach the policy: repeat its last observation
            self._replace_rows(obs, np.flatnonzero(diverged), self._rows(self._last_obs, np.flatnonzero(diverged)))
        self.sim.remember(last)

        infos: list[dict] = [{} for _ in range(n)]
        result = StepResult(obs, reward, terminated, truncated, infos=infos)
        if diverged.any():
            self.physics_resets += int(diverged.sum())
            for i in np.flatnonzero(diverged):
                infos[i]["physics_reset"] = True
        if done.any():
            ids = np.flatnonzero(done)
            curriculum = self.curriculum.log()
            names = list(self.episode_sums)
            sums = np.stack([self.episode_sums[k][ids] for k in names], axis=1).tolist()
            for row, i in enumerate(ids):
                infos[i]["episode_terms"] = dict(zip(names, sums[row]))
                if curriculum:
                    infos[i]["curriculum"] = curriculum
                infos[i]["terrain_level"] = int(self.levels[i])
                infos[i]["terrain_kind"] = self.terrain.column_name[self.cols[i]]
            result.terminal_obs = self._rows(obs, ids)
            if self.autoreset:
                self._reset_envs(ids)
                fresh = self.observe(
                    self._state(*self.sim.rows(ids), terminated=np.zeros(len(ids), dtype=bool), rows=ids), fresh=ids
                )
                self._replace_rows(obs, ids, fresh)
        self._last_obs = obs
        return result

    def _observed_state(self, rec: tuple[np.ndarray, ...], current: State) -> State:
        """The state the policy observes: `obs_delay` physics steps old (from this step's substeps or the
        previous step's last one)."""
        if not self.obs_delay.any():
            return current
        qpos, qvel, sens = self.sim.delayed(rec, self.obs_delay)
        return self._state(qpos, qvel, sens, current.torque, terminated=current.terminated)

    @staticmethod
    def _rows(obs: Any, ids: np.ndarray) -> Any:
        if isinstance(obs, dict):
            return {k: v[ids].copy() for k, v in obs.items()}
        return obs[ids].copy()

    @staticmethod
    def _replace_rows(obs: Any, ids: np.ndarray, rows: Any) -> None:
        if isinstance(obs, dict):
            for k in obs:
                obs[k][ids] = rows[k]
        else:
            obs[ids] = rows
