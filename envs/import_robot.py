"""Turn a robot MJCF (MuJoCo Menagerie style) into a LocoForge robot config, then drop the robot and say what happened.

    python -m envs.import_robot path/to/robot.xml --out configs/robot/<name>.yaml [--name NAME] [--force]

Proposes the floating base, the joints in kinematic order, the feet (foot sites, else the lowest leaf bodies with
collision geoms), the IMU site, the default pose and spawn height from the `home` keyframe, kp/kd/torque limits
from the file's position actuators and the left/right name pairs (`mirror`) whose joint axes mirror; writes a commented YAML; then drops the robot with zero action for 2 s and
prints a table of what it measured, with a warning for each suspicious finding.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import mujoco
import numpy as np

from envs.mirror import partner, robot_sides
from envs.presets import task_config
from envs.robot import resolve_mjcf

HINGES = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))
SIDE_NAMES = [{"left_": "right_"}, {"Left_": "Right_"}, {"FL_": "FR_", "RL_": "RR_"}, {"LF_": "RF_", "LH_": "RH_"},
              {"fl_": "fr_", "hl_": "hr_"}, {"fl_": "fr_", "rl_": "rr_"}, {"LL_": "LR_"}, {"_left": "_right"},
              {"L_": "R_"}, {"l_": "r_"}, {"_l_": "_r_"}, {"left": "right"}]  # fmt: skip
"""Naming conventions of the two sides in public robot files (Menagerie, Playground), tried in this order."""


def _patterns(names: list[str], values: list[float]) -> dict[str, float]:
    """{'.*': the most common value} plus each joint whose value differs (the most specific pattern wins)."""
    common = Counter(round(v, 6) for v in values).most_common(1)[0][0]
    return {".*": common, **{n: round(v, 6) for n, v in zip(names, values, strict=True) if round(v, 6) != common}}


def _keyframe(model: mujoco.MjModel) -> np.ndarray:
    """qpos of the keyframe named home (else the first keyframe, else the model's reference pose)."""
    if model.nkey == 0:
        return model.qpos0.copy()
    names = [model.key(i).name for i in range(model.nkey)]
    return model.key_qpos[names.index("home") if "home" in names else 0].copy()


def propose(mjcf: Path, name: str) -> tuple[dict, list[str]]:
    """A robot config for the file, and notes on what was guessed."""
    model = mujoco.MjModel.from_xml_path(str(mjcf))
    notes = []
    free = [j for j in range(model.njnt) if model.jnt_type[j] == int(mujoco.mjtJoint.mjJNT_FREE)]
    if not free:
        raise ValueError(f"{mjcf.name}: no free joint, so no floating base; LocoForge trains legged robots")
    base = int(model.jnt_bodyid[free[0]])
    joints = [j for j in range(model.njnt) if model.jnt_type[j] in HINGES]  # model order is kinematic order
    names = [model.joint(j).name for j in joints]
    if any(not n for n in names):
        raise ValueError(f"{mjcf.name}: joint {names.index('')} has no name; name every hinge joint in the file")
    qpos = _keyframe(model)
    if model.nkey == 0:
        notes.append("no keyframe: default pose 0 rad (clipped to each joint's range) and a measured spawn height")
    default = [float(qpos[model.jnt_qposadr[j]]) for j in joints]
    default = [float(np.clip(v, *model.jnt_range[j])) if model.jnt_limited[j] else v for v, j in zip(default, joints)]

    kp, kd, limit = [], [], []
    for j, joint in zip(joints, names, strict=True):
        acts = [a for a in range(model.nu) if model.actuator_trnid[a, 0] == j and model.actuator_trntype[a] == 0]
        a = acts[0] if acts else None
        position = a is not None and model.actuator_biasprm[a, 1] != 0
        kp.append(float(model.actuator_gainprm[a, 0]) if position else 20.0)
        kd.append(float(-model.actuator_biasprm[a, 2]) if position else 0.5)
        if a is not None and model.actuator_forcelimited[a]:
            limit.append(float(model.actuator_forcerange[a, 1]))
        elif model.jnt_actfrclimited[j]:
            limit.append(float(model.jnt_actfrcrange[j, 1]))
        else:
            limit.append(30.0)
            notes.append(f"{joint}: no force range in the file: torque limit 30 N·m is a guess")
        if not position:
            notes.append(f"{joint}: no position actuator in the file: kp 20, kd 0.5 are guesses")

    data = mujoco.MjData(model)
    data.qpos[:] = qpos
    for j, v in zip(joints, default, strict=True):
        data.qpos[model.jnt_qposadr[j]] = v
    mujoco.mj_kinematics(model, data)
    collide = (model.geom_contype != 0) | (model.geom_conaffinity != 0)
    robot = [g for g in range(model.ngeom) if model.geom_bodyid[g] != 0 and collide[g]]
    lowest = float(min(data.geom_xpos[g, 2] - model.geom_rbound[g] for g in robot))
    feet = _feet(model, data, robot, lowest)
    if not feet:
        raise ValueError(f"{mjcf.name}: no foot found (no foot site, no leaf body touching the lowest point); "
                         "write robot.feet by hand")  # fmt: skip
    base_z = float(data.xpos[base, 2])
    spawn = base_z - lowest + 0.01 if model.nkey == 0 else base_z - min(lowest, 0.0) + 0.01
    sites = [model.site(i).name for i in range(model.nsite)]
    imu = next((s for s in sites if "imu" in s.lower()), None)
    if imu is None:
        notes.append("no site named *imu*: the IMU sits at the base body's origin")
    mirror = _mirror(model, base, names, default, feet)
    if not mirror:
        notes.append(
            "no left/right name pairs whose joint axes mirror: write robot.mirror by hand for the symmetry loss"
        )
    cfg = {
        "name": name,
        "mjcf": str(mjcf),
        "base_body": model.body(base).name,
        "imu_site": imu,
        "joints": names,
        "feet": feet,
        "mirror": mirror,
        "default_joint_pos": {n: round(v, 4) for n, v in zip(names, default, strict=True)},
        "kp": _patterns(names, kp),
        "kd": _patterns(names, kd),
        "torque_limit": _patterns(names, limit),
        "action_scale": 0.25,
        "spawn_height": round(float(spawn), 3),
        "nominal_height": round(float(base_z - lowest), 3),
        "min_base_height": round(float(0.4 * (base_z - lowest)), 3),
    }
    return cfg, notes


def _mirror(model: mujoco.MjModel, base: int, joints: list[str], default: list[float], feet: list[str]) -> dict:
    """The first of SIDE_NAMES that pairs most joints and every foot, with joint axes that mirror; {} if none."""
    for pairs in SIDE_NAMES:
        if 2 * sum(partner(n, pairs) != n for n in joints) < len(joints):
            continue
        try:
            robot_sides(model, base, joints, np.asarray(default), feet, pairs, None)
        except ValueError:
            continue
        return pairs
    return {}


def _feet(model: mujoco.MjModel, data: mujoco.MjData, robot: list[int], lowest: float) -> list[str]:
    """Foot sites if the file names them, else leaf bodies whose collision geoms reach the lowest point (±3 cm)."""
    sites = [model.site(i).name for i in range(model.nsite) if "foot" in model.site(i).name.lower()]
    if sites:
        return sites
    parents = set(model.body_parentid[1:])
    feet = []
    for b in range(1, model.nbody):
        geoms = [g for g in robot if model.geom_bodyid[g] == b]
        if (
            b not in parents
            and geoms
            and min(data.geom_xpos[g, 2] - model.geom_rbound[g] for g in geoms) < lowest + 0.03
        ):
            feet.append(model.body(b).name)
    return feet


def _yaml(cfg: dict, mjcf: Path, notes: list[str]) -> str:
    import yaml

    lines = [f"# {cfg['name']}: written by `python -m envs.import_robot {mjcf}`; check every value before training.",
             "# kp/kd/torque_limit come from the file's actuators; patterns: the most specific match wins.",
             *(f"# note: {n}" for n in notes)]  # fmt: skip
    body = yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None, width=120)
    return "\n".join(lines) + "\n" + body


