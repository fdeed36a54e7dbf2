"""`docker compose` for the kit's one project: settings give the base command, one method per verb.

    project = ComposeProject(settings)
    project.up(detach=True)
    for container in project.ps():
        print(container.service, container.state, container.health)

The base command always names the project (`-p`), the repository root (`--project-directory`,
or compose looks for `.env` beside the first file), the env file and every compose file, so a
command run from any directory acts on the same stack. Every call goes through `run()` or
`stream()`, which raise ComposeError(argv, code, stderr) with every known secret masked:
compose echoes interpolated values in its errors, and those come from `.env`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ComposeError, ConfigError, DockerError
from .replicas import compose_variables
from .settings import BY_NAME, REPO_ROOT, Settings, mask

COMPOSE_FILES = (REPO_ROOT / "compose" / "langfuse.yml", REPO_ROOT / "compose" / "litellm.yml")
EXTRA_FILES_VARIABLE = "LLMOPS_EXTRA_COMPOSE_FILES"
PROXY_SERVICE = "litellm"
PROXY_CONFIG_VARIABLE = "LLMOPS_LITELLM_CONFIG"
KEYS_FILE_VARIABLE = "LLMOPS_KEYS_FILE"
# Not settings: derived from LLMOPS_KEYS_FILE for compose/litellm.yml on every compose call.
KEYS_DIR_VARIABLE = "LLMOPS_KEYS_DIR"
KEYS_NAME_VARIABLE = "LLMOPS_KEYS_NAME"
# Shorter values are not real secrets; replacing them would garble the output.
MIN_SECRET_LENGTH = 4
# A failed streamed command reports its last lines as its stderr.
ERROR_TAIL_LINES = 20

ENGINE_FIX = (
    "Start Docker: open Docker Desktop, or run `sudo systemctl start docker`, "
    "or start `sudo dockerd` by hand; if the engine runs elsewhere, set DOCKER_HOST."
)
SOCKET_PERMISSION_FIX = (
    "Add your user to the docker group (`sudo usermod -aG docker $USER`, then log in again)."
)
COMPOSE_V2_FIX = (
    "Install compose v2: `sudo apt-get install docker-compose-plugin` (Docker's packages) "
    "or copy a docker-compose v2 binary to ~/.docker/cli-plugins/docker-compose."
)
PORT_FIX = "Free the port, or choose another LANGFUSE_WEB_PORT / LITELLM_PORT / MINIO_S3_PORT."
DOCKER_INSTALL_FIX = "Install Docker Engine or Docker Desktop: https://docs.docker.com/get-docker/"

_KNOWN_FAILURES: tuple[tuple[str, str], ...] = (
    ("cannot connect to the docker daemon", ENGINE_FIX),
    ("permission denied while trying to connect", SOCKET_PERMISSION_FIX),
    ("is not a docker command", COMPOSE_V2_FIX),
    ("unknown command: docker compose", COMPOSE_V2_FIX),
    ("port is already allocated", PORT_FIX),
    ("address already in use", PORT_FIX),
    ("no such service", "Run `python manage_langfuse.py status` to see the service names."),
)


# Compose's plain progress: one line per object and step. The kit shows health per service
# instead; pulls, warnings and errors still come through.
_ROUTINE_PROGRESS = re.compile(
    r"\s*(Container|Network|Volume) \S+\s+"
    r"(Creating|Created|Starting|Started|Waiting|Healthy|Running|Recreate|Recreated"
    r"|Stopping|Stopped|Removing|Removed|Restarting)\s*"
)


# Escape sequences programs write for terminals (LiteLLM colours its log lines).
_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def is_routine_progress(line: str) -> bool:
    """True for compose's per-container step lines ("Container x  Started")."""
    return _ROUTINE_PROGRESS.fullmatch(line) is not None


def fix_for(stderr: str) -> str | None:
    """The fix for a failure docker reports often; None when the message is not a known one."""
    lowered = stderr.lower()
    return next((fix for needle, fix in _KNOWN_FAILURES if needle in lowered), None)


class Command(list[str]):
    """An argv under construction whose calls read like the flags they add."""

    def add_flag(self, name: str, on: bool) -> Command:
        if on:
            self.append(name)
        return self

    def add_option(self, name: str, value: object | None) -> Command:
        if value is not None:
            self.extend([name, str(value)])
        return self

    def add_args(self, values: Iterable[object]) -> Command:
        self.extend(str(value) for value in values)
        return self


@dataclass(frozen=True)
class Publisher:
    """One published port: host address and port, container port, protocol."""

    url: str
    target_port: int
    published_port: int
    protocol: str

    def __str__(self) -> str:
        return f"{self.url}:{self.published_port}->{self.target_port}/{self.protocol}"


