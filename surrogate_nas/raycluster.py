"""The one Ray helper: start-up (a local instance bound to loopback, or a running cluster), the fan-out loop every
layer uses (free features, training, experiment grids) and shutdown.

A base utility like ``io``: it imports nothing of the package's layers, and Ray (and psutil) only when called.

What binds a local Ray 2.60 instance to loopback: its servers listen on 127.0.0.1 only when the node's IP *is*
127.0.0.1 (gcs_server, raylet and core workers build their gRPC servers with "localhost only" when the node IP is
127.0.0.1; the dashboard agent, the runtime-env agent and the metrics servers bind the node IP). ``ray.init``
rewrites a ``_node_ip_address`` of 127.0.0.1 to the machine's address unless Ray's "no cluster" switch
(``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, read into ``ray._private.ray_constants.ENABLE_RAY_CLUSTER``) is off,
so :func:`start` turns that switch off while it starts the instance. ``enable_metrics_collection: False`` stops
the dashboard agent's Prometheus exporter, and the instance uses token authentication with a fresh token of this
process, handed to the instance's processes in their environment (never written to a file).

Every process of an instance this process started carries a marker in its environment; :func:`stop` ends each of
them, and a small watchdog process (started with the instance, reading a pipe from the driver) does the same when
the driver dies without stopping it (``kill -9``), which Ray alone does not do for its agents.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import SurrogateNASError, first_line

#: The environment variable that marks every process of an instance started here (its value: the instance's id).
MARKER = "SURROGATE_NAS_RAY_INSTANCE"
#: Seconds :func:`start` waits for a TCP connection to a cluster ``address`` before it gives up.
CONNECT_TIMEOUT = 10.0
#: How often Ray re-runs a task whose worker died (an exception raised by the task is never retried).
MAX_RETRIES = 3
_SYSTEM_CONFIG = {"worker_niceness": 0, "enable_metrics_collection": False}
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass
class _Instance:
    marker: str
    watchdog: subprocess.Popen
    env: dict[str, str | None] = field(default_factory=dict)  # the variables start() set: their earlier values
    started: list = field(default_factory=list)  # psutil.Process of each process Ray started, and their children


_owned: _Instance | None = None
_token: str | None = None


def runtime_env() -> dict[str, Any]:
    """A Ray ``runtime_env`` that makes this package importable on workers even when it is not
    pip-installed there (pass it to your own ``ray.init`` too)."""
    import surrogate_nas

    parent = str(Path(surrogate_nas.__file__).resolve().parent.parent)
    existing = os.environ.get("PYTHONPATH", "")
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in (parent, existing) if p)}}


# ---------------------------------------------------------------------- start / stop
def start(address: str | None = None, num_cpus: int | None = None, *, what: str = "this", **kwargs) -> bool:
    """Connect to the cluster at ``address`` (``host:port``, ``ray://host:port`` or ``auto``), or start a local
    instance of ``num_cpus`` CPUs (default: all cores) bound to loopback, with no dashboard, no metrics exporter,
    token authentication and its workers at the driver's own CPU priority (Ray's default nices them to 15, and on
    a machine shared with other work two such workers ran no faster than one). ``kwargs`` go to ``ray.init``.

    A Ray already initialised in this process is used as is. Returns whether this call started Ray: the caller
    then ends it with :func:`stop` (or uses :func:`session`). An ``address`` that does not answer within
    :data:`CONNECT_TIMEOUT` seconds raises :class:`SurrogateNASError` naming it."""
    try:
        import ray
    except ImportError:
        raise SurrogateNASError(f"{what} needs Ray: pip install 'surrogate-nas[ray]'") from None
    if ray.is_initialized():
        return False
    _end_owned()  # an instance of ours that someone shut down with ray.shutdown(): end what is left of it
    kwargs = {"include_dashboard": False, "log_to_driver": False, "runtime_env": runtime_env(), **kwargs}
    if address:
        _connect(ray, address, what, kwargs)
    else:
        _start_local(ray, num_cpus, kwargs)
    return True


def stop() -> None:
    """Shut Ray down in this process; when this process started the instance, end every process of it (the
    agents Ray leaves behind included) and its watchdog, and restore the environment :func:`start` changed."""
    if _owned is not None:  # the agents are orphans once the raylet has gone: find them now
        _owned.started = processes()
    if "ray" in sys.modules:
        sys.modules["ray"].shutdown()
    _end_owned()


@contextlib.contextmanager
def session(address: str | None = None, num_cpus: int | None = None, *, what: str = "this", **kwargs) -> Iterator:
    """``with session(...) as ray:`` :func:`start`, and :func:`stop` at the end when this call started Ray."""
    started = start(address, num_cpus, what=what, **kwargs)
    try:
        yield sys.modules["ray"]
    finally:
        if started:
            stop()


def processes() -> list:
    """The live processes (``psutil.Process``) of the local instance this process started (none: ``[]``); the
    driver itself is not among them."""
    return _instance_processes(_owned.marker, _owned.started) if _owned is not None else []


def _start_local(ray, num_cpus: int | None, kwargs: dict) -> None:
    global _owned
    marker = secrets.token_hex(8)
    env: dict[str, str] = {MARKER: marker, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    if "RAY_AUTH_MODE" not in os.environ:  # an explicit choice of the user's is kept
        env["RAY_AUTH_MODE"] = "token"
        if not os.environ.get("RAY_AUTH_TOKEN") and not os.environ.get("RAY_AUTH_TOKEN_PATH"):
            env["RAY_AUTH_TOKEN"] = _process_token()
    owned = _Instance(marker, _spawn_watchdog(marker), {k: os.environ.get(k) for k in env})
    _owned = owned
    os.environ.update(env)
    system_config = {**_SYSTEM_CONFIG, **kwargs.pop("_system_config", {})}
    try:
        _reset_token_cache()
        with _no_cluster_ip(ray):
            ray.init(num_cpus=num_cpus or os.cpu_count() or 1, _node_ip_address="127.0.0.1",
                     _system_config=system_config, **kwargs)  # fmt: skip
        _record(ray, owned)
    except BaseException:
        stop()
        raise
    finally:  # the instance's processes have the marker; later children of the driver must not
        for k in (MARKER, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"):
            _restore(k, owned.env.pop(k))


def _connect(ray, address: str, what: str, kwargs: dict) -> None:
    host, port = _reachable(ray, address, what)
    try:
        if host in _LOOPBACK_HOSTS:  # keep a loopback address loopback (Ray rewrites it to the machine's address)
            with _no_cluster_ip(ray):
                ray.init(address=address, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except Exception as e:
        raise SurrogateNASError(f"{what}: cannot connect to the Ray cluster at {address!r}: {first_line(e)}") from None


def _reachable(ray, address: str, what: str) -> tuple[str, int]:
    """The host and port of ``address`` once a TCP connection to it succeeded (Ray itself retries for minutes)."""
    target = address.split("://", 1)[1] if "://" in address else address
    try:
        if target == "auto":
            from ray._private.services import canonicalize_bootstrap_address

            target = canonicalize_bootstrap_address(target) or ""
        host, _, port = target.rpartition(":")
        host = host.strip("[]")
        if not host or not port.isdigit():
            raise SurrogateNASError(f"{what}: a Ray address is host:port, ray://host:port or auto, got {address!r}")
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT):
            return host, int(port)
    except SurrogateNASError:
        raise
    except (OSError, ValueError) as e:
        raise SurrogateNASError(
            f"{what}: no Ray cluster answers at {address!r} (within {CONNECT_TIMEOUT:.0f} s): {first_line(e)}"
        ) from None


@contextlib.contextmanager
def _no_cluster_ip(ray) -> Iterator[None]:
    """Ray's "no cluster" switch off while Ray starts: 127.0.0.1 stays the node IP, so every server binds it."""
    import ray._private.ray_constants as constants

    before = constants.ENABLE_RAY_CLUSTER
    constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        constants.ENABLE_RAY_CLUSTER = before


