"""The robot interface of robot_loop.py: what a robot (or its SDK wrapper) implements, how its joints map onto
the bundle's (JointMap), and UdpRobot, the implementation that talks to the stand-in robot
(python -m sim.robot_server). NumPy and the standard library."""

from __future__ import annotations

import json
import math
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

if __package__:  # inside the LocoForge repository
    from .runtime import BundleError
else:  # inside a bundle: runtime.py sits beside this file
    from runtime import BundleError  # type: ignore[no-redef]

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux's value where Python does not name it


@dataclass
class RobotState:
    """One reading of the robot, in its own joint order and names."""

    names: list[str]
    q: np.ndarray
    """Joint positions (rad)."""
    dq: np.ndarray
    """Joint velocities (rad/s)."""
    gyro: np.ndarray
    """Base angular velocity in the IMU frame (rad/s), x forward, y left, z up."""
    quat: np.ndarray | None = None
    """Base orientation [w, x, y, z] in the world; or give `gravity`."""
    gravity: np.ndarray | None = None
    """Unit gravity vector in the base frame ((0, 0, -1) when level)."""
    command: np.ndarray | None = None
    """vx, vy (m/s), yaw rate (rad/s) from the operator; None: LoopConfig.command."""
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    """Inputs of observation terms beyond these (e.g. `lin_vel` from an estimator), policy joint order."""
    stamp: float = 0.0
    """time.monotonic() when this reading arrived: its age decides whether it is stale."""
    seq: int = -1
    """The robot's sequence number of this reading (-1: none)."""


class Robot(Protocol):
    """What a robot (or its SDK wrapper) implements for the loop."""

    def read_state(self) -> RobotState | None:
        """The newest reading, without blocking; None before the first one arrives."""
        ...

    def send(self, q_target: np.ndarray, kp: np.ndarray, kd: np.ndarray, mode: str) -> None:
        """PD targets for every joint of `read_state().names`, in that order: tau = kp (q_target - q) - kd dq."""
        ...


class JointMap:
    """The robot's joints <-> the bundle's policy and held joints, by name and sign."""

    def __init__(self, robot_names: list[str], manifest: dict, names: dict[str, str], signs: dict[str, float]) -> None:
        robot = manifest["robot"]
        held = robot.get("held_joints") or {"joint_names": [], "target": [], "kp": [], "kd": []}
        bundle = list(robot["joint_names"]) + list(held["joint_names"])
        unknown = sorted(set(names.values()) - set(bundle)) + sorted(set(signs) - set(bundle))
        if unknown:
            raise BundleError(f"joint map names {unknown}, which are not joints of the bundle; its joints: {bundle}")
        if any(abs(abs(float(v)) - 1.0) > 0 for v in signs.values()):
            raise BundleError(f"signs: each is +1 or -1, got {dict(signs)}")
        as_bundle = [names.get(n, n) for n in robot_names]
        extra = [n for n, b in zip(robot_names, as_bundle) if b not in bundle]
        missing = [b for b in bundle if b not in as_bundle]
        if extra or missing:
            raise BundleError(f"robot joints {extra} are not in the bundle and bundle joints {missing} are not on the "
                              f"robot; map names with LoopConfig.names (robot name -> bundle name)")  # fmt: skip
        index = {b: i for i, b in enumerate(as_bundle)}
        self.size = len(robot_names)
        self.policy = np.array([index[b] for b in robot["joint_names"]], dtype=int)
        self.held = np.array([index[b] for b in held["joint_names"]], dtype=int)
        sign = np.array([float(signs.get(b, 1.0)) for b in as_bundle])
        self.sign = sign
        self.kp, self.kd = np.zeros(self.size), np.zeros(self.size)
        self.kp[self.policy], self.kd[self.policy] = robot["kp"], robot["kd"]
        self.held_target = np.asarray(held["target"], dtype=np.float64)
        if len(self.held):
            self.kp[self.held], self.kd[self.held] = held["kp"], held["kd"]

    def to_policy(self, values: np.ndarray) -> np.ndarray:
        """Robot-order joint values -> the policy's joints, in the bundle's order and sign."""
        return (self.sign * np.asarray(values, dtype=np.float64))[self.policy]

    def to_robot(self, policy_target: np.ndarray) -> np.ndarray:
        """Policy-joint targets (bundle order and sign), held joints at their targets -> robot-order targets."""
        out = np.zeros(self.size)
        out[self.policy] = policy_target
        out[self.held] = self.held_target
        return self.sign * out


