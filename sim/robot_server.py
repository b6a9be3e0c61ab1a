"""A robot stand-in for sim-to-sim: MuJoCo in its own process, behaving like a robot SDK over UDP.

    python -m sim.robot_server --bundle <bundle_dir> [--port 7700] [--latency-ms 20 --jitter-ms 5 --drop 0.02]
    python <bundle_dir>/robot_loop.py --udp 127.0.0.1:7700

It builds the bundle's own training scene (robot, ground, PD actuators at the physics rate), streams the state
at the physics rate in its own joint order (`onboard/robot_loop.py` UdpRobot's format), applies the PD targets
and gains it receives, and plays a script of operator commands. Faults of the real world are options: latency
and jitter each way, dropped datagrams, sensor noise and bias, a shuffled joint order, joints of flipped sign,
a state stream that stops. It writes what happened (velocities, falls, commands received) to a JSON file.
"""

from __future__ import annotations

import argparse
import heapq
import json
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from common.io import load_run_config, write_json
from envs import task_config
from envs.task import LocomotionTask
from envs.tracking import FIXED_COMMANDS


@dataclass
class Faults:
    """The real world's faults the stand-in injects; all off by default."""

    command_latency_ms: float = 0.0
    """From the loop's send to the motors."""
    state_latency_ms: float = 0.0
    """From the sensors to the loop's socket."""
    jitter_ms: float = 0.0
    """Uniform +- on each datagram's latency (datagrams may then arrive out of order)."""
    drop: float = 0.0
    """Share of datagrams lost, each way."""
    q_noise: float = 0.0
    """Uniform half-width of joint position noise (rad); dq_noise and gyro_noise likewise (rad/s)."""
    dq_noise: float = 0.0
    gyro_noise: float = 0.0
    q_bias: float = 0.0
    """Constant joint position offset (rad) of random sign per joint; gyro_bias likewise (rad/s)."""
    gyro_bias: float = 0.0
    stop_state_at_s: float | None = None
    """Stop streaming the state at this time (the robot keeps obeying commands)."""
    shuffle_joints: bool = False
    """Stream and take joints in a seeded random order instead of the bundle's."""
    flip: list[str] = field(default_factory=list)
    """Joints whose axis the robot's SDK reports with the opposite sign."""


def script(settle_s: float = 3.0, segment_s: float = 6.0) -> list[dict[str, Any]]:
    """The operator's commands: stand while the loop ramps up, then each fixed command of the walking check."""
    parts = [{"name": "settle", "command": [0.0, 0.0, 0.0], "seconds": settle_s}]
    return parts + [{"name": n, "command": list(c), "seconds": segment_s} for n, c in FIXED_COMMANDS.items()]


def script_rows(parts: list[dict[str, Any]]) -> list[list[float]]:
    """A script as the velocity command's `script` parameter: [[seconds, vx, vy, yaw_rate], ...]."""
    return [[float(p["seconds"]), *map(float, p["command"])] for p in parts]


class _Link:
    """Datagrams held back by latency and jitter, lost at the drop rate; released in order of their due time."""

    def __init__(self, latency_ms: float, jitter_ms: float, drop: float, rng: np.random.Generator) -> None:
        self.latency, self.jitter, self.drop, self.rng = latency_ms * 1e-3, jitter_ms * 1e-3, drop, rng
        self.queue: list[tuple[float, int, Any]] = []
        self.count = self.dropped = 0

    def put(self, now: float, item: Any) -> None:
        self.count += 1
        if self.drop > 0 and self.rng.random() < self.drop:
            self.dropped += 1
            return
        due = now + max(0.0, self.latency + (self.rng.uniform(-self.jitter, self.jitter) if self.jitter else 0.0))
        heapq.heappush(self.queue, (due, self.count, item))

    def due(self, now: float) -> list[Any]:
        out = []
        while self.queue and self.queue[0][0] <= now:
            out.append(heapq.heappop(self.queue)[2])
        return out


