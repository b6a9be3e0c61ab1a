"""Scene builder: a robot config plus its MJCF become one compiled MuJoCo model for the task.

The robot config is the single source of truth: the builder replaces the MJCF's actuators with PD
position actuators in policy order (kp, kd, torque limit from the config), adds the IMU and contact
sensors, the ground and a tracking camera. Any MJCF with a floating base becomes trainable this way.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from envs.config import RobotConfig, SimConfig
from envs.terrain import Terrain

ASSETS = Path(__file__).parent / "assets"
_CONTACT_DATA = 1 | 2  # mjtConDataType bits: found, force
_CONTACT_NETFORCE = 3  # mjtConReduce: net force of all matching contacts
INTEGRATORS = {
    "euler": "mjINT_EULER",
    "rk4": "mjINT_RK4",
    "implicit": "mjINT_IMPLICIT",
    "implicitfast": "mjINT_IMPLICITFAST",
}
SOLVERS = {"pgs": "mjSOL_PGS", "cg": "mjSOL_CG", "newton": "mjSOL_NEWTON"}


def resolve_mjcf(path: str) -> Path:
    """Find an MJCF by absolute path, path from the working directory, or name in envs/assets/."""
    for candidate in (Path(path), ASSETS / path):
        if candidate.is_file():
            return candidate.resolve()
    raise FileNotFoundError(f"robot.mjcf: '{path}' not found (looked in the working directory and {ASSETS})")


def match_joints(values: dict[str, float], joints: list[str], what: str) -> np.ndarray:
    """Resolve {regex: value} against joint names; each joint must match exactly one pattern."""
    out = np.empty(len(joints))
    used = set()
    for i, joint in enumerate(joints):
        hits = [p for p in values if re.fullmatch(p, joint)]
        if len(hits) != 1:
            problem = "matches no pattern" if not hits else f"matches several patterns {hits}"
            raise ValueError(f"robot.{what}: joint '{joint}' {problem}; patterns given: {list(values)}")
        out[i] = float(values[hits[0]])
        used.add(hits[0])
    unused = [p for p in values if p not in used]
    if unused:
        raise ValueError(f"robot.{what}: pattern(s) {unused} match no joint; joints: {joints}")
    return out


def _require(kind: str, names: list[str], available: list[str], field: str, mjcf: Path) -> None:
    for name in names:
        if name not in available:
            raise ValueError(
                f"robot.{field}: '{name}' is not a {kind} of {mjcf.name}; its {kind}s are: {', '.join(available)}"
            )


@dataclass
class Scene:
    """The compiled model and the index arrays the task's terms need."""

    model: mujoco.MjModel
    robot: RobotConfig
    terrain: Terrain
    joint_names: list[str]
    qpos_adr: np.ndarray
    dof_adr: np.ndarray
    joint_range: np.ndarray
    default_joint_pos: np.ndarray
    kp: np.ndarray
    kd: np.ndarray
    torque_limit: np.ndarray
    base_body: int
    root_qpos: int
    root_dof: int
    foot_geoms: np.ndarray
    gyro: slice
    velocimeter: slice
    feet_contact: np.ndarray
    """(n_feet, 4) sensordata indices of each foot's contact sensor: found, fx, fy, fz."""
    base_contact: int
    """sensordata index of the base body's contact count."""
    model_hash: str
    imu_in_base: dict[str, list[float]]
    """The IMU frame's position and orientation [w, x, y, z] in the base body's frame."""

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)


def _add_contact_sensor(spec: mujoco.MjSpec, name: str, objtype: mujoco.mjtObj, objname: str) -> None:
    sensor = spec.add_sensor(name=name, type=mujoco.mjtSensor.mjSENS_CONTACT, objtype=objtype, objname=objname)
    sensor.intprm[0] = _CONTACT_DATA
    sensor.intprm[1] = _CONTACT_NETFORCE
    sensor.intprm[2] = 1


