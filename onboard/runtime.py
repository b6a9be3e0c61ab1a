"""NumPy-only policy runtime for a LocoForge bundle: `policy = load_bundle(path); action = policy(obs)`.

It enforces the manifest's contract: every file's sha256, the observation size, the joint order; on a
non-finite observation it holds the last safe action and flags the call. Imports nothing but NumPy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "elu": lambda x: np.where(x > 0.0, x, np.expm1(np.minimum(x, 0.0))),
    "identity": lambda x: x,
    "leaky_relu": lambda x: np.where(x > 0.0, x, 0.01 * x),
    "silu": lambda x: x / (1.0 + np.exp(-x)),
}
"""The activations a bundle may use, by name: the reference the ONNX graphs and the generated C are tested against."""


def inverse_std(var: np.ndarray, epsilon: float) -> np.ndarray:
    """1 / sqrt(var + eps) in float32, computed in float64 first (the C and ONNX graphs store this same value)."""
    return (1.0 / np.sqrt(np.asarray(var, dtype=np.float64) + float(epsilon))).astype(np.float32)


def normalize(obs: np.ndarray, mean: np.ndarray, inv_std: np.ndarray, clip: float) -> np.ndarray:
    """The observation normalizer baked into every artifact: clip((obs - mean) * inv_std, -clip, clip), float32."""
    x = (np.asarray(obs, dtype=np.float32) - np.asarray(mean, dtype=np.float32)) * inv_std
    return np.clip(x, np.float32(-clip), np.float32(clip))


def map_actions(x: np.ndarray, output: str, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The network's last layer -> actions: "clip" to [low, high] (PPO) or "tanh" squash then unscale (SAC/TD3)."""
    if output == "tanh":
        return low + (np.tanh(x) + 1.0) * 0.5 * (high - low)
    return np.clip(x, low, high)


def projected_gravity(quat: Sequence[float]) -> np.ndarray:
    """Unit gravity (0, 0, -1) seen in the frame of a unit quaternion [w, x, y, z] (the IMU's or the base's
    orientation in the world): what the `projected_gravity` term observes."""
    w, x, y, z = np.asarray(quat, dtype=np.float64) / np.linalg.norm(quat)
    return np.array([2.0 * (w * y - x * z), -2.0 * (y * z + w * x), 2.0 * (x * x + y * y) - 1.0])


ROBOT_INPUTS = {
    "base_ang_vel": "gyro",
    "projected_gravity": "gravity",
    "velocity_command": "command",
    "joint_pos_rel": "joint_pos",
    "joint_vel": "joint_vel",
    "previous_action": "previous_action",
    "base_lin_vel": "lin_vel",
    "gait_clock": "time_s",
}
"""Observation term -> the robot-side input it is built from (`BundlePolicy.observation`); a term not listed
is read from an input of its own name (e.g. a robot that measures `feet_contact`)."""


INCOMPLETE = "INCOMPLETE"
"""Present while export.py assembles a bundle: the runtime refuses such a folder."""


class BundleError(RuntimeError):
    """The bundle or its input breaks the contract; the message is one line."""


def contract(manifest: dict) -> dict:
    """The fields policy and robot must agree on: observation, action, joints, gains, timing, network."""
    try:
        robot = manifest["robot"]
        return {
            "observation": {k: manifest["observation"][k] for k in ("size", "terms")},
            "action": {k: manifest["action"][k] for k in ("size", "low", "high")},
            "robot": {
                k: robot[k] for k in ("joint_names", "default_joint_pos", "kp", "kd", "torque_limit", "action_scale")
            },
            "timing": manifest["timing"],
            "policy": {
                k: manifest["policy"][k] for k in ("layers", "activations", "output", "action_low", "action_high")
            },
            **({"gait": manifest["gait"]} if manifest.get("gait") is not None else {}),
        }
    except (KeyError, TypeError) as err:
        raise BundleError(f"manifest.json lacks {err} of the contract; export the bundle again") from None


def contract_sha256(manifest: dict) -> str:
    """sha256 of the contract fields: stored in weights.npz, so a hand-edited manifest no longer matches."""
    return hashlib.sha256(json.dumps(contract(manifest), sort_keys=True).encode()).hexdigest()


