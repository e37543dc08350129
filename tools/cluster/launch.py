"""Start n Streamlit workers behind haproxy (sticky sessions, websockets): `make dashboard-cluster WORKERS=n`.

    .venv/bin/python tools/cluster/launch.py --workers 4 --port 8501 --address 0.0.0.0

Each worker is `streamlit run app.py` on its own loopback port (chosen free unless --worker-port is given);
haproxy (Debian's package: `make haproxy-deps`) listens on --address:--port and keeps each browser on the
worker that served its first request (haproxy.cfg.template says how and why). The launcher waits until every
worker answers /_stcore/health, then starts haproxy and waits until the dashboard answers through it, prints
one "ready" line, and stays in the foreground. Ctrl-C or SIGTERM stops every child; so does any child exiting.
Logs: one file per worker and haproxy's request log (one line per request, naming the worker) in --log-dir.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Path(__file__).with_name("haproxy.cfg.template")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render_config(address: str, port: int, worker_ports: list[int], admin_socket: Path, maxconn: int = 4096) -> str:
    """haproxy.cfg for these workers: worker i is server w<i> with cookie value w<i>."""
    servers = "\n".join(f"    server w{i} 127.0.0.1:{p} check inter 2s cookie w{i}"
                        for i, p in enumerate(worker_ports, start=1))
    return string.Template(TEMPLATE.read_text()).substitute(
        address=address, port=port, servers=servers, admin_socket=admin_socket, maxconn=maxconn).rstrip() + "\n"


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().strip() == b"ok"
    except OSError:
        return False


class Cluster:
    """The worker processes and haproxy; `stop()` ends them all: terminate, then kill after 15 s (a Streamlit
    worker took about 9 s to stop with sessions open, on a loaded 2-core machine)."""

    def __init__(self, workers: int, port: int, address: str, log_dir: Path, worker_port: int | None):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.haproxy = shutil.which("haproxy")
        if self.haproxy is None:
            raise FileNotFoundError("haproxy is not installed: run `make haproxy-deps` as root "
                                    "(apt-get install haproxy)")
        self.port, self.address, self.log_dir = port, address, log_dir
        self.worker_ports = ([worker_port + i for i in range(workers)] if worker_port
                             else [free_port() for _ in range(workers)])
        self.children: list[tuple[str, subprocess.Popen]] = []
        self._logs: list = []

    def _spawn(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "w")  # noqa: SIM115 (closed in stop)
        self._logs.append(log)
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        self.children.append((name, proc))
        return proc

    def start(self, timeout_s: float = 180.0) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
        for i, port in enumerate(self.worker_ports, start=1):
            self._spawn(f"worker{i}", [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless",
                                       "true", "--server.address", "127.0.0.1", "--server.port", str(port)], env)
        self._wait([f"http://127.0.0.1:{p}" for p in self.worker_ports], timeout_s, "worker")
        config = self.log_dir / "haproxy.cfg"
        self.admin_socket = self.log_dir / "haproxy.sock"
        config.write_text(render_config(self.address, self.port, self.worker_ports, self.admin_socket))
        check = subprocess.run([self.haproxy, "-c", "-q", "-f", str(config)], capture_output=True, text=True)
        if check.returncode:
            raise RuntimeError(f"haproxy rejected {config}:\n{check.stdout}{check.stderr}")
        self._spawn("haproxy", [self.haproxy, "-db", "-f", str(config)])
        host = "127.0.0.1" if self.address in ("0.0.0.0", "::", "") else self.address
        self.url = f"http://{host}:{self.port}"
        self._wait([self.url], 30.0, "balancer")

    def _wait(self, urls: list[str], timeout_s: float, what: str) -> None:
        deadline, pending = time.time() + timeout_s, list(urls)
        while pending:
            self.check_children()
            pending = [url for url in pending if not healthy(url)]
            if pending and time.time() > deadline:
                raise TimeoutError(f"{what} not healthy after {timeout_s:.0f} s: {pending} (logs in {self.log_dir})")
            if pending:
                time.sleep(0.5)

    def check_children(self) -> None:
        for name, proc in self.children:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode} (log: {self.log_dir / name}.log)")

    def stop(self) -> None:
        for _, proc in self.children:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.time() + 15
        for _, proc in self.children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self._logs:
            log.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="number of Streamlit processes (default 2)")
    parser.add_argument("--port", type=int, default=8501, help="the balancer's port (default 8501)")
    parser.add_argument("--address", default="0.0.0.0", help="the balancer's address (default all interfaces)")
    parser.add_argument("--worker-port", type=int, default=None,
                        help="first worker port (workers use consecutive loopback ports; default: free ports)")
    parser.add_argument("--log-dir", type=Path, default=ROOT / "artifacts" / "cluster")
    args = parser.parse_args(argv)
    try:
        cluster = Cluster(args.workers, args.port, args.address, args.log_dir, args.worker_port)
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        cluster.start()
        workers = ", ".join(f"w{i}=127.0.0.1:{p}" for i, p in enumerate(cluster.worker_ports, start=1))
        print(f"ready: {cluster.url} -> {workers} (logs in {args.log_dir})", flush=True)
        while True:
            cluster.check_children()
            time.sleep(1)
    except (RuntimeError, TimeoutError) as error:
        print(f"dashboard-cluster: {error}", file=sys.stderr)
        return 1
    finally:
        cluster.stop()
        print(f"dashboard-cluster: stopped {len(cluster.children)} processes", flush=True)


if __name__ == "__main__":
    sys.exit(main())
