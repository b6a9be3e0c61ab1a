"""What a robot file holds beyond its joints: which geoms are feet, the physics the task keeps from it, warnings
about what would silently hurt training, the IMU frame, and a hash over everything the file reads."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import mujoco
import numpy as np

from envs.config import RobotConfig, SimConfig

FOOT_REACH = 0.01
"""A foot site claims the collision geoms of its body that reach within this distance (m) of it."""


def site_in_body(model: mujoco.MjModel, site: int, body: int) -> dict[str, list[float]]:
    """A site's position and orientation [w, x, y, z] in a body's frame, at the model's reference pose."""
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    rot_body = data.xmat[body].reshape(3, 3)
    pos = rot_body.T @ (data.site_xpos[site] - data.xpos[body])
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, (rot_body.T @ data.site_xmat[site].reshape(3, 3)).ravel())
    return {"pos": np.round(pos, 9).tolist(), "quat": np.round(quat, 9).tolist()}


def model_hash(path: Path, spec: mujoco.MjSpec) -> str:
    """sha256 over the MJCF, the files it includes and the mesh, texture and heightfield files it reads."""
    digest = hashlib.sha256()
    files, todo = [], [path]
    while todo:  # includes resolve against the main file's directory
        current = todo.pop(0)
        files.append(current)
        todo += [
            path.parent / f for f in re.findall(r"<include\s+file=\"([^\"]+)\"", current.read_text(errors="replace"))
        ]
    for assets, folder in ((spec.meshes, spec.meshdir), (spec.textures, spec.texturedir), (spec.hfields, spec.meshdir)):
        files += [path.parent / folder / a.file for a in assets if a.file]
    for file in files:
        digest.update(file.name.encode() + b"\0" + (file.read_bytes() if file.is_file() else b"<missing>"))
    return digest.hexdigest()


def _collides(geom) -> bool:
    return bool(geom.contype or geom.conaffinity)


def foot_kinds(spec: mujoco.MjSpec, feet: list[str], mjcf: Path) -> list[str]:
    """Whether each foot names a geom, a site or a body of the file (in that order of precedence)."""
    named = {"geom": {g.name for g in spec.geoms if g.name}, "site": {s.name for s in spec.sites},
             "body": {b.name for b in spec.bodies}}  # fmt: skip
    kinds = []
    for foot in feet:
        kind = next((k for k in ("geom", "site", "body") if foot in named[k]), None)
        if kind is None:
            sites = ", ".join(sorted(named["site"])) or "none"
            raise ValueError(f"robot.feet: '{foot}' is neither a geom, a site nor a body of {mjcf.name}; "
                             f"its sites: {sites}; geoms: {', '.join(sorted(named['geom'])) or 'none named'}")  # fmt: skip
        kinds.append(kind)
    return kinds


def foot_geoms(spec: mujoco.MjSpec, probe: mujoco.MjModel, feet: list[str], kinds: list[str], mjcf: Path) -> list[list]:
    """The collision geoms (spec elements) of each foot: a geom itself; every collision geom of a body; for a
    site, the collision geoms of its body that reach within FOOT_REACH of it at the reference pose, else (a sole
    site among contact points, as G1's four spheres) those whose lowest point is within FOOT_REACH of its height."""
    data = mujoco.MjData(probe)
    mujoco.mj_kinematics(probe, data)
    geoms = list(spec.geoms)  # compiled in this order: spec index == model id
    out = []
    for foot, kind in zip(feet, kinds, strict=True):
        if kind == "geom":
            found = [spec.geom(foot)]
        elif kind == "body":
            body = probe.body(foot).id
            found = [g for i, g in enumerate(geoms) if probe.geom_bodyid[i] == body and _collides(g)]
        else:
            site = probe.site(foot).id
            body = probe.site_bodyid[site]
            gap = np.linalg.norm(data.geom_xpos - data.site_xpos[site], axis=1) - probe.geom_rbound
            mine = [i for i, g in enumerate(geoms) if probe.geom_bodyid[i] == body and _collides(g)]
            found = [geoms[i] for i in mine if gap[i] <= FOOT_REACH]
            if not found:
                bottom = data.geom_xpos[:, 2] - probe.geom_rbound
                found = [geoms[i] for i in mine if abs(bottom[i] - data.site_xpos[site, 2]) <= FOOT_REACH]
        if not found:
            raise ValueError(f"robot.feet: {kind} '{foot}' of {mjcf.name} has no collision geom "
                             f"{'on its body' if kind == 'body' else f'within {FOOT_REACH} m of it or of its height'}; name the foot's geom "
                             "or body instead")  # fmt: skip
        out.append(found)
    return out


def summary(model: mujoco.MjModel, robot: RobotConfig, jids: list[int], torque_limit: np.ndarray, base: int,
             imu: dict[str, list[float]], replaced: list[str], sim: SimConfig) -> dict[str, list[str]]:  # fmt: skip
    """The file's physics the task keeps (joint damping, friction loss, armature, solver options), what the build
    replaced, and warnings for what will silently hurt training."""
    kept, warnings = [], []
    for what, values in (("damping", model.dof_damping[model.jnt_dofadr[jids]]),
                         ("frictionloss", model.dof_frictionloss[model.jnt_dofadr[jids]]),
                         ("armature", model.dof_armature[model.jnt_dofadr[jids]])):  # fmt: skip
        if values.any():
            kept.append(f"joint {what} {values.min():g}-{values.max():g}")
    opt = model.opt
    names = {
        "integrator": (sim.integrator, mujoco.mjtIntegrator(opt.integrator).name),
        "solver": (sim.solver, mujoco.mjtSolver(opt.solver).name),
        "cone": (sim.cone, mujoco.mjtCone(opt.cone).name),
    }
    for key, (override, value) in names.items():
        (replaced if override else kept).append(
            f"{key} {value.split('_')[-1].lower()}" + (f" by {override}" if override else "")
        )
    kept.append(
        f"iterations {opt.iterations}, impratio {opt.impratio:g}"
        if sim.impratio is None
        else f"iterations {opt.iterations}"
    )
    capped = [robot.joints[i] for i, j in enumerate(jids)
              if model.jnt_actfrclimited[j] and model.jnt_actfrcrange[j, 1] < torque_limit[i] - 1e-9]  # fmt: skip
    if capped:
        warnings.append(f"actuatorfrcrange in the file caps {', '.join(capped)} below robot.torque_limit")
    if not any(
        model.geom_bodyid[g] == base and (model.geom_contype[g] or model.geom_conaffinity[g])
        for g in range(model.ngeom)
    ):
        warnings.append(f"base body '{robot.base_body}' has no collision geom: base_contact can never end an episode")
    if not np.allclose(imu["quat"], [1, 0, 0, 0], atol=1e-6):
        warnings.append(
            f"IMU site rotated against the base (quat {imu['quat']}): gyro and velocimeter read in its frame"
        )
    return {"kept": kept, "replaced": replaced, "warnings": warnings}