@dataclass(frozen=True)
class ContainerState:
    """One container of the project, as `docker compose ps --format json` describes it."""

    service: str
    name: str
    state: str  # created, running, restarting, paused, exited, dead
    health: str  # healthy, unhealthy, starting, or "" when the service has no healthcheck
    exit_code: int
    publishers: tuple[Publisher, ...]
    image: str = ""  # the reference it was created from, as compose named it

    @property
    def ready(self) -> bool:
        """Running, and healthy when it has a healthcheck."""
        return self.state == "running" and self.health in ("", "healthy")

    @property
    def ports(self) -> str:
        """Published ports only; ports a container merely exposes are left out."""
        return ", ".join(str(p) for p in self.publishers if p.published_port)

    @property
    def summary(self) -> str:
        if self.state == "exited":
            return f"exited ({self.exit_code})"
        return f"{self.state} ({self.health})" if self.health else self.state


def service_state(service: str, containers: Sequence[ContainerState]) -> tuple[str, bool]:
    """A service's state in words, and whether it is ready (every container of it is)."""
    mine = [c for c in containers if c.service == service]
    if not mine:
        return "not created", False
    return ", ".join(c.summary for c in mine), all(c.ready for c in mine)


def _container(raw: Mapping[str, Any]) -> ContainerState:
    return ContainerState(
        service=raw["Service"],
        name=raw["Name"],
        state=raw["State"],
        health=raw.get("Health") or "",
        exit_code=int(raw.get("ExitCode") or 0),
        publishers=tuple(
            Publisher(
                url=p.get("URL") or "",
                target_port=int(p.get("TargetPort") or 0),
                published_port=int(p.get("PublishedPort") or 0),
                protocol=p.get("Protocol") or "tcp",
            )
            for p in raw.get("Publishers") or ()
        ),
        image=raw.get("Image") or "",
    )


def parse_ps(output: str) -> list[ContainerState]:
    """Parse `ps --format json`: one object per line (compose >= 2.21) or one JSON array."""
    text = output.strip()
    if not text:
        return []
    if text.startswith("["):
        records = json.loads(text)
    else:
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    return sorted((_container(r) for r in records), key=lambda c: (c.service, c.name))


def compose_files(settings: Mapping[str, str]) -> tuple[Path, ...]:
    """The production files, then any extra ones from LLMOPS_EXTRA_COMPOSE_FILES."""
    extra = settings.get(EXTRA_FILES_VARIABLE, "")
    extras = tuple(REPO_ROOT / part for part in extra.split(os.pathsep) if part.strip())
    return COMPOSE_FILES + extras


def proxy_config_file(settings: Mapping[str, str]) -> Path:
    """The litellm_config.yml the proxy service mounts (LLMOPS_LITELLM_CONFIG)."""
    return REPO_ROOT / (settings.get(PROXY_CONFIG_VARIABLE) or "litellm_config.yml")


def secret_values(settings: Mapping[str, str]) -> list[str]:
    """Every secret setting's value, longest first so a URL is masked before its password."""
    values = {
        value
        for name, value in settings.items()
        if name in BY_NAME and BY_NAME[name].secret and len(value) >= MIN_SECRET_LENGTH
    }
    return sorted(values, key=len, reverse=True)


def keys_mount(settings: Settings) -> dict[str, str]:
    """The directory holding the keys file and the file's name, for the proxy's mount.

    The proxy container mounts the directory, not the file: editors and `mv` save by writing
    a new file and renaming it, and a single-file bind mount keeps the old inode, so a revoked
    key would stay valid until a restart. Compose cannot split a path, so the kit does. The
    whole directory becomes visible to the proxy: the repository root or the folder of `.env`
    would hand it every secret, so those are refused.
    """
    name = settings.get(KEYS_FILE_VARIABLE, "")
    if not name:
        return {KEYS_DIR_VARIABLE: "", KEYS_NAME_VARIABLE: ""}
    path = (settings.root / name).resolve()
    if path.parent in (REPO_ROOT.resolve(), settings.root.resolve()):
        raise ConfigError(
            f"{KEYS_FILE_VARIABLE}={name} sits beside .env: the proxy container mounts the "
            "keys file's whole folder (so that edits reach it) and would see .env too",
            fix=f"Move it into a folder of its own: mkdir -p {settings.root}/keys && mv "
            f"{path} {settings.root}/keys/ && set {KEYS_FILE_VARIABLE}=keys/{path.name} in "
            f"{settings.env_path}",
        )
    return {KEYS_DIR_VARIABLE: str(path.parent), KEYS_NAME_VARIABLE: path.name}