def _sha256(path: Path) -> str:
    # not hashlib.file_digest: this file runs on the robot, where Python may be 3.10 (JetPack 6)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_files(root: Path, manifest: dict) -> None:
    """Refuse a bundle any of whose files is missing or differs from the hash in its manifest."""
    if not isinstance(manifest.get("files"), dict) or "weights.npz" not in manifest["files"]:
        raise BundleError(
            f"bundle {root}: manifest.json has no 'files' section listing weights.npz; export the bundle again"
        )
    for name, digest in manifest["files"].items():
        path = root / name
        if not path.is_file():
            raise BundleError(f"bundle {root}: {name} is missing")
        if _sha256(path) != digest:
            raise BundleError(f"bundle {root}: {name} has been modified (sha256 differs from manifest.json)")


class BundlePolicy:
    """The exported MLP in NumPy (float32), normalizer and action post-processing included."""

    def __init__(self, root: Path, manifest: dict) -> None:
        self.root = root
        self.manifest = manifest
        try:
            with np.load(root / "weights.npz", allow_pickle=False) as w:
                self.mean = w["obs_mean"].astype(np.float32)
                self.inv_std = inverse_std(w["obs_var"], float(w["obs_epsilon"]))
                self.clip_obs = float(w["obs_clip"])
                n = int(w["n_layers"])
                self.layers = [(w[f"w{i}"].astype(np.float32), w[f"b{i}"].astype(np.float32)) for i in range(n)]
                bound = str(w["contract_sha256"]) if "contract_sha256" in w.files else None
        except (OSError, ValueError, KeyError) as err:  # not an npz, pickled data (refused), a missing array
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise BundleError(f"bundle {root}: weights.npz is not this bundle's array archive ({first})") from None
        if bound is None:
            raise BundleError(f"bundle {root}: weights.npz carries no contract hash (exported before contracts were bound "
                              "to the weights); export the bundle again")  # fmt: skip
        if bound != contract_sha256(manifest):
            raise BundleError(f"bundle {root}: manifest.json's contract (observation, joints, gains, timing, network) "
                              "differs from the one its weights were exported with; it was edited: export again")  # fmt: skip
        policy = manifest["policy"]
        self.activations = [ACTIVATIONS[a] for a in policy["activations"]]
        self.output = policy["output"]  # "clip" (PPO: clip to bounds) or "tanh" (SAC/TD3: squash, then unscale)
        self.low = np.asarray(policy["action_low"], dtype=np.float32)
        self.high = np.asarray(policy["action_high"], dtype=np.float32)
        self.obs_dim = int(manifest["observation"]["size"])
        self.action_dim = int(manifest["action"]["size"])
        robot = manifest["robot"]
        self.joint_names = list(robot["joint_names"])
        self.default_joint_pos = np.asarray(robot["default_joint_pos"], dtype=np.float64)
        self.action_scale = float(robot["action_scale"])
        self.last_action = np.zeros((1, self.action_dim), dtype=np.float32)
        self.history: dict[int, np.ndarray] = {}  # term index -> (history, size): stacked terms' last values
        self.flagged = False
        self.source = {"kind": "bundle", "path": str(root)}

    def required_inputs(self) -> list[str]:
        """The robot-side inputs `observation` needs for this bundle's terms, in term order."""
        return [ROBOT_INPUTS.get(t["name"], t["name"]) for t in self.manifest["observation"]["terms"]]

    def reset_history(self) -> None:
        """Forget stacked terms' past values: the next `observation` starts them as a training episode does."""
        self.history.clear()

    def observation(self, inputs: dict[str, Sequence[float]]) -> np.ndarray:
        """The (obs_dim,) float32 observation from robot-side inputs (policy joint order), exactly as training
        computed it: each term's value x scale, clipped, in the manifest's order. `joint_pos` is absolute (the
        default pose is subtracted here); `gravity` may be given as `quat` [w, x, y, z] instead. A term with a
        `history` stacks its last values, oldest first: call this once per policy step; the first call (and the
        first after `reset_history`) fills every slot with the current value."""
        if "gravity" not in inputs and "quat" in inputs:
            inputs = {**inputs, "gravity": projected_gravity(inputs["quat"])}
        parts = []
        for index, (term, key) in enumerate(zip(self.manifest["observation"]["terms"], self.required_inputs())):
            if key not in inputs:
                raise BundleError(f"observation term '{term['name']}' needs the robot input '{key}'; "
                                  f"given: {', '.join(sorted(inputs))}")  # fmt: skip
            value = np.asarray(inputs[key], dtype=np.float64).reshape(-1)
            if key == "time_s":  # the gait clock, from the policy's own time and manifest.gait
                gait = self.manifest["gait"]
                angle = 2.0 * np.pi * np.mod(value / float(gait["period_s"]) + float(gait["offsets"][0]), 1.0)
                value = np.concatenate([np.sin(angle), np.cos(angle)])
            if key == "joint_pos":
                value = value - self.default_joint_pos
            steps = int(term.get("history", 1))
            if value.size * steps != term["size"]:
                raise BundleError(f"robot input '{key}' has {value.size} values; term '{term['name']}' takes "
                                  f"{term['size'] // steps}")  # fmt: skip
            value = value * float(term["scale"])
            if term.get("clip") is not None:
                value = np.clip(value, -float(term["clip"]), float(term["clip"]))
            if steps > 1:
                last = self.history.get(index)
                stack = np.repeat(value[None], steps, axis=0) if last is None else np.vstack([last[1:], value[None]])
                self.history[index] = stack.astype(np.float32)
                value = self.history[index].reshape(-1)
            parts.append(value)
        return np.concatenate(parts).astype(np.float32)

    def forward(self, obs: np.ndarray) -> np.ndarray:
        """Actions for a batch of raw observations (n, obs_dim); no safety checks."""
        x = normalize(obs, self.mean, self.inv_std, self.clip_obs)
        for (w, b), act in zip(self.layers, self.activations):
            x = act(x @ w + b)
        return map_actions(x, self.output, self.low, self.high)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Actions for one observation (obs_dim,) or a batch (n, obs_dim), with the contract's checks."""
        obs = np.asarray(obs, dtype=np.float32)
        if obs.ndim not in (1, 2) or obs.shape[-1] != self.obs_dim:
            raise BundleError(
                f"observation has shape {obs.shape}; this bundle takes ({self.obs_dim},) or (n, {self.obs_dim})"
            )
        single = obs.ndim == 1
        batch = np.atleast_2d(obs)
        finite = np.isfinite(batch).all(axis=1)
        self.flagged = not bool(finite.all())
        actions = self.forward(np.where(finite[:, None], batch, 0.0))
        if self.last_action.shape != actions.shape:
            self.last_action = np.zeros_like(actions)  # before any output, the safe action is the default pose
        actions[~finite] = self.last_action[~finite]  # hold the last safe action
        self.last_action = actions.copy()
        return actions[0] if single else actions

    def joint_targets(self, actions: np.ndarray) -> np.ndarray:
        """Joint position targets (rad), policy joint order: default + action_scale * action (float64, as the
        training task computed them)."""
        return self.default_joint_pos + self.action_scale * np.asarray(actions, dtype=np.float64)


def load_bundle(
    path: str | Path, joint_names: Sequence[str] | None = None, allow_incomplete: bool = False
) -> BundlePolicy:
    """Load and verify a bundle; `joint_names` (the robot's order) must equal the manifest's if given.
    `allow_incomplete` is for export's own acceptance checks of the bundle it is assembling."""
    root = Path(path)
    if (root / INCOMPLETE).exists() and not allow_incomplete:
        raise BundleError(f"bundle {root}: incomplete (an export was interrupted or is still running); export again")
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError) as err:
        raise BundleError(f"bundle {root}: manifest.json unreadable ({type(err).__name__})") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"bundle {root}: manifest.json is not a JSON object")
    verify_files(root, manifest)
    contract(manifest)  # every contract field present, before anything reads one
    if joint_names is not None and list(joint_names) != list(manifest["robot"]["joint_names"]):
        raise BundleError(
            f"joint order {list(joint_names)} differs from the bundle's {manifest['robot']['joint_names']}"
        )
    return BundlePolicy(root, manifest)
