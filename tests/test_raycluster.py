"""The one Ray helper (surrogate_nas.raycluster): a local instance listens on loopback only, writes no token file,
ends with its driver (even a SIGKILLed one); a bogus address fails fast with one line; the fan-out loop retries a
task whose worker died and reports a task that fails for good once."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from surrogate_nas import raycluster

REPO = Path(__file__).resolve().parent.parent
ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"


def _env(home: Path) -> dict[str, str]:
    """A child's environment: a private HOME (Ray would write ~/.ray there), no Ray settings of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_") and k != raycluster.MARKER}
    return {**env, "HOME": str(home), "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    """One local instance (2 CPUs) started by the helper, with HOME in a temporary folder, stopped at the end."""
    import ray

    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_ADDRESS"):
            mp.delenv(k, raising=False)
        if ray.is_initialized():  # left by another module: this one tests an instance the helper starts
            raycluster.stop()
        assert raycluster.start(num_cpus=2)
        try:
            yield home
        finally:
            raycluster.stop()


def _listening(pids: set[int]) -> list[tuple[str, str, int]]:
    """(process name, address, port) of every TCP socket listening and every bound UDP socket of ``pids``."""
    import psutil

    names = {}
    for pid in pids:
        try:
            names[pid] = psutil.Process(pid).name()
        except psutil.Error:
            pass
    out = []
    for c in psutil.net_connections(kind="inet"):
        bound_udp = c.type == 2 and c.laddr and not c.raddr  # SOCK_DGRAM
        if c.pid in names and (c.status == psutil.CONN_LISTEN or bound_udp):
            out.append((names[c.pid], c.laddr.ip, c.laddr.port))
    return sorted(out)


def _is_loopback(ip: str) -> bool:
    a = ipaddress.ip_address(ip.split("%")[0])
    mapped = getattr(a, "ipv4_mapped", None)
    return (mapped or a).is_loopback


@pytest.mark.slow
def test_every_socket_of_the_instance_listens_on_loopback(instance):
    import ray

    @ray.remote(num_cpus=1)
    def pid():
        return os.getpid()

    worker = ray.get(pid.remote())  # a worker process is up (it has a gRPC server too)
    procs = raycluster.processes()
    names = {p.name() for p in procs}
    assert {"gcs_server", "raylet", "ray::DashboardAgent", "ray::RuntimeEnvAgent"} <= names, names
    assert worker in {p.pid for p in procs}
    sockets = _listening({p.pid for p in procs} | {os.getpid()})
    listeners = {name for name, _, _ in sockets}
    assert {"gcs_server", "raylet", "ray::RuntimeEnvAgent"} <= listeners, sockets  # not vacuous
    assert [s for s in sockets if not _is_loopback(s[1])] == [], sockets


@pytest.mark.slow
def test_no_token_file_is_written_and_the_instance_uses_a_token(instance):
    home = instance
    token = home / ".ray" / "auth_token"
    assert not token.exists() or (token.stat().st_mode & 0o777) == 0o600
    raylet = next(p for p in raycluster.processes() if p.name() == "raylet")
    env = raylet.environ()
    assert env.get("RAY_AUTH_MODE") == "token" and len(env.get("RAY_AUTH_TOKEN", "")) >= 32


def _square_or_die(i: int, d: str) -> int:
    """Item 1 kills its worker on the first attempt only; item 2 kills it on every attempt; item 3 raises."""
    import os as _os
    import signal as _signal
    from pathlib import Path as _Path

    attempt = _Path(d) / f"{i}.{len(list(_Path(d).glob(f'{i}.*')))}"
    attempt.touch()
    if (i == 1 and attempt.name == "1.0") or i == 2:
        _os.kill(_os.getpid(), _signal.SIGKILL)
    if i == 3:
        raise ValueError("item 3 is broken")
    return i * i


@pytest.mark.slow
def test_fan_out_retries_a_killed_worker_and_reports_each_failed_task_once(instance, tmp_path):
    task = raycluster.remote(_square_or_die, max_retries=1)
    results: dict[int, int] = {}
    seen: list[int] = []

    def on_result(i, value):
        seen.append(i)
        results[i] = value

    failures = raycluster.fan_out(range(5), lambda i: task.remote(i, str(tmp_path)), on_result, window=2,
                                  progress=False)  # fmt: skip
    assert results == {0: 0, 1: 1, 4: 16} and sorted(seen) == [0, 1, 4]  # each result delivered once
    assert sorted(f.item for f in failures) == [2, 3]  # each failure reported once
    by_item = {f.item: f for f in failures}
    assert "WorkerCrashedError" in by_item[2].error
    assert "ValueError" in by_item[3].error and "item 3 is broken" in by_item[3].error
    assert len(by_item[3].error.splitlines()) == 1
    attempts = sorted(p.name for p in tmp_path.iterdir())
    assert attempts == ["0.0", "1.0", "1.1", "2.0", "2.1", "3.0", "4.0"]  # retried once after a death, never
    # after an exception


_DRIVER = """
import json, os, sys, time
from surrogate_nas import raycluster
raycluster.start(num_cpus=1)
import ray

@ray.remote(num_cpus=1)
def pid():
    return os.getpid()

ray.get(pid.remote())  # a worker process is up
pids = [p.pid for p in raycluster.processes()] + [raycluster._owned.watchdog.pid]
print(json.dumps(pids), flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_a_killed_driver_leaves_no_process_of_its_instance(tmp_path):
    import psutil

    driver = subprocess.Popen([sys.executable, "-c", _DRIVER], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              env=_env(tmp_path), text=True)  # fmt: skip
    try:
        line = driver.stdout.readline()  # type: ignore[union-attr]
        assert line, "the driver did not start its instance"
        procs = [psutil.Process(pid) for pid in json.loads(line)]
        names = {p.name() for p in procs}
        assert {"gcs_server", "raylet", "ray::DashboardAgent", "ray::RuntimeEnvAgent"} <= names, names
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()

    deadline = time.monotonic() + 30
    while (alive := [p for p in procs if _running(p)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    for p in alive:  # the test cleans up what the helper left, then fails
        p.kill()
    assert alive == [], [p.name() for p in alive]


def _running(p) -> bool:
    import psutil

    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


_CONNECT = """
import sys
from surrogate_nas import raycluster
from surrogate_nas.errors import SurrogateNASError
try:
    raycluster.start(sys.argv[1], what="this test")
except SurrogateNASError as e:
    print(e)
"""


@pytest.mark.parametrize("address, needle", [("bogus:1", "no Ray cluster answers at 'bogus:1'"),
                                             ("127.0.0.1:1", "no Ray cluster answers at '127.0.0.1:1'"),
                                             ("nonsense", "host:port")])  # fmt: skip
def test_a_bogus_address_fails_fast_with_one_line(tmp_path, address, needle):
    """In a process of its own: a Ray initialised in this one (the instance above) would be used as is."""
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", _CONNECT, address], capture_output=True, text=True, env=_env(tmp_path),
                       timeout=120)  # fmt: skip
    assert time.monotonic() - t0 < raycluster.CONNECT_TIMEOUT + 20
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], (r.stdout, r.stderr)


def test_verify_with_a_bogus_ray_address_exits_2_with_one_line(tmp_path):
    archs = tmp_path / "top.csv"
    archs.write_text(f"arch\n{ARCH}\n")
    argv = [sys.executable, "-m", "surrogate_nas.cli", "verify", "--archs", str(archs), "--dataset", "digits",
            "--epochs", "1", "--out", str(tmp_path / "out"), "--backend", "ray", "--address", "bogus:1"]  # fmt: skip
    t0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, env=_env(tmp_path), timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "bogus:1" in lines[0], r.stderr
    assert time.monotonic() - t0 < 60