def _process_token() -> str:
    """One token per driver process (Ray's C++ side caches the token it read first)."""
    global _token
    if _token is None:
        _token = secrets.token_hex(32)
    return _token


def _reset_token_cache() -> None:
    with contextlib.suppress(ImportError, AttributeError):
        from ray._raylet import AuthenticationTokenLoader, Config  # type: ignore[attr-defined]

        Config.initialize("")  # RayConfig re-reads RAY_AUTH_MODE
        AuthenticationTokenLoader.instance().reset_cache()


def _restore(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


def _record(ray, owned: _Instance) -> None:
    """Tell the watchdog the processes Ray started and their children (the agents among them: they overwrite
    their environment with their process title, so the marker cannot find them)."""
    import psutil

    node = ray._private.worker._global_node
    seen: dict[int, Any] = {}
    for infos in node.all_processes.values():
        for info in infos:
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(info.process.pid)
                seen.update({q.pid: q for q in [p, *p.children(recursive=True)]})
    owned.started = list(seen.values())
    lines = "".join(f"{p.pid} {p.create_time()!r}\n" for p in owned.started)
    owned.watchdog.stdin.write(lines.encode())  # type: ignore[union-attr]
    owned.watchdog.stdin.flush()  # type: ignore[union-attr]


def _end_owned() -> None:
    global _owned
    owned, _owned = _owned, None
    if owned is None:
        return
    _sweep(owned.marker, owned.started)
    with contextlib.suppress(OSError):
        owned.watchdog.stdin.close()  # type: ignore[union-attr]
    with contextlib.suppress(subprocess.TimeoutExpired):
        owned.watchdog.wait(timeout=10)
    for k, v in owned.env.items():
        _restore(k, v)


# ---------------------------------------------------------------------- the watchdog
def _spawn_watchdog(marker: str) -> subprocess.Popen:
    """A process in its own session that ends the instance ``marker`` once the driver's end of its stdin closes
    (the driver stopped the instance, exited or was killed)."""
    parent = str(Path(__file__).resolve().parent.parent)
    env = {k: v for k, v in os.environ.items() if k != MARKER}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (parent, env.get("PYTHONPATH", "")) if p)
    code = "import sys; from surrogate_nas.raycluster import _watch; _watch(sys.argv[1])"
    return subprocess.Popen(
        [sys.executable, "-c", code, marker],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )


