"""Ray start-up shared by every layer that fans work out (free features, training, experiment grids).

A base utility like ``io``: it imports nothing of the package's layers, and Ray only when called.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import SurrogateNASError


def runtime_env() -> dict[str, Any]:
    """A Ray ``runtime_env`` that makes this package importable on workers even when it is not
    pip-installed there (pass it to your own ``ray.init`` too)."""
    import surrogate_nas

    parent = str(Path(surrogate_nas.__file__).resolve().parent.parent)
    existing = os.environ.get("PYTHONPATH", "")
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in (parent, existing) if p)}}


def start(address: str | None = None, num_cpus: int | None = None, *, what: str = "this", **kwargs) -> bool:
    """Connect to the cluster at ``address``, or start a local instance of ``num_cpus`` CPUs on loopback with
    no dashboard and its workers at the driver's own CPU priority (Ray's default nices them to 15, and on a
    machine shared with other work two such workers ran no faster than one). A Ray already initialised in
    this process is used as is. Returns whether this call started Ray (the caller then shuts it down)."""
    try:
        import ray
    except ImportError:
        raise SurrogateNASError(f"{what} needs Ray: pip install 'surrogate-nas[ray]'") from None
    if ray.is_initialized():
        return False
    kwargs = {"include_dashboard": False, "log_to_driver": False, "runtime_env": runtime_env(), **kwargs}
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(
            num_cpus=num_cpus or os.cpu_count() or 1,
            _node_ip_address="127.0.0.1",
            _system_config={"worker_niceness": 0},
            **kwargs,
        )
    return True
