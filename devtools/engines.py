"""Real engines on loopback for tests and benchmarks: a Ray cluster (head + worker nodes as processes), a
PostgreSQL server and moto's S3 server. ``python -m devtools.engines --install`` installs PostgreSQL from Debian's
packages when it is missing (``make engines``; CI runs it as root).

Every engine runs in a temporary folder, on free ports, and is stopped by the object that started it (processes are
found by that folder, never by name).
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

__all__ = ["free_port", "process_tree", "MotoS3", "RayCluster", "Postgres", "postgres_binaries", "install_postgres"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(predicate, timeout: float, what: str, poll: float = 0.3):  # noqa: ANN001, ANN202 - tiny helper
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise RuntimeError(f"{what} did not happen within {timeout:.0f} s")


def _pids_with(marker: str) -> list[int]:
    """Processes whose command line mentions ``marker`` (a folder only our engine uses)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(int(entry.name))
    return found


def _kill_all(marker: str, sig: int = signal.SIGKILL) -> None:
    for pid in _pids_with(marker):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def process_tree(root: int) -> list[int]:
    """``root`` and every process descending from it (by parent pid, across sessions)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


# ---------------------------------------------------------------------------------------------------- S3
class MotoS3:
    """moto's S3 server on 127.0.0.1."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def up() -> bool:
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1).close()
                return True
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError("moto server exited") from None
                return False

        _wait(up, 30, "moto's S3 server answering")

    def env(self) -> dict[str, str]:
        """AWS settings pointing at it (dummy credentials)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing-access-key",
            "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def stop(self) -> None:
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        if self.process.poll() is None:
            self.process.kill()


# ---------------------------------------------------------------------------------------------------- Ray
class RayCluster:
    """A Ray head and worker nodes, each a ``ray start --block`` process, on this machine's loopback.

    Ray advertises the machine's own address for its nodes (it refuses 127.0.0.1 as a node address); every
    port is bound on this machine. ``env`` is the nodes' environment (where jobs find S3, their TAO_SKILL_HOME).
    """

    def __init__(self, *, head_cpus: int = 1, env: dict[str, str] | None = None, object_store_mb: int = 80) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="tsray"))
        self.env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "RAY_USAGE_STATS_ENABLED": "0",
            # a dead node is noticed within seconds
            "RAY_health_check_period_ms": "1000",
            "RAY_health_check_timeout_ms": "1000",
            "RAY_health_check_failure_threshold": "3",
            **(env or {}),
        }
        self.object_store = str(object_store_mb * 1024 * 1024)
        self.gcs_port, self.dashboard_port = free_port(), free_port()
        self.address = f"http://127.0.0.1:{self.dashboard_port}"
        self.nodes: dict[str, subprocess.Popen] = {}
        self._node_ports: dict[str, int] = {}
        self._start("head", head_cpus, head=True)
        self.wait_nodes(1)

    def _ray(self) -> str:
        return str(Path(sys.executable).parent / "ray")

    def _start(self, name: str, cpus: int, *, head: bool = False, resources: dict[str, float] | None = None) -> None:
        node_port = free_port()
        args = [
            self._ray(), "start", "--block", "--disable-usage-stats", "--node-ip-address", "127.0.0.1",
            "--temp-dir", str(self.folder), "--num-cpus", str(cpus), "--num-gpus", "0",
            "--object-store-memory", self.object_store, "--node-manager-port", str(node_port),
            "--object-manager-port", str(free_port()), "--dashboard-agent-listen-port", str(free_port()),
            "--dashboard-agent-grpc-port", str(free_port()), "--runtime-env-agent-port", str(free_port()),
            "--metrics-export-port", str(free_port()),
        ]  # fmt: skip
        if head:
            args += [
                "--head", "--port", str(self.gcs_port), "--dashboard-host", "127.0.0.1",
                "--dashboard-port", str(self.dashboard_port), "--include-dashboard", "true",
                "--ray-client-server-port", str(free_port()),
            ]  # fmt: skip
        else:
            args += ["--address", f"127.0.0.1:{self.gcs_port}"]
        if resources:
            args += ["--resources", json.dumps(resources)]
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 - the node process keeps it
        self.nodes[name] = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self._node_ports[name] = node_port

    def add_node(self, name: str, cpus: int = 1, resources: dict[str, float] | None = None) -> None:
        """Start a worker node and wait until the cluster counts it alive."""
        self._start(name, cpus, resources=resources)

        def joined() -> bool:
            if self.nodes[name].poll() is not None:
                raise RuntimeError(f"ray node {name} exited:\n{(self.folder / f'{name}.log').read_text()[-3000:]}")
            try:
                node = self.node_id(name)
            except RuntimeError:
                return False
            return any(row.get("node_id") == node for row in self.alive_nodes())

        _wait(joined, 120, f"node {name} to join")

    def _get(self, path: str) -> object:
        with urllib.request.urlopen(self.address + path, timeout=5) as answer:
            return json.loads(answer.read())

    def alive_nodes(self) -> list[dict]:
        try:
            rows = self._get("/api/v0/nodes?limit=100&detail=true")["data"]["result"]["result"]  # type: ignore[index]
        except (OSError, ValueError, KeyError, TypeError):
            return []
        return [r for r in rows if r.get("state") == "ALIVE"]

    def wait_nodes(self, count: int, timeout: float = 120) -> None:
        def ready() -> bool:
            for name, process in self.nodes.items():
                if process.poll() is not None:
                    log = (self.folder / f"{name}.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"ray node {name} exited ({process.returncode}):\n{log}")
            return len(self.alive_nodes()) == count

        _wait(ready, timeout, f"{count} live Ray node(s)")

    def node_id(self, name: str) -> str:
        """The Ray node id of a node started here (from its raylet, found by its node manager port)."""
        port = self._node_ports[name]
        for pid in _pids_with(f"--node_manager_port={port}"):
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            for arg in args:
                if arg.startswith(b"--node_id="):
                    return arg.split(b"=", 1)[1].decode()
        raise RuntimeError(f"no raylet found for node {name}")

    def kill_node(self, name: str) -> None:
        """A machine lost mid-job: SIGKILL every process of the node at once (its ``ray start``, raylet, workers,
        the jobs' entrypoints and the trainers they started), found by parent links before any of them dies."""
        process = self.nodes.pop(name)
        for pid in process_tree(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for name in [n for n in self.nodes if n != "head"] + (["head"] if "head" in self.nodes else []):
            process = self.nodes.pop(name)
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
            if process.poll() is None:
                process.kill()
                process.wait()
        _kill_all(str(self.folder))  # anything of this cluster still around (workers, agents)
        shutil.rmtree(self.folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------- PostgreSQL
def postgres_binaries() -> Path | None:
    """The folder holding initdb/pg_ctl/postgres (PATH, then Debian's /usr/lib/postgresql/<version>/bin)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    return None


def install_postgres() -> int:
    """Install PostgreSQL's server from Debian's packages when it is missing (needs root and apt)."""
    if postgres_binaries() is not None:
        print(f"PostgreSQL server found in {postgres_binaries()}")
        return 0
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print("PostgreSQL is not installed; install the server package (Debian: apt-get install postgresql)")
        return 1
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"], check=True, env=env)
    print(f"PostgreSQL server installed in {postgres_binaries()}")
    return 0 if postgres_binaries() is not None else 1


class Postgres:
    """A PostgreSQL server in a temporary data folder on 127.0.0.1 (run as the ``postgres`` user when root: the
    server refuses to run as root)."""

    def __init__(self, database: str = "tao") -> None:
        bins = postgres_binaries()
        if bins is None:
            raise RuntimeError("PostgreSQL is not installed (make engines; Debian: apt-get install postgresql)")
        self.bins = bins
        self.folder = Path(tempfile.mkdtemp(prefix="tspg"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.user = "postgres"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            import pwd

            account = pwd.getpwnam("postgres")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._run(str(bins / "initdb"), "-D", str(self.data), "-U", self.user, "-A", "trust", "--no-sync")
        self._run(
            str(bins / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "-t", "60",
            "-o", f"-p {self.port} -h 127.0.0.1 -k {self.folder} -c fsync=off -c max_connections=100", "start",
        )  # fmt: skip
        self._run(str(bins / "createdb") if (bins / "createdb").exists() else "createdb",
                  "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, database)  # fmt: skip
        self.url = f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as_user, *args], check=True, capture_output=True, cwd=self.folder)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self.bins / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        _kill_all(str(self.data))
        shutil.rmtree(self.folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.engines", description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="install PostgreSQL's server when missing")
    args = parser.parse_args(argv)
    if args.install:
        return install_postgres()
    print(f"postgres: {postgres_binaries() or 'not installed'}; ray: {shutil.which('ray') or 'not on PATH'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