class UdpRobot:
    """The stand-in's SDK (sim.robot_server): JSON state datagrams in, JSON command datagrams out.

    state:   {"type": "state", "seq", "t", "names", "q", "dq", "gyro", "quat", "command"}
    command: {"type": "cmd", "seq", "q", "kp", "kd", "mode"}   (and {"type": "hello"} / {"type": "bye"})"""

    def __init__(self, host: str, port: int) -> None:
        self.addr = (host, int(port))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.setblocking(False)
        try:  # the kernel's arrival time of each datagram: a reading's age must not include our polling delay
            self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            self.kernel_stamps = hasattr(self.sock, "recvmsg")
        except OSError:
            self.kernel_stamps = False
        self.latest: RobotState | None = None
        self.seq = 0
        self.received = self.lost = self.out_of_order = 0
        self.hello_at = -math.inf
        self.closed = False
        """The robot said bye (the stand-in's run ended): the loop stops."""

    def _send(self, message: dict) -> None:
        try:
            self.sock.sendto(json.dumps(message).encode(), self.addr)
        except OSError:  # the robot's socket is gone; staleness handles it
            pass

    def read_state(self) -> RobotState | None:
        if self.latest is None and time.monotonic() - self.hello_at > 0.2:  # announce ourselves until heard
            self._send({"type": "hello"})
            self.hello_at = time.monotonic()
        while True:
            try:
                data, stamp = self._recv()
            except OSError:  # BlockingIOError: nothing more to read
                break
            msg = json.loads(data)
            if msg.get("type") == "bye":
                self.closed = True
            if msg.get("type") != "state":
                continue
            self.received += 1
            last = self.latest.seq if self.latest is not None else -1
            if msg["seq"] <= last:
                self.out_of_order += 1
                continue
            self.lost += max(0, msg["seq"] - last - 1) if last >= 0 else 0
            self.latest = RobotState(
                names=msg["names"], q=np.asarray(msg["q"]), dq=np.asarray(msg["dq"]), gyro=np.asarray(msg["gyro"]),
                quat=np.asarray(msg["quat"]), command=None if msg.get("command") is None else np.asarray(msg["command"]),
                stamp=stamp, seq=int(msg["seq"]),
            )  # fmt: skip
        return self.latest

    def _recv(self) -> tuple[bytes, float]:
        """One datagram and its arrival time on time.monotonic()'s clock."""
        if not self.kernel_stamps:
            return self.sock.recv(65536), time.monotonic()
        data, ancillary, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(16))
        now_mono, now_wall = time.monotonic(), time.time()
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= 16:
                sec, nsec = struct.unpack("qq", payload[:16])
                return data, now_mono - max(0.0, now_wall - (sec + nsec * 1e-9))
        return data, now_mono

    def send(self, q_target: np.ndarray, kp: np.ndarray, kd: np.ndarray, mode: str) -> None:
        self.seq += 1
        self._send({"type": "cmd", "seq": self.seq, "q": np.asarray(q_target).tolist(), "kp": np.asarray(kp).tolist(),
                    "kd": np.asarray(kd).tolist(), "mode": mode})  # fmt: skip

    def stats(self) -> dict:
        return {"states_received": self.received, "states_lost": self.lost, "states_out_of_order": self.out_of_order,
                "commands_sent": self.seq}  # fmt: skip

    def close(self) -> None:
        self._send({"type": "bye"})
        self.sock.close()
