"""Sandbox backends that run ttscale.verify.runner: docker, podman, bubblewrap, apptainer.

ttscale.verify.pool feeds them tasks (one sandbox per worker, a window of tasks in flight each).

Every backend starts the runner as PID 1 of a fresh PID namespace with no network, a read-only
root, private tmpfs on /tmp and /dev/shm, no capabilities, no new privileges and an unprivileged
user; the container backends add memory, pids and CPU limits through cgroups. A backend that is
not available raises SandboxUnavailable; nothing ever falls back to running code unsandboxed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import docker
import docker.errors

from ttscale.errors import ConfigError
from ttscale.registry import Registry

log = logging.getLogger(__name__)

RUNNER = (Path(__file__).with_name("runner.py")).read_text(encoding="utf-8")
IMAGE = "ttscale-verifier:latest"
ROOTFS = Path(__file__).resolve().parents[3] / "resources" / "images" / "verifier-rootfs"
BASE_UID = 60000  # a sandbox in slot i runs as uid/gid BASE_UID + i: its processes count against its
# own RLIMIT_NPROC, so one sample's fork bomb cannot starve the other sandboxes (pool.claimed_slot)

LIMITS = {
    "wall_s": 10.0,  # per program run (a test case for stdin/stdout problems)
    "cpu_s": 10,
    "memory_mb": 1024,  # address space of one sample (RLIMIT_AS)
    "fsize_mb": 16,
    "nofile": 64,
    "nproc": 512,
    "tail_bytes": 2000,  # stdout/stderr tail kept in the verdict
    "output_mb": 4,  # a sample printing more is killed
    "task_wall_s": 120.0,  # all test cases of one stdin/stdout sample
}
CONTAINER = {"memory_mb": 2048, "pids": 256, "cpus": 1.0, "tmpfs_mb": 256, "pin_cpus": True}  # pin_cpus: pool.pinned


class SandboxUnavailable(ConfigError):
    """The configured backend cannot run here; the message says why and what to do."""


class Session:
    """One running sandbox: send a task, receive its result. recv() returns None if the sandbox died
    and raises TimeoutError if no answer came within `timeout` (the sample may still be running)."""

    buf = b""  # runner output received but not yet returned: answers are JSON lines

    def send(self, *objs: dict) -> None:
        """Write the objects as JSON lines, in one write (each write is a wake-up of the engine)."""
        self._write("".join(json.dumps(o) + "\n" for o in objs).encode())

    def _write(self, data: bytes) -> None:
        raise NotImplementedError

    def _read(self, timeout: float) -> bytes | None:
        """The runner's next output bytes (b"" if only something else arrived), None at its end;
        TimeoutError if nothing arrived within `timeout`."""
        raise NotImplementedError

    def recv(self, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            chunk = self._read(max(0.0, deadline - time.monotonic()))
            if chunk is None:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line) if line.strip() else None

    def close(self, clean: bool = False) -> str:
        """Stop the sandbox; returns what it wrote on stderr (for error messages). `clean`: every task
        was answered, so the runner is only waiting for the end of its input and exits on it."""
        raise NotImplementedError


class Sandbox:
    """Base class: `open` starts one sandbox running the runner with the given limits."""

    name = "base"

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings = {**CONTAINER, "image": IMAGE, "rootfs": str(ROOTFS), **(settings or {})}

    def check(self) -> None:
        """Raise SandboxUnavailable if this backend cannot run here."""

    def open(self, limits: dict, slot: int = 0) -> Session:
        """Start one sandbox; check() must have passed first."""
        raise NotImplementedError


SANDBOXES: Registry[type[Sandbox]] = Registry("sandbox backend")


@SANDBOXES.register("docker")
class DockerSandbox(Sandbox):
    """The Docker engine through its Python SDK (the default on a workstation)."""

    name = "docker"
    _docker = None  # one engine client for check() and every open(): each new one costs a connection and a ping

    def _client(self):
        if self._docker is not None:
            return self._docker
        try:
            client = docker.from_env()
            client.ping()
        except Exception as exc:
            raise SandboxUnavailable(
                f"verify.backend docker: cannot reach the Docker engine ({type(exc).__name__}); start it "
                f"(bash bootstrap.sh setup starts dockerd) or choose another backend "
                f"(bubblewrap, podman, apptainer)"
            ) from None
        self._docker = client
        return client

    def check(self) -> None:
        client = self._client()
        try:
            client.images.get(self.settings["image"])
        except docker.errors.ImageNotFound:
            raise SandboxUnavailable(
                f"verify.backend docker: image {self.settings['image']} is missing; build it with "
                f"`bash containers/build.sh`"
            ) from None

    def open(self, limits: dict, slot: int = 0) -> Session:
        s = self.settings
        uid = BASE_UID + slot
        container = self._client().containers.create(
            s["image"],
            ["python3", "-c", RUNNER],
            stdin_open=True,
            # No network at all: no endpoint is made (NetworkDisabled), so the container gets a network
            # namespace of its own with only loopback, and starts 80-100 ms sooner than with mode
            # "none" alone (the engine's network sandbox set-up); the runner checks it (refusal()).
            network_disabled=True,
            network_mode="none",
            read_only=True,
            tmpfs={"/tmp": f"rw,exec,size={s['tmpfs_mb']}m,mode=1777", "/dev/shm": "rw,size=64m,mode=1777"},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            pids_limit=int(s["pids"]),
            mem_limit=f"{s['memory_mb']}m",
            memswap_limit=f"{s['memory_mb']}m",
            nano_cpus=int(float(s["cpus"]) * 1e9),
            user=f"{uid}:{uid}",
            working_dir="/tmp",
            environment={"PYTHONDONTWRITEBYTECODE": "1"},
            labels={"ttscale": "verifier"},
            log_config={"type": "none"},  # results come over the attached stream, not the log
            auto_remove=True,  # the engine removes it when the runner exits: a clean close waits for nothing
        )
        return DockerSession(container, limits)


class DockerSession(Session):
    """stdin and stdout of the container over one attached socket (Docker's multiplexed frames)."""

    def __init__(self, container: Any, limits: dict) -> None:
        self.container = container
        self.sock = container.attach_socket(params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
        self.raw = self.sock._sock
        container.start()
        self.frame = b""
        self.err = b""
        self.send(limits)

    def _write(self, data: bytes) -> None:
        self.raw.sendall(data)

    def _read(self, timeout: float) -> bytes | None:
        self.raw.settimeout(max(timeout, 1e-6))
        try:
            chunk = self.raw.recv(65536)
        except TimeoutError:
            raise
        except OSError:
            return None
        if not chunk:
            return None
        self.frame += chunk
        out = b""
        while len(self.frame) >= 8:
            kind, size = self.frame[0], int.from_bytes(self.frame[4:8], "big")
            if len(self.frame) < 8 + size:
                break
            payload, self.frame = self.frame[8 : 8 + size], self.frame[8 + size :]
            if kind == 1:
                out += payload
            else:
                self.err = (self.err + payload)[-4000:]
        return out

    def close(self, clean: bool = False) -> str:
        with contextlib.suppress(OSError):
            self.raw.shutdown(socket.SHUT_WR)  # end of input: an idle runner exits, the engine removes it
        with contextlib.suppress(OSError):
            self.sock.close()
        if not clean:  # the runner may be stuck in a sample or gone: kill and remove it now
            with contextlib.suppress(Exception):
                self.container.remove(force=True)
        return self.err.decode("utf-8", "replace")


class _CommandSandbox(Sandbox):
    """Backends driven by a command line; the runner's stdin and stdout are the process's."""

    binary = ""

    def command(self, limits: dict, uid: int) -> list[str]:
        raise NotImplementedError

    def popen_user(self, uid: int) -> dict[str, Any]:
        """Extra Popen arguments: the command itself runs as the sandbox's user when we are root."""
        return {}

    def check(self) -> None:
        if shutil.which(self.binary) is None:
            raise SandboxUnavailable(
                f"verify.backend {self.name}: `{self.binary}` is not installed on this machine; "
                f"install it or choose another backend"
            )

    def open(self, limits: dict, slot: int = 0) -> Session:
        """Callers check() the backend once before opening its sandboxes (run_tasks does)."""
        uid = BASE_UID + slot if os.geteuid() == 0 else os.geteuid()
        return ProcessSession(self.command(limits, uid), limits, self.popen_user(uid))


class ProcessSession(Session):
    """The sandbox as a child process; its stdin and stdout are pipes."""

    def __init__(self, argv: list[str], limits: dict, popen: dict[str, Any] | None = None) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     **(popen or {}))
        self.err: list[bytes] = []
        threading.Thread(target=lambda: self.err.append(self.proc.stderr.read()), daemon=True).start()
        self.send(limits)

    def _write(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def _read(self, timeout: float) -> bytes | None:
        # the raw descriptor, not a buffered reader: one could hold a second answer select() would not see
        fd = self.proc.stdout.fileno()
        if not select.select([fd], [], [], timeout)[0]:
            raise TimeoutError
        return os.read(fd, 65536) or None

    def close(self, clean: bool = False) -> str:
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return b"".join(self.err)[-4000:].decode("utf-8", "replace")


@SANDBOXES.register("podman")
class PodmanSandbox(_CommandSandbox):
    """Podman (rootless on HPC login nodes); the same image and flags as Docker."""

    name, binary = "podman", "podman"

    @property
    def image(self) -> str:
        """Fully qualified: a short name could make podman look for it in a remote registry."""
        image = self.settings["image"]
        return image if "/" in image.split(":", 1)[0] else f"localhost/{image}"

    def check(self) -> None:
        super().check()
        found = subprocess.run(["podman", "image", "exists", self.image], capture_output=True, timeout=60)
        if found.returncode != 0:
            raise SandboxUnavailable(f"verify.backend podman: image {self.image} is missing; build it with "
                                     f"`bash containers/build.sh`")

    def command(self, limits: dict, uid: int) -> list[str]:
        s = self.settings
        return [
            "podman", "run", "-i", "--rm", "--network", "none", "--read-only", "--pull", "never",
            "--tmpfs", f"/tmp:rw,exec,size={s['tmpfs_mb']}m,mode=1777", "--tmpfs", "/dev/shm:rw,size=64m",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--pids-limit", str(s["pids"]),
            "--memory", f"{s['memory_mb']}m", "--memory-swap", f"{s['memory_mb']}m", "--cpus", str(s["cpus"]),
            # podman's default ulimits exceed what an unprivileged host (or a SLURM job) may grant
            "--ulimit", "nofile=1024:1024", "--ulimit", f"nproc={s['pids']}:{s['pids']}",
            "--user", f"{uid}:{uid}", "--workdir", "/tmp", self.image, "python3", "-c", RUNNER,
        ]


@SANDBOXES.register("bubblewrap")
class BubblewrapSandbox(_CommandSandbox):
    """bubblewrap: daemonless namespaces for HPC nodes and CI, over the image's root filesystem.

    No cgroups: memory and processes are bounded by the runner's per-sample rlimits only.
    """

    name, binary = "bubblewrap", "bwrap"

    def check(self) -> None:
        super().check()
        if not (Path(self.settings["rootfs"]) / "usr" / "bin" / "python3").exists():
            raise SandboxUnavailable(
                f"verify.backend bubblewrap: no image root filesystem at {self.settings['rootfs']}; "
                f"build it with `bash containers/build.sh`"
            )

    def popen_user(self, uid: int) -> dict[str, Any]:
        # bwrap started by root would map root into the sandbox's user namespace, and root is exempt
        # from RLIMIT_NPROC: start it as the unprivileged sandbox user instead.
        return {"user": uid, "group": uid, "extra_groups": []} if os.geteuid() == 0 else {}

    def command(self, limits: dict, uid: int) -> list[str]:
        s = self.settings
        return [
            "bwrap", "--ro-bind", s["rootfs"], "/", "--proc", "/proc", "--dev", "/dev",
            "--size", str(int(s["tmpfs_mb"]) << 20), "--tmpfs", "/tmp", "--tmpfs", "/dev/shm",
            "--unshare-all", "--uid", str(uid), "--gid", str(uid), "--cap-drop", "ALL",
            "--die-with-parent", "--as-pid-1", "--new-session", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--chdir", "/tmp",
            "python3", "-c", RUNNER,
        ]


@SANDBOXES.register("apptainer")
class ApptainerSandbox(_CommandSandbox):
    """Apptainer for SLURM clusters, from the .sif built with containers/verifier.def.

    Only its command line is tested on the development machines (no Apptainer there).
    """

    name, binary = "apptainer", "apptainer"

    def command(self, limits: dict, uid: int) -> list[str]:
        s = self.settings
        image = s.get("sif") or "resources/images/ttscale-verifier.sif"
        return [
            "apptainer", "exec", "--containall", "--cleanenv", "--no-home", "--no-privs",
            "--net", "--network", "none", "--pid", "--writable-tmpfs", "--pwd", "/tmp",
            image, "python3", "-c", RUNNER,
        ]
