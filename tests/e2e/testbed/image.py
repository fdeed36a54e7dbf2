"""Build the stand-in image with `docker import`: a few kilobytes that run the host's programs.

The root filesystem holds only empty mount points, the merged-/usr symlinks (`bin`, `lib`,
`lib64`, `sbin` -> `usr/...`), the users servers expect (postgres, redis, clickhouse's uid
101), name-service, loader and Debian alternatives files, and `/opt/testbed/bin` first on
PATH: the MinIO-client and entrypoint stand-ins from `bin/`, and `python3` starting this
venv's Python (what `python3` is in the LiteLLM image, so its production healthcheck runs
unchanged).
Containers bind-mount the host's /usr, the base Python, the venv and the repository
read-only at the same paths (see overlay.yml).

The tag is a hash of the content, so a changed stand-in script gives a new image and an
unchanged one is never rebuilt.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

IMAGE_REPOSITORY = "llmops-testbed"
STANDIN_BIN = Path(__file__).resolve().parent / "bin"
TOOLS_DIR = "opt/testbed/bin"
CLICKHOUSE_UID = 101
CLICKHOUSE_DIRS = ("var/lib/clickhouse", "var/log/clickhouse-server")

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
clickhouse:x:101:101:ClickHouse stand-in:/nonexistent:/usr/sbin/nologin
postgres:x:999:999:PostgreSQL:/var/lib/postgresql:/bin/sh
redis:x:998:998:Redis:/data:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""
GROUP = """\
root:x:0:
clickhouse:x:101:
postgres:x:999:
redis:x:998:
nogroup:x:65534:
"""
# Container names resolve through Docker's /etc/hosts first, then its DNS.
NSSWITCH = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"


@dataclass(frozen=True)
class HostPaths:
    """Where this machine keeps what the stand-ins run; mounted at the same paths."""

    repo: Path
    venv: Path
    python: Path

    @classmethod
    def current(cls) -> HostPaths:
        return cls(
            repo=Path(__file__).resolve().parents[3],
            venv=Path(sys.prefix),
            python=Path(sys.base_prefix),
        )

    @property
    def postgres_bin(self) -> Path | None:
        """Debian's newest PostgreSQL server binaries (initdb, postgres, pg_isready)."""
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
        return found[-1] if found else None


def _entries(paths: HostPaths) -> Iterator[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]]:
    def directory(name: str, mode: int = 0o755) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type, info.mode = tarfile.DIRTYPE, mode
        return info

    def symlink(name: str, target: str) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
        return info

    def file(name: str, content: bytes, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(content), mode
        return info, content

    for name in ("usr", "etc", "root", "run", "opt", "opt/testbed", TOOLS_DIR):
        yield directory(name)
    for name in ("var", "var/lib", "var/lib/postgresql", "var/log"):
        yield directory(name)
    # As in clickhouse-server's image: its volumes start owned by the server's user.
    for name in CLICKHOUSE_DIRS:
        yield directory(name, 0o750)
    yield directory("tmp", 0o1777)
    yield directory("var/tmp", 0o1777)
    for name in ("bin", "lib", "lib64", "sbin"):
        yield symlink(name, f"usr/{name}")
    yield symlink("var/run", "../run")
    yield file("etc/passwd", PASSWD.encode())
    yield file("etc/group", GROUP.encode())
    yield file("etc/nsswitch.conf", NSSWITCH.encode())
    # Without the loader cache only the default library directories are searched.
    yield file("etc/ld.so.cache", Path("/etc/ld.so.cache").read_bytes())
    # Debian reaches some commands through these links (which, awk, pager...).
    yield directory("etc/alternatives")
    for link in sorted(Path("/etc/alternatives").iterdir()):
        if link.is_symlink():
            yield symlink(f"etc/alternatives/{link.name}", str(link.readlink()))
    for script in sorted(STANDIN_BIN.iterdir()):
        yield file(f"{TOOLS_DIR}/{script.name}", script.read_bytes(), 0o755)
    # A script, not a link: Python finds its venv only when started by the venv's path.
    launcher = f'#!/bin/sh\nexec {paths.venv / "bin" / "python"} "$@"\n'.encode()
    for name in ("python3", "python"):
        yield file(f"{TOOLS_DIR}/{name}", launcher, 0o755)


def rootfs_tar(paths: HostPaths) -> bytes:
    """The root filesystem as a tar, byte for byte the same for the same inputs."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for entry in _entries(paths):
            info, content = entry if isinstance(entry, tuple) else (entry, None)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
            if info.name in CLICKHOUSE_DIRS:
                info.uid = info.gid = CLICKHOUSE_UID
                info.uname = info.gname = "clickhouse"
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return buffer.getvalue()


def image_changes(paths: HostPaths) -> list[str]:
    """Dockerfile instructions `docker import --change` applies: PATH and working directory."""
    search = [f"/{TOOLS_DIR}"]
    if paths.postgres_bin is not None:
        search.append(str(paths.postgres_bin))
    search += ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    # WORKDIR: `python3 -m tests.fakes...` imports from the repository root.
    return [f"ENV PATH={':'.join(search)}", "ENV LANG=C.UTF-8", f"WORKDIR {paths.repo}"]


def image_tag(paths: HostPaths) -> str:
    digest = hashlib.sha256(rootfs_tar(paths))
    for change in image_changes(paths):
        digest.update(change.encode())
    return f"{IMAGE_REPOSITORY}:{digest.hexdigest()[:12]}"


def ensure_image(paths: HostPaths | None = None) -> str:
    """Build the stand-in image unless an identical one exists; return its tag."""
    paths = paths or HostPaths.current()
    tag = image_tag(paths)
    exists = subprocess.run(
        ["docker", "image", "inspect", tag], capture_output=True, check=False
    ).returncode
    if exists == 0:
        return tag
    argv = ["docker", "import"]
    for change in image_changes(paths):
        argv += ["--change", change]
    subprocess.run([*argv, "-", tag], input=rootfs_tar(paths), capture_output=True, check=True)
    return tag
