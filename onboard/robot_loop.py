"""The robot side of a LocoForge bundle: a fixed-rate control loop driven by the manifest.

    python robot_loop.py --udp 127.0.0.1:7700            # drive the stand-in (python -m sim.robot_server)
    loop = RobotLoop(".", MyRobot(), LoopConfig()); loop.run()   # your robot: implement read_state() and send()

Each period it reads the robot's state, builds the observation with the runtime's own code, runs the policy
and sends PD targets; it maps joints by name (and sign), ramps softly to the default pose first, holds the
last targets on stale or non-finite state, damps after too many bad periods or missed deadlines, stops
cleanly on Ctrl-C, and writes its timing to a JSON log. NumPy and the standard library only, like runtime.py.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

if __package__:  # inside the LocoForge repository
    from .robot_io import JointMap, Robot, RobotState, UdpRobot
    from .runtime import BundleError, BundlePolicy, load_bundle
else:  # inside a bundle: robot_io.py and runtime.py sit beside this file
    from robot_io import JointMap, Robot, RobotState, UdpRobot  # type: ignore[no-redef]
    from runtime import BundleError, BundlePolicy, load_bundle  # type: ignore[no-redef]

MODES = ("ramp", "policy", "hold", "damp")
"""What each command sent is: soft start, policy output, hold of the last targets, damping (kp 0)."""

__all__ = ["JointMap", "LoopConfig", "Robot", "RobotLoop", "RobotState", "UdpRobot", "main"]


@dataclass
class LoopConfig:
    """The loop's safety and timing settings (the rate and the gains come from the manifest)."""

    soft_start_s: float = 2.0
    """Ramp from the measured pose to the default pose over this long before the policy takes over."""
    stale_after_s: float | None = None
    """A reading older than this is stale; None: one control period."""
    stale_limit: int = 10
    """Consecutive stale or non-finite periods (holding the last targets) before damping."""
    miss_limit: int = 5
    """Consecutive missed deadlines before damping."""
    damping_kd: float | None = None
    """kd (N m s/rad) of the damping fallback, kp 0; None: each joint's kd from the manifest."""
    names: dict[str, str] = field(default_factory=dict)
    """Robot joint name -> bundle joint name, where they differ."""
    signs: dict[str, float] = field(default_factory=dict)
    """Bundle joint name -> -1 where the robot's axis points opposite to the training model's."""
    command: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    """The command when the robot's state carries none."""
    duration_s: float | None = None
    """Stop after this long (None: until Ctrl-C)."""
    lockstep: bool = False
    """Tick on each new reading instead of the clock (a simulator stepping with the loop: exact sim-to-sim)."""
    log: str | None = "robot_loop.json"
    """Timing log written at the end (None: none)."""
    priority: int | None = None
    """Run under SCHED_FIFO at this priority (1-99; needs root or CAP_SYS_NICE, Linux): a robot computer's
    usual setting against wake-up jitter. Refused or unavailable: the default scheduler, noted in the log."""