def _watch(marker: str) -> None:
    """The watchdog's body: read the lines ``pid create_time`` of the processes Ray started until end of file on
    stdin, then end every process of the instance."""
    import psutil

    started = []
    for line in sys.stdin:
        pid, created = line.split()
        with contextlib.suppress(psutil.Error):
            p = psutil.Process(int(pid))
            if repr(p.create_time()) == created:  # the same process, not a later one with its pid
                started.append(p)
    _sweep(marker, started)


def _instance_processes(marker: str, started: Sequence = ()) -> list:
    """The live processes of the instance ``marker``: those with the marker in their environment (started while
    it was set, or by the raylet: workers) and those of ``started`` still running."""
    import psutil

    me, out = os.getpid(), {}
    for p in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if p.pid != me and p.environ().get(MARKER) == marker:
                out[p.pid] = p
    for p in started:
        with contextlib.suppress(psutil.Error):
            if p.is_running():  # psutil checks the creation time: not a later process with the same pid
                out.setdefault(p.pid, p)
    alive = []
    for p in out.values():
        with contextlib.suppress(psutil.Error):
            if p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
    return alive


def _sweep(marker: str, started: Sequence = (), grace: float = 3.0) -> None:
    """End every process of the instance ``marker``: SIGTERM, then SIGKILL to those left after ``grace`` seconds."""
    import psutil

    procs = _instance_processes(marker, started)
    for signal_them in ("terminate", "kill"):
        for p in procs:
            with contextlib.suppress(psutil.Error):
                getattr(p, signal_them)()
        procs = _wait_gone(procs, grace)


def _wait_gone(procs: list, timeout: float) -> list:
    """The processes of ``procs`` still running after up to ``timeout`` seconds (a zombie counts as ended: an
    orphan's parent may never reap it)."""
    import time

    import psutil

    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for p in procs:
            with contextlib.suppress(psutil.Error):
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


# ---------------------------------------------------------------------- the fan-out loop
@dataclass(frozen=True)
class Failure:
    """An item whose task failed for good: it raised, or its worker died more often than the retries allow."""

    item: Any
    exception: BaseException

    @property
    def error(self) -> str:
        """One line: the exception's type and the last line of its message (a task's traceback ends there)."""
        lines = str(self.exception).strip().splitlines()
        return f"{type(self.exception).__name__}: {lines[-1][:300] if lines else ''}"


def remote(fn: Callable, **options) -> Any:
    """``ray.remote(fn)`` with options: 1 CPU, :data:`MAX_RETRIES` retries when the worker dies, an exception the
    task raises never retried (it would raise again)."""
    import ray

    return ray.remote(fn).options(**{"num_cpus": 1, "max_retries": MAX_RETRIES, "retry_exceptions": False, **options})


_DONE = object()


def fan_out(
    items: Iterable | Callable[[], Any],
    submit: Callable[[Any], Any],
    on_result: Callable[[Any, Any], None],
    *,
    units: Callable[[Any], int] = lambda item: 1,
    window: int | None = None,
    desc: str = "tasks",
    unit: str = "task",
    total: int | None = None,
    initial: int = 0,
    progress: bool = True,
) -> list[Failure]:
    """Run one Ray task per item with at most ``window`` (default: twice the cluster's CPUs) in flight, and
    return the items that failed, each once.

    ``items``: an iterable, or a callable returning the next item ready to run (``None``: none now; the loop ends
    when none is ready and nothing is in flight). ``submit(item)`` starts its task and returns its ``ObjectRef``
    (or a list of them: ``num_returns > 1``); ``on_result(item, value)`` receives ``ray.get`` of it, in the order
    tasks finish. A worker that dies is retried by Ray (:func:`remote`); an item whose task still fails is
    reported once in the returned list and counted on the progress bar (``desc``/``unit``; ``total`` units,
    ``initial`` of them already done; ``units(item)`` per item, with an ETA)."""
    import ray
    from tqdm.auto import tqdm

    nxt = items if callable(items) else _puller(iter(items))
    width = window or 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
    pending: dict[Any, tuple[Any, Any]] = {}
    failures: list[Failure] = []
    with tqdm(total=total, initial=initial, desc=desc, unit=unit, disable=not progress, smoothing=0.05) as bar:
        while True:
            while len(pending) < width and (item := nxt()) is not None:
                refs = submit(item)
                pending[refs[0] if isinstance(refs, Sequence) else refs] = (item, refs)
            if not pending:
                return failures
            done, _ = ray.wait(list(pending), num_returns=1)
            item, refs = pending.pop(done[0])
            try:
                value = ray.get(refs)
            except Exception as e:  # the task raised, or its worker died more often than the retries allow
                failures.append(Failure(item, e))
                bar.set_postfix(failed=len(failures))
            else:
                on_result(item, value)
            bar.update(units(item))


def _puller(it: Iterator) -> Callable[[], Any]:
    def nxt():
        item = next(it, _DONE)
        return None if item is _DONE else item

    return nxt