class StandIn:
    """One robot of the bundle's training scene in real time (or in lockstep with the loop)."""

    def __init__(self, bundle: str | Path, faults: Faults | None = None, commands: list[dict] | None = None,
                 seed: int = 0, host: str = "127.0.0.1", port: int = 0) -> None:  # fmt: skip
        bundle = Path(bundle)
        manifest = json.loads((bundle / "manifest.json").read_text())
        self.faults, self.script = faults or Faults(), commands or script()
        cfg = task_config(load_run_config(bundle), randomization="none")
        if "velocity" not in cfg.env.commands:
            raise ValueError(f"bundle {bundle}: its task has no velocity command for the operator's script")
        # the operator's script, through the task's own command term (the in-process reference uses the same)
        cfg.env.commands["velocity"].params["script"] = script_rows(self.script)
        self.task = LocomotionTask(cfg, num_envs=1, seed=seed, nthread=1)
        sc = self.scene = self.task.scene
        if manifest.get("robot_model_hash") not in (None, sc.model_hash):
            raise ValueError(f"bundle {bundle}: its robot model hash differs from this checkout's {sc.robot.mjcf}; "
                             "the stand-in would not be the robot the policy was trained on")  # fmt: skip
        self.task.reset()
        self.operator = self.task.commands.terms["velocity"]
        self.model, self.data = self.task.model, mujoco.MjData(self.task.model)
        self.data.qpos[:], self.data.qvel[:] = self.task.qpos[0], self.task.qvel[0]
        self.data.ctrl[:] = 0.0
        mujoco.mj_forward(self.model, self.data)
        every = list(sc.joint_names) + list(sc.held_joints)  # actuator i drives joint every[i]
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(every)) if self.faults.shuffle_joints else np.arange(len(every))
        unknown = sorted(set(self.faults.flip) - set(every))
        if unknown:
            raise ValueError(f"faults.flip: {unknown} are not joints of the robot; its joints: {every}")
        self.names = [every[i] for i in order]
        self.actuator = order
        ids = [mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in self.names]
        self.qadr = self.model.jnt_qposadr[ids]
        self.dadr = self.model.jnt_dofadr[ids]
        self.sign = np.array([-1.0 if n in self.faults.flip else 1.0 for n in self.names])
        self.q_bias = self.faults.q_bias * rng.choice([-1.0, 1.0], len(ids))
        self.gyro_bias = self.faults.gyro_bias * rng.choice([-1.0, 1.0], 3)
        self.rng = rng
        self.rejected, self.bye = 0, False
        self.motors_off()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.peer: tuple | None = None
        self.physics_dt = float(self.model.opt.timestep)
        self.decimation = self.task.decimation

    # ------------------------------------------------------------------------------------------------
    # the robot

    def motors_off(self) -> None:
        """No torque until the first command, as a robot whose motors are not yet enabled."""
        n = len(self.actuator)
        self.model.actuator_gainprm[:n, 0] = 0.0
        self.model.actuator_biasprm[:n, 1:3] = 0.0

    def apply(self, cmd: dict) -> None:
        """PD targets and gains of one command (robot order and sign) onto the actuators."""
        q, kp, kd = (np.asarray(cmd[k], dtype=np.float64) for k in ("q", "kp", "kd"))
        if not (q.shape == kp.shape == kd.shape == (len(self.names),)) or not np.isfinite(q).all():
            self.rejected += 1
            return
        a = self.actuator
        self.data.ctrl[a] = self.sign * q
        self.model.actuator_gainprm[a, 0] = kp
        self.model.actuator_biasprm[a, 1] = -kp
        self.model.actuator_biasprm[a, 2] = -kd

    def state(self, seq: int, command: list[float]) -> dict:
        """The SDK's state datagram: joints in robot order and sign, with the configured noise and bias."""
        f, d, sc = self.faults, self.data, self.scene
        q = (
            d.qpos[self.qadr]
            + self.q_bias
            + (self.rng.uniform(-f.q_noise, f.q_noise, len(self.qadr)) if f.q_noise else 0)
        )
        dq = d.qvel[self.dadr] + (self.rng.uniform(-f.dq_noise, f.dq_noise, len(self.dadr)) if f.dq_noise else 0)
        gyro = (
            d.sensordata[sc.gyro]
            + self.gyro_bias
            + (self.rng.uniform(-f.gyro_noise, f.gyro_noise, 3) if f.gyro_noise else 0)
        )
        r = sc.root_qpos
        return {"type": "state", "seq": seq, "t": d.time, "names": self.names, "q": (self.sign * q).tolist(),
                "dq": (self.sign * dq).tolist(), "gyro": np.asarray(gyro).tolist(), "quat": d.qpos[r + 3 : r + 7].tolist(),
                "command": list(command)}  # fmt: skip

    def fallen(self) -> bool:
        """The training task's terminations (base contact, tilt, height) on this robot now."""
        d = self.data
        rows = (d.qpos[None], d.qvel[None], d.sensordata[None], d.actuator_force[None])
        return bool(self.task.terminated(*rows)[0])

    def command_at(self, step: int) -> tuple[int, list[float]]:
        """The script's segment index and command during physics step `step` (held per policy period, as in
        the task)."""
        t = np.array([(step // self.decimation) * self.decimation * self.physics_dt])
        return int(self.operator.segment_at(t)[0]), self.operator.scripted(t)[0].tolist()

    # ------------------------------------------------------------------------------------------------
    # the process

    def _receive(self, now: float, link: _Link | None) -> list[dict]:
        got = []
        while True:
            try:
                data, addr = self.sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return got
            msg = json.loads(data)
            self.peer = addr
            if msg.get("type") == "cmd":
                if link is None:
                    got.append(msg)
                else:
                    link.put(now, msg)
            elif msg.get("type") == "bye":
                self.bye = True

    def _send(self, msg: dict) -> None:
        if self.peer is not None:
            try:
                self.sock.sendto(json.dumps(msg).encode(), self.peer)
            except OSError:
                pass

    def run(self, duration_s: float, lockstep: bool = False, connect_timeout_s: float = 20.0) -> dict[str, Any]:
        """Serve one loop for duration_s of robot time; returns what happened."""
        f = self.faults
        cmd_link = _Link(f.command_latency_ms, f.jitter_ms, f.drop, self.rng)
        state_link = _Link(f.state_latency_ms, f.jitter_ms, f.drop, self.rng)
        deadline = time.monotonic() + connect_timeout_s
        while self.peer is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no loop said hello on port {self.port} within {connect_timeout_s:.0f} s")
            self._receive(time.monotonic(), None)
            time.sleep(0.001)
        log: dict[str, list] = {k: [] for k in ("t", "lin", "yaw", "command", "segment")}
        modes: list[list] = []
        last_seq, cmd_lost, received, fell_at = 0, 0, 0, None
        last_state_sent, behind = None, 0.0
        steps = int(round(duration_s / self.physics_dt))
        t0, seq = time.monotonic(), 0
        if lockstep:
            self._send(self.state(seq, self.command_at(0)[1]))
        for k in range(steps):
            if lockstep:
                if k % self.decimation == 0:
                    cmds, wait_until = [], time.monotonic() + 5.0
                    while not cmds and not self.bye and time.monotonic() < wait_until:
                        cmds = self._receive(time.monotonic(), None)
                    if not cmds:
                        break
                    due = cmds
                else:
                    due = []
                now = time.monotonic()
            else:
                slot = t0 + k * self.physics_dt
                now = time.monotonic()
                if now < slot:
                    time.sleep(slot - now)
                    now = time.monotonic()
                behind = max(behind, now - slot)
                self._receive(now, cmd_link)
                due = cmd_link.due(now)
            for cmd in sorted(due, key=lambda c: c["seq"]):
                if cmd["seq"] <= last_seq:
                    continue  # an older command overtaken by a newer one
                cmd_lost += cmd["seq"] - last_seq - 1
                last_seq, received = cmd["seq"], received + 1
                self.apply(cmd)
                if not modes or modes[-1][1] != cmd["mode"]:
                    modes.append([now, cmd["mode"], self.data.time])
            segment, command = self.command_at(k)
            mujoco.mj_step(self.model, self.data)
            if (k + 1) % self.decimation == 0:
                log["t"].append(self.data.time)
                log["lin"].append(self.data.sensordata[self.scene.velocimeter].tolist())
                log["yaw"].append(float(self.data.sensordata[self.scene.gyro][2]))
                log["command"].append(list(command))
                log["segment"].append(segment)
                if fell_at is None and self.fallen():
                    fell_at = self.data.time
            streaming = f.stop_state_at_s is None or self.data.time < f.stop_state_at_s
            if lockstep:
                if (k + 1) % self.decimation == 0:
                    seq += 1
                    self._send(self.state(seq, command))
            elif streaming:
                seq += 1
                state_link.put(now, self.state(seq, command))
            if not lockstep:
                for msg in state_link.due(time.monotonic()):
                    self._send(msg)
                    last_state_sent = time.monotonic()
            if self.bye:
                break
        self._send({"type": "bye"})
        return {
            "faults": asdict(f),
            "script": self.script,
            "names": self.names,
            "physics_dt": self.physics_dt,
            "decimation": self.decimation,
            "lockstep": lockstep,
            "duration_s": float(self.data.time),
            "fell": fell_at is not None,
            "fell_at_s": fell_at,
            "samples": log,
            "commands": {
                "received": received,
                "lost": cmd_lost,
                "dropped_by_fault": cmd_link.dropped,
                "rejected": self.rejected,
                "modes": modes,
            },  # fmt: skip
            "states": {"sent": seq, "dropped_by_fault": state_link.dropped, "last_sent_mono": last_state_sent},
            "realtime": {"behind_max_ms": behind * 1e3, "wall_s": time.monotonic() - t0},
            "final_qpos": self.data.qpos.tolist(),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A MuJoCo robot behind a UDP SDK, for robot_loop.py sim-to-sim.")
    parser.add_argument("--bundle", required=True, help="the bundle whose robot and scene to simulate")
    parser.add_argument("--port", type=int, default=7700, help="UDP port (0: any free one, printed)")
    parser.add_argument("--duration", type=float, default=None, help="seconds of robot time (default: the script)")
    parser.add_argument("--faults", help="JSON object of Faults fields, e.g. '{\"drop\": 0.02}'")
    parser.add_argument("--script", help="JSON list of {name, command: [vx, vy, yaw], seconds}")
    parser.add_argument("--lockstep", action="store_true", help="step one policy period per command received")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="robot_server.json", help="where to write what happened")
    args = parser.parse_args(argv)
    fields = json.loads(args.faults) if args.faults else {}
    unknown = sorted(set(fields) - set(Faults.__dataclass_fields__))
    if unknown:
        parser.error(f"--faults: unknown field(s) {unknown}; accepted: {sorted(Faults.__dataclass_fields__)}")
    commands = json.loads(args.script) if args.script else None
    server = StandIn(args.bundle, Faults(**fields), commands, seed=args.seed, port=args.port)
    duration = args.duration if args.duration is not None else sum(p["seconds"] for p in server.script)
    print(f"robot_server: {server.scene.robot.name} on udp://127.0.0.1:{server.port}", flush=True)
    result = server.run(duration, lockstep=args.lockstep)
    write_json(Path(args.out), result)
    print(
        f"robot_server: {result['duration_s']:.1f} s, fell: {result['fell']}, commands {result['commands']['received']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
