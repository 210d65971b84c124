"""Builds the project's Dockerfile with podman and runs the image, where there
is no Docker engine: test plumbing only, so the Dockerfile stays standard.

What this machine kind needs, and does here (checked on Debian bookworm, as
root, podman 4.3):
- The base image comes from debootstrap (`debian:bookworm-slim` is imported
  from a minbase tree), so builds need no registry; it stays in podman's
  storage and is reused by later runs on the same machine.
- `podman build --isolation=chroot`: the default runtime fails on this
  kernel's cgroups. pip inside the build trusts the host's CA bundle through a
  pip.conf mounted at /etc/xdg/pip (a global pip config location), so nothing
  of it lands in the image.
- `podman run` fails here (setrlimit), so `run` does what it would: it mounts
  the image's files, gives them /proc, a /tmp and the image's environment in
  a private mount namespace, binds a host folder at /mnt, and runs the
  entry point with chroot.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

BASE = "docker.io/library/debian:bookworm-slim"
MIRROR = "http://deb.debian.org/debian"
_SOURCES = f"""Types: deb
URIs: {MIRROR}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def missing() -> str | None:
    """Why images cannot be built and run here, or None when they can."""
    tools = [t for t in ("podman", "debootstrap", "unshare") if not shutil.which(t)]
    if tools:
        return f"{', '.join(tools)} not installed (.ci/run installs them with apt)"
    if os.geteuid() != 0:
        return "building and mounting images with podman here needs root"
    return None


def _podman(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], check=True, text=True, **kwargs)


def ensure_base() -> None:
    """Imports a debootstrap'd Debian bookworm as BASE, unless podman has it."""
    if subprocess.run(["podman", "image", "exists", BASE]).returncode == 0:
        return
    with tempfile.TemporaryDirectory(dir="/var/tmp") as root:
        subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", root, MIRROR],
            check=True,
            capture_output=True,
        )
        tree = Path(root)
        # debootstrap copies the host's name and resolver; apt caches go too.
        for name in ("etc/hostname", "etc/resolv.conf", "etc/apt/sources.list"):
            (tree / name).unlink(missing_ok=True)
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (tree / cache).glob("*"):
                if entry.is_file():
                    entry.unlink()
        (tree / "etc/apt/sources.list.d/debian.sources").write_text(_SOURCES)
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        _podman(
            "import", "--change", 'CMD ["bash"]', "-", BASE,
            stdin=tar.stdout, capture_output=True,
        )  # fmt: skip
        if tar.wait():
            raise RuntimeError("tar of the debootstrap tree failed")


def _ca_bundle() -> str:
    """The CA bundle the host's pip trusts (a TLS-inspecting proxy's included)."""
    for name in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        if os.environ.get(name) and Path(os.environ[name]).is_file():
            return os.environ[name]
    return ssl.get_default_verify_paths().openssl_cafile


def build(tag: str, context: Path, build_args: Mapping[str, str]) -> float:
    """`podman build` of context/Dockerfile; returns the seconds it took."""
    with tempfile.TemporaryDirectory() as config:
        shutil.copy(_ca_bundle(), Path(config) / "host-ca.crt")
        (Path(config) / "pip.conf").write_text(
            "[global]\ncert = /etc/xdg/pip/host-ca.crt\ndefault-timeout = 180\n"
        )
        arguments = [f"--build-arg={k}={v}" for k, v in build_args.items()]
        started = time.monotonic()
        _podman(
            "build", "--isolation=chroot", "--pull=never",
            f"--volume={config}:/etc/xdg/pip:ro", *arguments,
            f"--tag={tag}", str(context),
            capture_output=True,
        )  # fmt: skip
        return time.monotonic() - started


def inspect(tag: str) -> dict:
    """The image's config: Entrypoint, Env, WorkingDir, ..."""
    out = _podman("image", "inspect", tag, capture_output=True).stdout
    return json.loads(out)[0]


def size(tag: str) -> int:
    return int(inspect(tag)["Size"])


# Runs as `sh -c SCRIPT sh ROOT WORKDIR CWD COMMAND...` inside `unshare
# --mount`, so every mount vanishes with the process; its environment is the
# image's, which chroot and the command inherit.
_CHROOT = r"""
set -eu
root=$1 work=$2 cwd=$3; shift 3
mount -t proc proc "$root/proc"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
mount --bind "$work" "$root/mnt"
exec chroot "$root" /bin/sh -c 'cd "$0" && exec "$@"' "$cwd" "$@"
"""


def run(
    tag: str,
    args: Sequence[str],
    workdir: Path,
    entrypoint: Sequence[str] | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess:
    """What `podman run -v WORKDIR:/mnt [--entrypoint ...] TAG ARGS` would do."""
    config = inspect(tag)["Config"]
    command = [*(entrypoint or config.get("Entrypoint") or []), *args]
    env = dict(item.split("=", 1) for item in config.get("Env", []))
    env["HOME"] = "/tmp"  # the image's files are mounted read-only
    root = _podman("image", "mount", tag, capture_output=True).stdout.strip()
    try:
        return subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", _CHROOT,
             "sh", root, str(workdir), config.get("WorkingDir") or "/", *command],
            env=env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
    finally:
        _podman("image", "unmount", tag, capture_output=True)