class ComposeProject:
    """The kit's compose project; `on_output` receives the progress lines of changing verbs."""

    def __init__(
        self,
        settings: Settings,
        *,
        docker: str = "docker",
        on_output: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings["COMPOSE_PROJECT_NAME"]
        self.files = compose_files(settings)
        self.docker = docker
        self.on_output = on_output
        self._secrets = secret_values(settings)

    @property
    def base_command(self) -> Command:
        command = Command([self.docker, "compose"])
        command.add_option("-p", self.name)
        command.add_option("--project-directory", REPO_ROOT)
        command.add_option("--env-file", self.settings.env_path)
        for path in self.files:
            command.add_option("-f", path)
        return command

    # -- verbs that change the stack: their progress goes to on_output

    def up(
        self,
        services: Sequence[str] = (),
        *,
        detach: bool = True,
        no_deps: bool = False,
        force_recreate: bool = False,
    ) -> None:
        args = Command(["up"]).add_flag("--detach", detach).add_flag("--no-deps", no_deps)
        self._change(args.add_flag("--force-recreate", force_recreate).add_args(services))

    def down(self, *, volumes: bool = False) -> None:
        self._change(Command(["down"]).add_flag("--volumes", volumes))

    def stop(self, services: Sequence[str] = ()) -> None:
        self._change(Command(["stop"]).add_args(services))

    def restart(self, services: Sequence[str] = ()) -> None:
        self._change(Command(["restart"]).add_args(services))

    def pull(self, services: Sequence[str] = ()) -> None:
        self._change(Command(["pull"]).add_args(services))

    # -- verbs that read

    def ps(self) -> list[ContainerState]:
        """Every container of the project, stopped ones too, sorted by service."""
        return parse_ps(self.run(Command(["ps", "--all", "--format", "json"])))

    def logs(
        self, services: Sequence[str] = (), *, follow: bool = False, tail: int | None = None
    ) -> Iterator[str]:
        """Log lines, secrets masked and the programs' own colour codes removed; with
        follow=True until the user interrupts."""
        args = Command(["logs", "--no-color"]).add_flag("--follow", follow)
        lines = self.stream(args.add_option("--tail", tail).add_args(services))
        return (_TERMINAL_CODES.sub("", line) for line in lines)

    def exec(self, service: str, command: Sequence[str], *, index: int | None = None) -> str:
        """Run a command in a running service's container (no TTY) and return its output;
        `index` picks one of a replicated service's containers (1, 2, ...)."""
        args = Command(["exec", "-T"]).add_option("--index", index).add_args([service])
        return self.run(args.add_args(command))

    def config(self) -> dict[str, Any]:
        """The resolved project model. It holds secrets: never print it as it is."""
        return json.loads(self.run(Command(["config", "--format", "json"])))

    def images(self) -> dict[str, str]:
        """Each service's resolved image reference (tag or digest), as compose pulls it."""
        services = self.config().get("services", {})
        return {name: spec["image"] for name, spec in sorted(services.items()) if spec.get("image")}

    def services(self) -> list[str]:
        """The service names the compose files define, sorted (compose's order varies)."""
        return sorted(self.run(Command(["config", "--services"])).split())

    # -- running

    def command(self, args: Sequence[str]) -> list[str]:
        return [*self.base_command, *args]

    def environment(self) -> dict[str, str]:
        """The process environment with the resolved settings on top.

        Compose then interpolates exactly the values `settings.load()` resolved, derived
        ones included, whatever the `.env` file leaves empty, the keys file's folder, and
        the replicas' shared Redis (replicas.py).
        """
        return {
            **os.environ,
            **self.settings,
            **keys_mount(self.settings),
            **compose_variables(self.settings),
        }

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, mask(secret))
        return text

    def run(self, args: Sequence[str], *, timeout: float | None = None) -> str:
        """Run one compose command and return its stdout; ComposeError when it fails."""
        argv = self.command(args)
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                env=self.environment(),
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            raise DockerError(f"`{self.docker}` was not found", fix=DOCKER_INSTALL_FIX) from None
        except subprocess.TimeoutExpired:
            raise DockerError(
                f"`{self._shown(argv)}` did not finish within {timeout:g} s", fix=ENGINE_FIX
            ) from None
        if done.returncode != 0:
            raise self._error(argv, done.returncode, done.stderr)
        return done.stdout

    def stream(self, args: Sequence[str]) -> Iterator[str]:
        """Yield stdout and stderr lines as they come, masked; ComposeError at a failed end."""
        argv = self.command(args)
        try:
            process = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=self.environment(),
            )
        except FileNotFoundError:
            raise DockerError(f"`{self.docker}` was not found", fix=DOCKER_INSTALL_FIX) from None
        recent: deque[str] = deque(maxlen=ERROR_TAIL_LINES)
        try:
            for line in process.stdout or ():
                recent.append(line)
                yield self.redact(line.rstrip("\n"))
            code = process.wait()
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait()
        if code != 0:
            raise self._error(argv, code, "".join(recent))

    def _change(self, args: Sequence[str]) -> None:
        for line in self.stream(args):
            if self.on_output is not None:
                self.on_output(line)

    def _shown(self, argv: Sequence[str]) -> str:
        return self.redact(" ".join(argv))

    def _error(self, argv: Sequence[str], code: int, stderr: str) -> ComposeError:
        masked_argv = [self.redact(arg) for arg in argv]
        return ComposeError(masked_argv, code, self.redact(stderr), fix=fix_for(stderr))