class RobotLoop:
    """Runs a bundle on a robot at the manifest's control rate, with the safety rules of LoopConfig."""

    def __init__(self, bundle: str | Path, robot: Robot, config: LoopConfig | None = None,
                 policy: BundlePolicy | None = None) -> None:  # fmt: skip
        self.policy = policy if policy is not None else load_bundle(bundle)
        self.robot, self.cfg = robot, config or LoopConfig()
        self.period = float(self.policy.manifest["timing"]["policy_dt"])
        self.stale_after = self.period if self.cfg.stale_after_s is None else float(self.cfg.stale_after_s)
        if self.cfg.soft_start_s < 0 or self.stale_after <= 0 or self.cfg.stale_limit < 1 or self.cfg.miss_limit < 1:
            raise BundleError("LoopConfig: soft_start_s >= 0, stale_after_s > 0, stale_limit >= 1 and miss_limit >= 1")
        if len(self.cfg.command) != 3:
            raise BundleError(f"LoopConfig.command: give [vx, vy, yaw_rate], got {self.cfg.command}")
        self.map: JointMap | None = None
        self.mode = "wait"
        self.last_target: np.ndarray | None = None
        self.action = np.zeros(self.policy.action_dim)
        self.ramp_from: np.ndarray | None = None
        self.policy_since = math.inf
        self.policy_steps = 0
        self.bad = self.misses = 0
        self.holds: list[list[float]] = []
        """[time since start (s), ms the reading was past stale_after] at each entry into hold."""
        self.events: list[list] = []
        """[time since start (s), what happened] for every mode change."""
        self.counts = {"ticks": 0, "stale": 0, "non_finite": 0, "deadline_misses": 0, "skipped_periods": 0}
        self.wake: list[float] = []
        self.late: list[float] = []
        self.compute: list[float] = []
        self.last_fresh = math.nan
        self.t0 = time.monotonic()

    # ------------------------------------------------------------------------------------------------
    # one period

    def tick(self, now: float) -> str:
        """Read, decide, send: one control period at monotonic time `now`; returns the mode sent."""
        state = self.robot.read_state()
        if state is None:
            return self.mode  # nothing to map or command yet
        if self.map is None:
            self.map = JointMap(list(state.names), self.policy.manifest, self.cfg.names, self.cfg.signs)
            self.damping_kd = (
                self.map.kd if self.cfg.damping_kd is None else np.full(self.map.size, self.cfg.damping_kd)
            )
        fresh = now - state.stamp <= self.stale_after
        finite = all(np.isfinite(np.asarray(v, dtype=np.float64)).all()
                     for v in (state.q, state.dq, state.gyro, state.quat if state.gravity is None else state.gravity,
                               self._command(state)))  # fmt: skip
        if fresh and finite:
            self.last_fresh = state.stamp
        if self.mode == "damp":
            return self._send_damp(now)
        if not (fresh and finite):
            self.bad += 1
            self.counts["stale" if not fresh else "non_finite"] += 1
            if self.bad >= self.cfg.stale_limit:
                return self._send_damp(now, f"{self.bad} consecutive stale or non-finite readings")
            if self.last_target is None:  # nothing sent yet: hold where the robot stands
                return self.mode
            if self.mode != "hold":  # how late the hold came: the reading's age beyond stale_after
                self.holds.append([round(now - self.t0, 4), round((now - state.stamp - self.stale_after) * 1e3, 3)])
            return self._send(now, "hold", self.last_target)
        self.bad = 0
        if not math.isfinite(self.policy_since):
            if self.cfg.soft_start_s > 0:
                return self._ramp(now, state)
            self.policy_since = now  # no soft start: the policy from the first reading
            self.policy.reset_history()
        obs = self.policy.observation(self._inputs(state))
        action = self.policy(obs)
        if self.policy.flagged:
            return self._send(now, "hold", self.last_target)
        self.action = np.asarray(action, dtype=np.float64)
        self.policy_steps += 1  # the policy's own clock (a gait clock reads it): one period per step
        target = self.map.to_robot(self.policy.joint_targets(self.action))
        return self._send(now, "policy", target)

    def _ramp(self, now: float, state: RobotState) -> str:
        if self.ramp_from is None:
            self.ramp_from, self.ramp_t0 = np.asarray(state.q, dtype=np.float64).copy(), now
        goal = self.map.to_robot(self.policy.default_joint_pos)
        alpha = 1.0 if self.cfg.soft_start_s == 0 else min(1.0, (now - self.ramp_t0) / self.cfg.soft_start_s)
        mode = self._send(now, "ramp", (1.0 - alpha) * self.ramp_from + alpha * goal)
        if alpha >= 1.0:
            self.policy_since = now  # the next fresh period runs the policy, from a zero previous action
            self.action[:] = 0.0  # and stacked terms' histories filled from its first reading, as an episode starts
            self.policy_steps = 0
            self.policy.reset_history()
        return mode

    def _command(self, state: RobotState) -> np.ndarray:
        return np.asarray(self.cfg.command if state.command is None else state.command, dtype=np.float64)

    def _inputs(self, state: RobotState) -> dict[str, np.ndarray]:
        inputs = {"gyro": state.gyro, "command": self._command(state), "previous_action": self.action,
                  "joint_pos": self.map.to_policy(state.q), "joint_vel": self.map.to_policy(state.dq),
                  "time_s": self.policy_steps * self.period, **state.extra}  # fmt: skip
        inputs["gravity" if state.gravity is not None else "quat"] = (
            state.gravity if state.gravity is not None else state.quat
        )
        return inputs

    def _send(self, now: float, mode: str, target: np.ndarray) -> str:
        self.robot.send(target, self.map.kp, self.map.kd, mode)
        self.last_target = target
        if mode != self.mode:
            self._event(now, mode)
        self.mode = mode
        return mode

    def _send_damp(self, now: float, why: str = "") -> str:
        """kp 0 and the damping kd on every joint; latched: the loop never leaves it."""
        self.robot.send(np.zeros(self.map.size), np.zeros(self.map.size), self.damping_kd, "damp")
        if self.mode != "damp":
            self._event(now, f"damp: {why}" if why else "damp")
        self.mode = "damp"
        return "damp"

    def _event(self, now: float, what: str) -> None:
        self.events.append([round(now - self.t0, 4), what])

    # ------------------------------------------------------------------------------------------------
    # the loop

    def run(self) -> dict:
        """Tick at the control rate until duration_s, Ctrl-C or (lockstep) the robot going quiet; damp at the
        end and write the timing log. Returns the log."""
        cfg, stop = self.cfg, "duration"
        self.scheduler = self._realtime(cfg.priority)
        self.t0 = time.monotonic()
        end = math.inf if cfg.duration_s is None else self.t0 + cfg.duration_s
        k, seq = 0, -1
        try:
            while True:
                if cfg.lockstep:
                    state = self._wait_newer(seq, end)
                    if state is None:
                        stop = "robot quiet" if time.monotonic() < end else "duration"
                        break
                    seq, start = state.seq, time.monotonic()
                    self.wake.append(start)
                    self.tick(start)
                    self.counts["ticks"] += 1
                    continue
                slot = self.t0 + k * self.period
                if slot >= end:
                    break
                if getattr(self.robot, "closed", False):
                    stop = "robot closed"
                    break
                now = time.monotonic()
                if now < slot:
                    time.sleep(slot - now)
                    now = time.monotonic()
                self.wake.append(now)
                self.late.append(now - slot)
                self.tick(now)
                self.counts["ticks"] += 1
                done = time.monotonic()
                self.compute.append(done - now)
                self._deadline(done, slot)
                k += 1
                behind = int((time.monotonic() - self.t0) / self.period) - k
                if behind > 0:  # overslept whole periods: skip their slots rather than burst to catch up
                    self.counts["skipped_periods"] += behind
                    k += behind
        except KeyboardInterrupt:
            stop = "ctrl-c"
        finally:
            if self.map is not None:
                for _ in range(3):  # damping, sent more than once: a single packet may be lost
                    self._send_damp(time.monotonic())
            report = self.report(stop)
            if cfg.log:
                Path(cfg.log).write_text(json.dumps(report, indent=2) + "\n")
        return report

    @staticmethod
    def _realtime(priority: int | None) -> str:
        """Switch this process to SCHED_FIFO at `priority`; returns the scheduler in force, for the log."""
        if priority is None:
            return "default"
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(int(priority)))
            return f"SCHED_FIFO {int(priority)}"
        except (AttributeError, OSError) as err:
            return f"default (SCHED_FIFO {priority} refused: {err})"

    def _wait_newer(self, seq: int, end: float) -> RobotState | None:
        quiet = time.monotonic() + max(1.0, 10 * self.stale_after)
        while time.monotonic() < min(end, quiet):
            state = self.robot.read_state()
            if state is not None and state.seq > seq:
                return state
            time.sleep(0.0002)
        return None

    def _deadline(self, done: float, slot: float) -> None:
        if done - slot > self.period:
            self.counts["deadline_misses"] += 1
            self.misses += 1
            if self.misses >= self.cfg.miss_limit and self.mode != "damp" and self.map is not None:
                self._send_damp(done, f"{self.misses} consecutive missed deadlines")
        else:
            self.misses = 0

    def report(self, stop: str) -> dict:
        """Loop timing (period p50/p99/max, jitter), counts, mode changes and the robot link's own counters."""
        period = np.diff(self.wake) * 1e3 if len(self.wake) > 1 else np.zeros(1)
        late = np.asarray(self.late or [0.0]) * 1e3
        compute = np.asarray(self.compute or [0.0]) * 1e3
        stats = getattr(self.robot, "stats", None)
        return {
            "stop": stop,
            "scheduler": getattr(self, "scheduler", "default"),
            "control_period_ms": self.period * 1e3,
            "period_ms": {
                "p50": float(np.percentile(period, 50)),
                "p99": float(np.percentile(period, 99)),
                "max": float(period.max()),
                "min": float(period.min()),
            },  # fmt: skip
            "jitter_ms": {"p99": float(np.percentile(np.abs(late), 99)), "max": float(np.abs(late).max())},
            "compute_ms": {"p50": float(np.percentile(compute, 50)), "p99": float(np.percentile(compute, 99))},
            "counts": dict(self.counts),
            "events": self.events,
            "holds": self.holds,
            "config": asdict(self.cfg),
            "link": stats() if callable(stats) else None,
        }


