"""Run-directory bookkeeping that needs torch: the policy parameter hash. The rest lives in `common.io`."""

from __future__ import annotations

import hashlib

import torch as th


def params_hash(module: th.nn.Module) -> str:
    """sha256 over a module's state dict (names and exact bytes): equal iff the parameters are equal."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()
