"""Warm start (`init_from=<run or checkpoint>`): a new run begins from another run's policy and normalizer,
matched term by term, so a blind policy goes on with a height scan, or a flat one on terrain, without relearning
to walk. Inputs the source did not have start with zero weights, so the first actions are the source's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

FIRST_LAYERS = {"policy": "mlp_extractor.policy_net.0.weight", "critic": "mlp_extractor.value_net.0.weight"}
"""The first layer of each network: the one whose input columns are observation terms."""


def term_columns(schema: list[dict]) -> dict[tuple, np.ndarray]:
    """Column indices of each observation term as (history, size of one step), oldest step first, keyed by
    what makes two terms the same input: name, size of one step, params, scale and clip (noise may differ:
    it is not part of the value; the history may differ: a step is a step)."""
    columns, start = {}, 0
    for term in schema:
        steps = int(term.get("history", 1))
        key = (term["name"], term["size"] // steps, repr(term.get("params", {})), term["scale"], term["clip"])
        columns[key] = np.arange(start, start + term["size"]).reshape(steps, -1)
        start += term["size"]
    return columns


def match(new: list[dict], old: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(new columns, old columns) of the terms both schemas have; of a term stacked to another depth, the
    newest steps both have (a blind policy's gravity input becomes the newest step of a stacked one)."""
    old_cols, pairs = term_columns(old), []
    for key, cols in term_columns(new).items():
        if key in old_cols:
            steps = min(len(cols), len(old_cols[key]))
            pairs.append((cols[-steps:].ravel(), old_cols[key][-steps:].ravel()))
    if not pairs:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])


def schemas_of(obs_manager: Any, critic_manager: Any) -> dict[str, list[dict]]:
    """The observation schema of each network's input: 'policy' and, with privileged terms, 'critic'."""
    out = {"policy": obs_manager.schema()}
    if critic_manager is not None:
        out["critic"] = critic_manager.schema()
    return out


def source_schemas(cfg: Any) -> dict[str, list[dict]]:
    """The schemas of the task a run was trained on (one simulation is built to size its terms)."""
    from envs import task_config
    from envs.task import LocomotionTask

    task = LocomotionTask(task_config(cfg), num_envs=1, seed=0)
    return schemas_of(task.obs_manager, task.critic_manager)


def transfer_params(new: dict[str, th.Tensor], old: dict[str, th.Tensor], columns: dict[str, tuple]) -> list[str]:
    """Copy every parameter of `old` into `new` (state dicts, in place). A first layer takes its columns term
    by term, zeros for inputs the source lacked; any other difference is refused. Returns the first layers
    whose inputs differ from the source's."""
    partial = []
    first_layers = {layer: key for key, layer in FIRST_LAYERS.items() if key in columns}
    for name, value in new.items():
        if name not in old:
            raise ValueError(f"init_from: the source policy has no parameter '{name}' (another algorithm or policy "
                             "class); warm start needs the same network")  # fmt: skip
        source = old[name]
        if name not in first_layers and source.shape == value.shape:
            value.copy_(source)
            continue
        if name not in first_layers or source.shape[0] != value.shape[0]:
            raise ValueError(f"init_from: parameter '{name}' is {tuple(source.shape)} in the source and "
                             f"{tuple(value.shape)} here; warm start needs the same network sizes and actions")  # fmt: skip
        new_cols, old_cols = columns[first_layers[name]]  # by term: inputs may have moved, come or gone
        value.zero_()
        value[:, new_cols] = source[:, old_cols]
        if len(new_cols) < value.shape[1] or len(old_cols) < source.shape[1]:
            partial.append(name)
    return partial


def transfer_normalizer(new: VecNormalize, old: VecNormalize, schemas: dict, old_schemas: dict) -> list[str]:
    """Copy the observation statistics term by term, with the source network's sample count (a term that
    network lacked takes the other network's statistics of the same quantity, e.g. the critic's height scan
    for the actor's), and the return statistics. Returns the terms that found none (mean 0, variance 1)."""

    def rms_of(norm: VecNormalize, key: str) -> Any:
        return norm.obs_rms[key] if isinstance(norm.obs_rms, dict) else norm.obs_rms

    fresh = []
    for key, schema in schemas.items():
        rms = rms_of(new, key)
        rms.count = rms_of(old, key).count
        done = np.zeros(rms.mean.shape[0], dtype=bool)
        for other in sorted(old_schemas, key=lambda k: k != key):  # the same network first
            new_cols, old_cols = match(schema, old_schemas[other])
            todo = ~done[new_cols]
            rms.mean[new_cols[todo]] = rms_of(old, other).mean[old_cols[todo]]
            rms.var[new_cols[todo]] = rms_of(old, other).var[old_cols[todo]]
            done[new_cols[todo]] = True
        columns = term_columns(schema).values()
        for cols in columns:  # a stack's older steps share its newest step's statistics: the same quantity
            if done[cols[-1]].all():
                rms.mean[cols[:-1]], rms.var[cols[:-1]] = rms.mean[cols[-1]], rms.var[cols[-1]]
                done[cols] = True
        fresh += [f"{key}.{term['name']}" for term, cols in zip(schema, columns) if not done[cols].all()]
    new.ret_rms = old.ret_rms
    return fresh


def warm_start(model: Any, env: VecEnv, source: str | Path) -> dict[str, Any]:
    """Load the policy and normalizer of run or checkpoint `source` into a new model and its env, in place.
    Returns what was done, for run.json."""
    from agents.policy import SB3Policy, run_and_checkpoint

    found = run_and_checkpoint(source)
    if found is None:
        raise ValueError(f"init_from: '{source}' is neither a run directory (run.json + config.yaml) nor one "
                         "of its checkpoints (checkpoints/step_*)")  # fmt: skip
    policy = SB3Policy(*found)
    if policy.cfg.env.kind != "locoforge":
        raise ValueError(f"init_from: '{source}' trained {policy.cfg.env.id}; warm start needs a LocoForge task")
    schemas = schemas_of(env.get_attr("obs_manager", [0])[0], env.get_attr("critic_manager", [0])[0])
    old_schemas = source_schemas(policy.cfg)
    if set(schemas) != set(old_schemas):
        raise ValueError(f"init_from: the source's networks read {sorted(old_schemas)}, this task's "
                         f"{sorted(schemas)}; warm start needs both with or both without critic terms")  # fmt: skip
    columns = {key: match(schemas[key], old_schemas[key]) for key in schemas}
    with th.no_grad():
        partial = transfer_params(model.policy.state_dict(), policy.model.policy.state_dict(), columns)
    fresh = []
    if isinstance(env, VecNormalize):
        if policy.vecnormalize is None:
            raise ValueError(f"init_from: '{source}' has no observation normalizer and this run normalizes")
        fresh = transfer_normalizer(env, policy.vecnormalize, schemas, old_schemas)
    new_terms = {key: [t["name"] for t in schemas[key] if t["name"] not in {o["name"] for o in old_schemas[key]}]
                 for key in schemas}  # fmt: skip
    return {"source": policy.source["model"], "new_inputs": new_terms, "layers_with_new_inputs": partial,
            "fresh_statistics": fresh}  # fmt: skip
