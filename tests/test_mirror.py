"""The left-right mirror (envs/mirror.py): its maps agree with the physics of a mirrored robot."""

import numpy as np
import pytest

from envs import task_config
from envs.mirror import observation_map, partner, robot_sides
from envs.task import LocomotionTask


def _mirror_state(task: LocomotionTask, src: int, dst: int, perm: np.ndarray, sign: np.ndarray) -> None:
    """Put simulation dst in the mirror image (in the world's x-z plane) of simulation src."""
    sc, r, d = task.scene, task.scene.root_qpos, task.scene.root_dof
    q, v = task.qpos[src].copy(), task.qvel[src].copy()
    q[r : r + 3] *= [1.0, -1.0, 1.0]
    q[r + 3 : r + 7] *= [1.0, -1.0, 1.0, -1.0]  # a rotation reflected in the x-z plane
    v[d : d + 3] *= [1.0, -1.0, 1.0]
    v[d + 3 : d + 6] *= [-1.0, 1.0, -1.0]
    v[sc.dof_adr[perm]] = sign * task.qvel[src, sc.dof_adr]
    # joint angles are mirrored about the default pose (its own mirror image)
    q[sc.qpos_adr[perm]] = sc.default_joint_pos[perm] + sign * (task.qpos[src, sc.qpos_adr] - sc.default_joint_pos)
    task.qpos[dst], task.qvel[dst] = q, v


@pytest.mark.parametrize("env, robot", [("quadruped_flat", "quadruped"), ("biped_flat", "biped"),
                                        ("biped_flat", "tests/fixtures/menagerie_humanoid/robot.yaml")])  # fmt: skip
def test_mirror_maps_match_a_mirrored_robot(env: str, robot: str) -> None:
    """Observations of a robot put in the mirror image of another's state equal the first's observations
    through the mirror map, term by term (velocities, gravity, joints with their axis signs, feet, command);
    also for the Menagerie-style humanoid, whose hip joints come in another order with held waist and arms."""
    task = LocomotionTask(task_config(env, randomization="none", robot=robot), num_envs=2, seed=3, nthread=1)
    mirror = task.mirror()
    sc = task.scene
    sides = robot_sides(task.model, sc.base_body, sc.joint_names, sc.default_joint_pos, list(sc.robot.feet),
                        dict(sc.robot.mirror), None)  # fmt: skip
    rng = np.random.default_rng(0)
    r, d = sc.root_qpos, sc.root_dof
    task.qpos[0, r : r + 3] = [0.3, 0.2, sc.robot.spawn_height]
    quat = np.array([0.95, 0.1, -0.15, 0.2])
    task.qpos[0, r + 3 : r + 7] = quat / np.linalg.norm(quat)
    task.qpos[0, sc.qpos_adr] = sc.default_joint_pos + rng.uniform(-0.3, 0.3, sc.num_joints)
    task.qvel[0, d : d + 6] = [0.4, -0.3, 0.1, 0.5, -0.7, 0.9]
    task.qvel[0, sc.dof_adr] = rng.uniform(-2, 2, sc.num_joints)
    _mirror_state(task, 0, 1, sides.joint_perm, sides.joint_sign)
    task.batch.forward()
    # the joint signs came from the axes: the mirrored joint angles must put every body at its partner's mirror image
    xpos = task.batch.bind("xpos")
    bodies = [task.model.body(b).name for b in range(task.model.nbody)]
    paired = [(b, bodies.index(partner(n, dict(sc.robot.mirror)))) for b, n in enumerate(bodies) if b > 0]
    assert len({p for _, p in paired} - {b for b, _ in paired}) == 0 and any(b != p for b, p in paired)
    for b, p in paired:
        np.testing.assert_allclose(xpos[1, p], xpos[0, b] * [1.0, -1.0, 1.0], atol=1e-9, err_msg=bodies[b])
    task.commands.terms["velocity"].value[:] = [[0.6, 0.25, -0.7], [0.6, -0.25, 0.7]]
    task.action[0] = rng.uniform(-1, 1, sc.num_joints)
    task.action[1] = task.action[0] @ mirror.action.T
    task.episode_step[:] = 0
    s = task._state(*task.sim.rows(), terminated=np.zeros(2, dtype=bool))
    obs = task.observe(s, noise=False)
    obs = obs if isinstance(obs, dict) else {"": obs}
    for key, value in obs.items():
        manager = task.critic_manager if key == "critic" else task.obs_manager
        start = 0
        for name, size in zip(manager.names, manager.sizes):
            part = slice(start, start + size)
            start += size
            if name == "gait_clock":  # the mirrored robot's clock is half a period on: checked below
                continue
            expected = (value[0] @ mirror.obs[key].T)[part]
            np.testing.assert_allclose(value[1][part], expected, atol=2e-4, err_msg=f"{env} {key} {name}")
    assert sorted(sides.joint_perm.tolist()) == list(range(sc.num_joints))
    assert (sides.joint_perm != np.arange(sc.num_joints)).all()  # every leg joint has a partner on the other side


def test_gait_clock_mirror_is_the_partner_foot_clock() -> None:
    """A two-foot clock half a period apart mirrors to minus itself; unequal offsets rotate by their difference."""
    task = LocomotionTask(task_config("biped_flat", randomization="none"), num_envs=1, seed=0, nthread=1)
    m = task.mirror().obs["policy"]
    names, sizes = task.obs_manager.names, task.obs_manager.sizes
    start = sum(sizes[: names.index("gait_clock")])
    np.testing.assert_allclose(m[start : start + 2, start : start + 2], -np.eye(2), atol=1e-12)
    sides = robot_sides(task.model, task.scene.base_body, task.scene.joint_names, task.scene.default_joint_pos,
                        ["left_foot", "right_foot"], {"left_": "right_"}, [0.0, 0.25])  # fmt: skip
    block = observation_map([("gait_clock", 2, {})], sides, "env.observations")
    a = 0.3
    np.testing.assert_allclose(np.array([np.sin(a), np.cos(a)]) @ block.T,
                               [np.sin(a + np.pi / 2), np.cos(a + np.pi / 2)], atol=1e-12)  # fmt: skip


def test_mirror_bad_input_names_what_is_wrong() -> None:
    assert partner("FL_hip", {"FR_": "FL_"}) == "FR_hip"
    assert partner("waist_yaw", {"left_": "right_"}) == "waist_yaw"
    task = LocomotionTask(task_config("biped_flat", randomization="none"), num_envs=1, seed=0, nthread=1)
    sc = task.scene
    with pytest.raises(ValueError, match=r"robot.mirror: empty"):
        robot_sides(task.model, sc.base_body, sc.joint_names, sc.default_joint_pos, [], {}, None)
    with pytest.raises(ValueError, match=r"robot.mirror: the mirror of joint 'left_hip_yaw' would be 'L_hip_yaw'"):
        robot_sides(task.model, sc.base_body, sc.joint_names, sc.default_joint_pos, [], {"left_": "L_"}, None)
    with pytest.raises(ValueError, match=r"env.observations.my_term: has no mirror"):
        observation_map([("my_term", 3, {})], robot_sides(task.model, sc.base_body, sc.joint_names,
                        sc.default_joint_pos, [], {"left_": "right_"}, None), "env.observations")  # fmt: skip
