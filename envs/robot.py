"""Scene builder: a robot config plus its MJCF become one compiled MuJoCo model for the task.

The robot config is the single source of truth: the builder replaces the MJCF's actuators with PD
position actuators in policy order (kp, kd, torque limit from the config), adds the IMU and contact
sensors, the ground and a tracking camera. Any MJCF with a floating base becomes trainable this way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from envs.config import PREFIX, RobotConfig, SimConfig
from envs.robot_file import foot_geoms, foot_kinds, model_hash, site_in_body, summary
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
CAMERA = PREFIX + "track"


def resolve_mjcf(path: str) -> Path:
    """Find an MJCF by absolute path, path from the working directory, or name in envs/assets/."""
    for candidate in (Path(path), ASSETS / path):
        if candidate.is_file():
            return candidate.resolve()
    raise FileNotFoundError(f"robot.mjcf: '{path}' not found (looked in the working directory and {ASSETS})")


def match_joints(values: dict[str, float], joints: list[str], what: str, held: list[str] = ()) -> np.ndarray:
    """Resolve {regex: value} against joint names. Of the patterns a joint matches, the most specific wins: the
    one matching the fewest joints (a joint's own name beats `.*`), then the first listed; every joint must match
    one and every pattern some joint."""
    out = np.empty(len(joints))
    reach = {p: sum(bool(re.fullmatch(p, j)) for j in joints) for p in values}
    unused = [p for p, n in reach.items() if n == 0]
    if unused:
        raise ValueError(f"robot.{what}: pattern(s) {unused} match no joint; joints: {joints}")
    for i, joint in enumerate(joints):
        hits = [p for p in values if re.fullmatch(p, joint)]
        if not hits:
            hint = "; add a pattern for it or set robot.hold_other_joints=false" if joint in held else ""
            kind = "held joint (outside robot.joints)" if joint in held else "joint"
            raise ValueError(f"robot.{what}: {kind} '{joint}' matches no pattern; patterns given: {list(values)}{hint}")
        out[i] = float(values[min(hits, key=lambda p: reach[p])])  # min keeps the first listed among equals
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
    held_joints: list[str]
    """Joints outside the action, held by PD at held_default (their actuators follow the policy's)."""
    held_default: np.ndarray
    base_body: int
    root_qpos: int
    root_dof: int
    foot_geoms: np.ndarray
    """Every collision geom that counts as a foot, feet in robot.feet order."""
    foot_refs: list[tuple[str, int]]
    """Each foot's element: ('geom' | 'site' | 'body', id); its position is the foot's position."""
    foot_found: np.ndarray
    """sensordata index of the 'found' count of each foot geom's contact sensor, in foot_geoms order."""
    foot_starts: np.ndarray
    """Where each foot's sensors start in foot_found (np.add.reduceat offsets)."""
    foot_frame: dict[str, np.ndarray]
    """sensordata indices (nf, 3) of each foot element's world position `pos`, linear velocity `vel` and z axis
    `zaxis` (framepos, framelinvel, framezaxis sensors), read at the same instant as the IMU."""
    gyro: slice
    velocimeter: slice
    base_contact: int
    """sensordata index of the base body's contact count."""
    model_hash: str
    imu_in_base: dict[str, list[float]]
    """The IMU frame's position and orientation [w, x, y, z] in the base body's frame."""
    summary: dict[str, list[str]]
    """What the build kept from the file, what it replaced, and warnings (run.json records it)."""

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def feet_contact(self, sensordata: np.ndarray) -> np.ndarray:
        """(n, n_feet) True where any geom of a foot touches something, from sensordata rows (n, nsensordata)."""
        return np.add.reduceat(sensordata[:, self.foot_found], self.foot_starts, axis=1) > 0

    def foot_positions(self, batch) -> np.ndarray:
        """(n, n_feet, 3) world position of each foot's element in every simulation of a mujoco.batch."""
        fields = {"geom": "geom_xpos", "site": "site_xpos", "body": "xpos"}
        return np.stack([batch.bind(fields[kind])[:, i] for kind, i in self.foot_refs], axis=1)

    def summary_line(self) -> str:
        """One line: the robot file's physics kept and replaced, then any warning."""
        parts = [f"robot {self.robot.name}: kept " + "; ".join(self.summary["kept"] or ["nothing"]),
                 "replaced " + "; ".join(self.summary["replaced"] or ["nothing"])]  # fmt: skip
        parts += [f"WARNING {w}" for w in self.summary["warnings"]]
        return " | ".join(parts)


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
    kinds = foot_kinds(spec, robot.feet, path)
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

    held = [j for j in joints if j not in robot.joints] if robot.hold_other_joints else []
    every = list(robot.joints) + held  # policy joints, then the held ones: actuators in this order
    kp = match_joints(robot.kp, every, "kp", held)
    kd = match_joints(robot.kd, every, "kd", held)
    torque_limit = match_joints(robot.torque_limit, every, "torque_limit", held)
    default_pos = match_joints(robot.default_joint_pos, every, "default_joint_pos", held)
    for what, values in (("kp", kp), ("kd", kd), ("torque_limit", torque_limit)):
        if (values < 0).any():
            raise ValueError(f"robot.{what}: values must be >= 0, got {values.tolist()}")

    replaced = [
        f"{len(spec.actuators)} actuators by PD in policy order",
        f"timestep {spec.option.timestep:g} by {sim.physics_dt:g}",
    ]
    if spec.keys:
        replaced.append(f"{len(spec.keys)} keyframe(s) removed")
    floors = [g for g in spec.worldbody.geoms if g.type in (mujoco.mjtGeom.mjGEOM_PLANE, mujoco.mjtGeom.mjGEOM_HFIELD)]
    if floors:  # a Menagerie scene file brings its own floor: the task's ground replaces it
        names = {g.name for g in floors if g.name}
        pairs = [p for p in spec.pairs if {p.geomname1, p.geomname2} & names]
        replaced.append(f"floor {', '.join(sorted(names)) or '(unnamed)'} by the task's ground"
                        + (f" ({len(pairs)} contact pair(s) with it removed)" if pairs else ""))  # fmt: skip
        for element in floors + pairs:
            spec.delete(element)
    for element in list(spec.actuators) + list(spec.sensors) + list(spec.keys):
        spec.delete(element)
    probe = spec.compile()
    foot_geom_sets = foot_geoms(spec, probe, robot.feet, kinds, path)
    if held:
        replaced.append(f"{len(held)} joint(s) outside the action held at their default pose by PD")
    for i, name in enumerate(every):
        act = spec.add_actuator(name=name, target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_position(kp=float(kp[i]), kv=float(kd[i]))
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange = [-float(torque_limit[i]), float(torque_limit[i])]
        act.ctrllimited = mujoco.mjtLimited.mjLIMITED_FALSE

    imu = robot.imu_site
    if imu is None:
        imu = PREFIX + "imu"
        base.add_site(name=imu, pos=[0, 0, 0])
    site = mujoco.mjtObj.mjOBJ_SITE
    spec.add_sensor(name=PREFIX + "imu_gyro", type=mujoco.mjtSensor.mjSENS_GYRO, objtype=site, objname=imu)
    spec.add_sensor(
        name=PREFIX + "imu_velocimeter", type=mujoco.mjtSensor.mjSENS_VELOCIMETER, objtype=site, objname=imu
    )
    foot_sensors = []
    for i, geoms in enumerate(foot_geom_sets):
        for k, geom in enumerate(geoms):
            if not geom.name:  # Menagerie's feet are often unnamed geoms of a default class
                geom.name = f"{PREFIX}foot{i}_geom{k}"
            foot_sensors.append(f"{PREFIX}foot{i}_contact{k}")
            _add_contact_sensor(spec, foot_sensors[-1], mujoco.mjtObj.mjOBJ_GEOM, geom.name)
    _add_contact_sensor(spec, PREFIX + "base_contact", mujoco.mjtObj.mjOBJ_BODY, robot.base_body)
    frame_obj = {"geom": mujoco.mjtObj.mjOBJ_GEOM, "site": mujoco.mjtObj.mjOBJ_SITE, "body": mujoco.mjtObj.mjOBJ_XBODY}
    frame_sensors = {"pos": mujoco.mjtSensor.mjSENS_FRAMEPOS, "vel": mujoco.mjtSensor.mjSENS_FRAMELINVEL,
                     "zaxis": mujoco.mjtSensor.mjSENS_FRAMEZAXIS}  # fmt: skip
    for i, (name, kind) in enumerate(zip(robot.feet, kinds, strict=True)):
        for what, sensor_type in frame_sensors.items():
            spec.add_sensor(name=f"{PREFIX}foot{i}_{what}", type=sensor_type, objtype=frame_obj[kind], objname=name)
    base.add_camera(
        name=CAMERA, mode=mujoco.mjtCamLight.mjCAMLIGHT_TRACKCOM, pos=[0, -1.8, 0.7], xyaxes=[1, 0, 0, 0, 0.36, 0.93]
    )
    spec.worldbody.add_light(name=PREFIX + "sun", pos=[0, 0, 5], dir=[0, 0, -1],
                             type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL, castshadow=False, diffuse=[0.5, 0.5, 0.5])  # fmt: skip
    base.add_light(name=PREFIX + "key", pos=[0.8, -0.6, 2.5], dir=[-0.3, 0.25, -1], mode=mujoco.mjtCamLight.mjCAMLIGHT_TRACKCOM,
                   type=mujoco.mjtLightType.mjLIGHT_SPOT, cutoff=50, castshadow=True, diffuse=[0.6, 0.6, 0.6])  # fmt: skip
    spec.visual.quality.shadowsize = 4096
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

    nj = len(robot.joints)
    jids = [model.joint(n).id for n in robot.joints]
    held_adr = model.jnt_qposadr[[model.joint(n).id for n in held]] if held else np.zeros(0, dtype=int)
    model.qpos0[held_adr] = default_pos[nj:]  # a reset puts held joints at their default pose
    sensor = lambda name: (model.sensor_adr[model.sensor(name).id], model.sensor_dim[model.sensor(name).id])  # noqa: E731
    gyro_adr, _ = sensor(PREFIX + "imu_gyro")
    vel_adr, _ = sensor(PREFIX + "imu_velocimeter")
    foot_ids = [[model.geom(g.name).id for g in geoms] for geoms in foot_geom_sets]
    base_id = model.body(robot.base_body).id
    imu_in_base = site_in_body(model, model.site(imu).id, base_id)
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
        default_joint_pos=default_pos[:nj],
        kp=kp[:nj],
        kd=kd[:nj],
        torque_limit=torque_limit[:nj],
        held_joints=held,
        held_default=default_pos[nj:],
        base_body=base_id,
        root_qpos=int(model.jnt_qposadr[free]),
        root_dof=int(model.jnt_dofadr[free]),
        foot_geoms=np.array([g for ids in foot_ids for g in ids], dtype=int),
        foot_refs=[(kind, getattr(model, kind)(name).id) for name, kind in zip(robot.feet, kinds, strict=True)],
        foot_found=np.array([sensor(name)[0] for name in foot_sensors], dtype=int),
        foot_starts=np.cumsum([0] + [len(ids) for ids in foot_ids[:-1]]).astype(int),
        foot_frame={
            what: np.array(
                [sensor(f"{PREFIX}foot{i}_{what}")[0] + np.arange(3) for i in range(len(robot.feet))], dtype=int
            ).reshape(len(robot.feet), 3)
            for what in ("pos", "vel", "zaxis")
        },  # fmt: skip
        gyro=slice(gyro_adr, gyro_adr + 3),
        velocimeter=slice(vel_adr, vel_adr + 3),
        base_contact=int(sensor(PREFIX + "base_contact")[0]),
        model_hash=model_hash(path, spec),
        imu_in_base=imu_in_base,
        summary=summary(probe, robot, jids, torque_limit[:nj], base_id, imu_in_base, replaced, sim),
    )