def build_scene(robot: RobotConfig, sim: SimConfig, terrain: Terrain) -> Scene:
    """Compile robot + ground + sensors + PD actuators into one model; fail early on any misnamed part."""
    path = resolve_mjcf(robot.mjcf)
    try:
        spec = mujoco.MjSpec.from_file(str(path))
    except Exception as err:  # MuJoCo's parser message runs over several lines: keep the first
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"robot.mjcf: '{path}' is not a MuJoCo model file ({first})") from None
    joints = [j.name for j in spec.joints if j.type in (mujoco.mjtJoint.mjJNT_HINGE, mujoco.mjtJoint.mjJNT_SLIDE)]
    if not robot.joints:
        raise ValueError(f"robot.joints: empty; the actuated joints of {path.name} are: {', '.join(joints)}")
    _require("joint", robot.joints, joints, "joints", path)
    _require("body", [robot.base_body], [b.name for b in spec.bodies], "base_body", path)
    _require("geom", robot.feet, [g.name for g in spec.geoms if g.name], "feet", path)
    if robot.imu_site is not None:
        _require("site", [robot.imu_site], [s.name for s in spec.sites], "imu_site", path)
    base = spec.body(robot.base_body)
    if not any(j.type == mujoco.mjtJoint.mjJNT_FREE for j in base.joints):
        raise ValueError(
            f"robot.base_body: '{robot.base_body}' has no free joint in {path.name}; a floating base is needed"
        )
    if robot.action_scale <= 0 or robot.spawn_height <= 0 or robot.nominal_height <= 0 or robot.min_base_height < 0:
        raise ValueError("robot.action_scale, robot.spawn_height and robot.nominal_height: must be > 0; "
                         "robot.min_base_height: must be >= 0")  # fmt: skip

    kp = match_joints(robot.kp, robot.joints, "kp")
    kd = match_joints(robot.kd, robot.joints, "kd")
    torque_limit = match_joints(robot.torque_limit, robot.joints, "torque_limit")
    default_pos = match_joints(robot.default_joint_pos, robot.joints, "default_joint_pos")
    for what, values in (("kp", kp), ("kd", kd), ("torque_limit", torque_limit)):
        if (values < 0).any():
            raise ValueError(f"robot.{what}: values must be >= 0, got {values.tolist()}")

    for element in list(spec.actuators) + list(spec.sensors) + list(spec.keys):
        spec.delete(element)
    for i, name in enumerate(robot.joints):
        act = spec.add_actuator(name=name, target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_position(kp=float(kp[i]), kv=float(kd[i]))
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange = [-float(torque_limit[i]), float(torque_limit[i])]
        act.ctrllimited = mujoco.mjtLimited.mjLIMITED_FALSE

    imu = robot.imu_site
    if imu is None:
        imu = "locoforge_imu"
        base.add_site(name=imu, pos=[0, 0, 0])
    spec.add_sensor(name="imu_gyro", type=mujoco.mjtSensor.mjSENS_GYRO, objtype=mujoco.mjtObj.mjOBJ_SITE, objname=imu)
    spec.add_sensor(
        name="imu_velocimeter", type=mujoco.mjtSensor.mjSENS_VELOCIMETER, objtype=mujoco.mjtObj.mjOBJ_SITE, objname=imu
    )
    for foot in robot.feet:
        _add_contact_sensor(spec, f"{foot}_contact", mujoco.mjtObj.mjOBJ_GEOM, foot)
    _add_contact_sensor(spec, "base_contact", mujoco.mjtObj.mjOBJ_BODY, robot.base_body)
    base.add_camera(
        name="track", mode=mujoco.mjtCamLight.mjCAMLIGHT_TRACKCOM, pos=[0, -1.8, 0.7], xyaxes=[1, 0, 0, 0, 0.36, 0.93]
    )
    spec.worldbody.add_light(name="sun", pos=[0, 0, 5], dir=[0, 0, -1], type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL)
    terrain.add_to_spec(spec)

    spec.option.timestep = sim.physics_dt
    if sim.integrator is not None:
        if sim.integrator.lower() not in INTEGRATORS:
            raise ValueError(f"env.sim.integrator: unknown '{sim.integrator}'; accepted: {', '.join(INTEGRATORS)}")
        spec.option.integrator = getattr(mujoco.mjtIntegrator, INTEGRATORS[sim.integrator.lower()])
    if sim.solver is not None:
        if sim.solver.lower() not in SOLVERS:
            raise ValueError(f"env.sim.solver: unknown '{sim.solver}'; accepted: {', '.join(SOLVERS)}")
        spec.option.solver = getattr(mujoco.mjtSolver, SOLVERS[sim.solver.lower()])
    if sim.cone is not None:
        cones = {"pyramidal": mujoco.mjtCone.mjCONE_PYRAMIDAL, "elliptic": mujoco.mjtCone.mjCONE_ELLIPTIC}
        if sim.cone not in cones:
            raise ValueError(f"env.sim.cone: unknown '{sim.cone}'; accepted: {', '.join(cones)}")
        spec.option.cone = cones[sim.cone]
    if sim.impratio is not None:
        spec.option.impratio = sim.impratio
    if sim.contact_solref is not None:
        for geom in spec.geoms:
            geom.solref = list(sim.contact_solref)
    model = spec.compile()

    jids = [model.joint(n).id for n in robot.joints]
    sensor = lambda name: (model.sensor_adr[model.sensor(name).id], model.sensor_dim[model.sensor(name).id])  # noqa: E731
    gyro_adr, _ = sensor("imu_gyro")
    vel_adr, _ = sensor("imu_velocimeter")
    feet_adr = np.array([[sensor(f"{f}_contact")[0] + k for k in range(4)] for f in robot.feet], dtype=int).reshape(
        -1, 4
    )
    base_id = model.body(robot.base_body).id
    free = next(
        j
        for j in range(model.njnt)
        if model.jnt_bodyid[j] == base_id and model.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE
    )
    return Scene(
        model=model,
        robot=robot,
        terrain=terrain,
        joint_names=list(robot.joints),
        qpos_adr=model.jnt_qposadr[jids].copy(),
        dof_adr=model.jnt_dofadr[jids].copy(),
        joint_range=model.jnt_range[jids].copy(),
        default_joint_pos=default_pos,
        kp=kp,
        kd=kd,
        torque_limit=torque_limit,
        base_body=base_id,
        root_qpos=int(model.jnt_qposadr[free]),
        root_dof=int(model.jnt_dofadr[free]),
        foot_geoms=np.array([model.geom(f).id for f in robot.feet], dtype=int),
        gyro=slice(gyro_adr, gyro_adr + 3),
        velocimeter=slice(vel_adr, vel_adr + 3),
        feet_contact=feet_adr,
        base_contact=int(sensor("base_contact")[0]),
        model_hash=hashlib.sha256(path.read_bytes()).hexdigest(),
        imu_in_base=_site_in_body(model, model.site(imu).id, base_id),
    )


def _site_in_body(model: mujoco.MjModel, site: int, body: int) -> dict[str, list[float]]:
    """A site's position and orientation [w, x, y, z] in a body's frame, at the model's reference pose."""
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    rot_body = data.xmat[body].reshape(3, 3)
    pos = rot_body.T @ (data.site_xpos[site] - data.xpos[body])
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, (rot_body.T @ data.site_xmat[site].reshape(3, 3)).ravel())
    return {"pos": np.round(pos, 9).tolist(), "quat": np.round(quat, 9).tolist()}