REST_SPEED = 0.05  # m/s (or rad/s) of the base after the drop: above it, the robot has not come to rest


def drop_test(
    robot_yaml: Path, seconds: float = 2.0, sim: dict | None = None
) -> tuple[list[tuple[str, str]], list[str], float | None, float]:
    """Zero action for `seconds` on flat ground without randomization: what happened, warnings, the settled
    height (None when the robot did not stand: a biped needs its policy to balance) and the final base speed.
    `sim` overrides env.sim (physics_dt, decimation) for a drop at another timestep."""
    from envs.task import LocomotionTask

    sim = {"episode_length_s": 60.0, **(sim or {})}
    cfg = task_config("quadruped_flat", robot=str(robot_yaml), randomization="none", sim=sim)
    task = LocomotionTask(cfg, num_envs=1, seed=0, nthread=1)
    task.reset()
    steps = int(round(seconds / task.dt))
    touch, fell, tilt = [], False, 0.0
    for i in range(steps):
        result = task.step(np.zeros((1, task.scene.num_joints)))
        s = task.last_state
        fell |= bool(result.terminated[0])
        tilt = max(tilt, float(np.arccos(np.clip(-s.projected_gravity[0, 2], -1, 1))))
        if i >= steps // 2:
            touch.append(s.feet_contact[0])
    share = np.mean(touch, axis=0)
    sc, robot = task.scene, task.scene.robot
    r = sc.root_dof
    speed = float(np.abs(task.qvel[0, r : r + 6]).max())
    rows = [("settled base height", f"{s.base_height[0]:.3f} m (from the keyframe: {robot.nominal_height:.3f} m)"),
            ("feet touching (last second)", ", ".join(f"{f} {p:.0%}" for f, p in zip(robot.feet, share, strict=True))),
            ("base touching the ground", "yes" if s.base_contact[0] else "no"),
            ("largest tilt", f"{np.degrees(tilt):.1f} deg"),
            ("base speed at the end", f"{speed:.3f} m/s or rad/s"),
            (f"stable for {seconds:g} s", "yes" if not fell and tilt < 0.5 else "NO"),
            ("scale-free terms", task.scale_line())]  # fmt: skip
    warnings = list(sc.summary["warnings"])
    warnings += [f"foot {f} never touched the ground" for f, p in zip(robot.feet, share, strict=True) if p == 0]
    stood = not fell and tilt < 0.5
    if not stood and len(robot.feet) == 2:
        warnings.append(f"the biped did not stand for {seconds:g} s at zero action (tilt {np.degrees(tilt):.0f} deg), as "
                        "bipeds do without a policy balancing them; nominal_height is the keyframe's")  # fmt: skip
    elif not stood:
        warnings.append(f"the robot did not stand for {seconds:g} s at its default pose (tilt {np.degrees(tilt):.0f} deg); "
                        "check default_joint_pos, kp and spawn_height")  # fmt: skip
    if speed > REST_SPEED:
        file_dt = [p for p in sc.summary["replaced"] if p.startswith("timestep")]
        warnings.append(f"the robot does not come to rest ({speed:.2f} m/s after {seconds:g} s) at physics_dt "
                        f"{cfg.env.sim.physics_dt:g} ({file_dt[0] if file_dt else ''}): the file's contact settings may "
                        "need its own timestep (env.sim.physics_dt and env.sim.decimation)")  # fmt: skip
    return rows, [sc.summary_line(), *warnings], float(s.base_height[0]) if stood else None, speed