def main(argv: list[str] | None = None) -> int:
    """`python robot_loop.py --udp HOST:PORT [--duration S] [--config loop.json]`, run from the bundle folder."""
    parser = argparse.ArgumentParser(description="Run this bundle's policy against a robot (the stand-in by UDP).")
    parser.add_argument("--bundle", default=str(Path(__file__).resolve().parent), help="bundle folder")
    parser.add_argument("--udp", required=True, help="HOST:PORT of the robot (python -m sim.robot_server)")
    parser.add_argument("--config", help="JSON file of LoopConfig fields")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--log", help="timing log path (default robot_loop.json)")
    args = parser.parse_args(argv)
    fields = json.loads(Path(args.config).read_text()) if args.config else {}
    unknown = sorted(set(fields) - set(LoopConfig.__dataclass_fields__))
    if unknown:
        parser.error(
            f"--config: unknown LoopConfig field(s) {unknown}; accepted: {sorted(LoopConfig.__dataclass_fields__)}"
        )
    cfg = LoopConfig(**fields)
    cfg.duration_s = args.duration if args.duration is not None else cfg.duration_s
    cfg.log = args.log or cfg.log
    host, _, port = args.udp.rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"--udp: give HOST:PORT, got '{args.udp}'")
    robot = UdpRobot(host, int(port))
    try:
        report = RobotLoop(args.bundle, robot, cfg).run()
    except BundleError as err:
        print(f"error: {err}")
        return 2
    finally:
        robot.close()
    p = report["period_ms"]
    print(f"stop: {report['stop']}  period p50 {p['p50']:.2f} p99 {p['p99']:.2f} max {p['max']:.2f} ms  "
          f"counts {report['counts']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