def own_timestep_sim(mjcf: Path, physics_dt: float, decimation: int) -> dict | None:
    """env.sim at the file's own timestep with the task's policy rate (physics_dt x decimation), or None when the
    file's timestep is not smaller than the task's or does not divide the policy period."""
    dt = float(mujoco.MjModel.from_xml_path(str(mjcf)).opt.timestep)
    policy_dt = physics_dt * decimation
    steps = int(round(policy_dt / dt))
    if dt >= physics_dt or abs(steps * dt - policy_dt) > 1e-9:
        return None
    return {"physics_dt": dt, "decimation": steps}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m envs.import_robot", description=__doc__.splitlines()[0])
    parser.add_argument("mjcf", help="the robot's MJCF (or its scene file)")
    parser.add_argument("--out", required=True, help="robot YAML to write, e.g. myconfigs/robot/go1.yaml")
    parser.add_argument("--name", help="robot name (default: the YAML file's stem)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out")
    args = parser.parse_args(argv)
    out = Path(args.out)
    try:
        if out.suffix not in (".yaml", ".yml"):
            raise ValueError(f"--out: '{out}' must end in .yaml")
        if out.exists() and not args.force:
            raise ValueError(f"--out: '{out}' exists; pass --force to overwrite it")
        mjcf = resolve_mjcf(args.mjcf)
        cfg, notes = propose(mjcf, args.name or out.stem)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.stem}.importing.yaml")
        tmp.write_text(_yaml(cfg, mjcf, notes))
        rows, warnings, settled, speed = drop_test(tmp)
        ours = task_config("quadruped_flat").env.sim  # the step the drop just ran at
        sim = own_timestep_sim(mjcf, ours.physics_dt, ours.decimation) if speed > REST_SPEED else None
        if sim is not None:  # the file's contacts may be tuned for its own step: drop it again there
            rows2, warnings2, settled2, speed2 = drop_test(tmp, sim=sim)
            if speed2 <= REST_SPEED:
                rows, settled = rows2, settled2
                warnings = [*warnings2, f"at physics_dt {ours.physics_dt:g} the robot does not come to rest "
                            f"({speed:.2f} m/s); at the file's own {sim['physics_dt']:g} it does (the table above): "
                            "train at that step"]  # fmt: skip
            else:
                sim = None
        if settled is not None:  # the heights the task's terms use: as the robot settled, not as the keyframe guessed
            cfg.update(nominal_height=round(settled, 3), min_base_height=round(0.4 * settled, 3))
            notes = [*notes, "nominal_height: the base height the drop test settled at"]
        else:
            cfg.update(min_base_height=round(0.6 * cfg["nominal_height"], 3))
            notes = [*notes, "nominal_height: the keyframe's base height (the robot did not stand unaided)"]
        tmp.write_text(_yaml(cfg, mjcf, notes))
        tmp.replace(out)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    for line in warnings:
        print(("  " if line.startswith("robot ") else "  WARNING ") + line)
    env = " env=biped_flat" if len(cfg["feet"]) == 2 else ""
    if sim is not None:
        env += f" env.sim.physics_dt={sim['physics_dt']:g} env.sim.decimation={sim['decimation']}"
    print(f"train it: python train.py --config-dir {out.parent.parent} robot={out.stem}{env}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
