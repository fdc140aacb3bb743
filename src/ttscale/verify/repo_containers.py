"""Long-lived containers of SWE-bench instance images, one per instance and worker: a patch is applied,
tested and wiped in a container started once, instead of a container per patch.

A box runs the image's own environment as the official harness does (root, /testbed), with no
network, memory, process and CPU limits and a private /tmp. Between patches every process but the
container's init is killed, /tmp is wiped, the repository goes back to its base commit (tracked,
untracked and new ignored files), the git configuration is restored, and the container's file
changes outside /testbed are compared with those it had when it started: a patch whose test run
changed anything else (site-packages, /etc, ...) gets the box replaced before the next patch.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shlex
import subprocess
import tarfile
import uuid
from typing import Any

from ttscale.errors import ConfigError
from ttscale.registry import Registry

log = logging.getLogger(__name__)

WORKDIR = "/testbed"  # swebench.harness.constants.DOCKER_WORKDIR / the image builder's CONTAINER_WORKDIR
STAGE = "/ttscale-stage"  # what a patch run needs, written fresh for each patch (not on the tmpfs: the
# engines' archive upload cannot see a tmpfs mount)
IGNORED = ("/testbed", STAGE, "/tmp", "/dev", "/proc", "/sys")  # changes here are reset or private, not checked


class RepoBox:
    """One running container of an instance image."""

    def exec(self, script: str) -> tuple[int, bytes]:
        """Run a bash script as root in /testbed; (exit code, combined output)."""
        raise NotImplementedError

    def put(self, files: dict[str, bytes]) -> None:
        """Write files under STAGE."""
        raise NotImplementedError

    def changes(self) -> set[str]:
        """The container's changed paths outside IGNORED, as `<kind> <path>` (docker/podman diff)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class RepoBackend:
    """Starts boxes of instance images; `check(image)` raises ConfigError if an image cannot run."""

    name = "base"

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings

    def check(self, image: str) -> None:
        raise NotImplementedError

    def start(self, image: str) -> RepoBox:
        raise NotImplementedError


REPO_BACKENDS: Registry[type[RepoBackend]] = Registry("repository sandbox backend")


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _outside(paths: list[tuple[int | str, str]]) -> set[str]:
    return {f"{k} {p}" for k, p in paths if not any(p == d or p.startswith(d + "/") for d in IGNORED)}


@REPO_BACKENDS.register("docker")
class DockerRepoBackend(RepoBackend):
    """The Docker engine through its Python SDK; images are pulled by name only with `pull: true`."""

    name = "docker"
    _client = None

    def client(self):
        if self._client is None:
            import docker

            try:
                client = docker.from_env(timeout=600)
                client.ping()
            except Exception as exc:
                raise ConfigError(f"verify.backend docker: cannot reach the Docker engine ({type(exc).__name__}); "
                                  f"start it (bash bootstrap.sh setup) or choose podman") from None
            self._client = client
        return self._client

    def check(self, image: str) -> None:
        import docker.errors

        try:
            self.client().images.get(image)
        except docker.errors.ImageNotFound:
            if not self.settings.get("pull"):
                raise ConfigError(f"verify.repository: instance image {image} is not in the Docker engine; pull or "
                                  f"build it, or set verify.repository.pull: true") from None
            log.info("pulling %s", image)
            self.client().images.pull(image)

    def start(self, image: str) -> RepoBox:
        s = self.settings
        container = self.client().containers.run(
            image, ["tail", "-f", "/dev/null"], detach=True, user="root", working_dir=WORKDIR,
            network_disabled=True, network_mode="none",
            tmpfs={"/tmp": f"rw,exec,size={s['tmpfs_mb']}m,mode=1777", "/dev/shm": "rw,size=64m,mode=1777"},
            cap_drop=["ALL"], cap_add=["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL"],
            security_opt=["no-new-privileges"], pids_limit=int(s["pids"]),
            mem_limit=f"{s['memory_mb']}m", memswap_limit=f"{s['memory_mb']}m",
            nano_cpus=int(float(s["cpus"]) * 1e9), environment={"PYTHONDONTWRITEBYTECODE": "1"},
            labels={"ttscale": "repository"}, name=f"ttscale-repo-{uuid.uuid4().hex[:12]}",
        )
        return DockerRepoBox(container)


class DockerRepoBox(RepoBox):
    def __init__(self, container: Any) -> None:
        self.container = container

    def exec(self, script: str) -> tuple[int, bytes]:
        res = self.container.exec_run(["bash", "-c", script], user="root", workdir=WORKDIR)
        return res.exit_code, res.output or b""

    def put(self, files: dict[str, bytes]) -> None:
        self.container.put_archive(STAGE, _tar(files))

    def changes(self) -> set[str]:
        return _outside([(d["Kind"], d["Path"]) for d in self.container.diff() or []])

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.container.remove(force=True)


@REPO_BACKENDS.register("podman")
class PodmanRepoBackend(RepoBackend):
    """Podman's command line (rootless on cluster nodes): the same flags, images by full name."""

    name = "podman"

    def run(self, *args: str, data: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
        res = subprocess.run(["podman", *args], input=data, capture_output=True)
        if check and res.returncode != 0:
            raise RuntimeError(f"podman {args[0]}: {res.stderr.decode(errors='replace').strip()[:300]}")
        return res

    def check(self, image: str) -> None:
        if self.run("image", "exists", image, check=False).returncode != 0:
            if not self.settings.get("pull"):
                raise ConfigError(f"verify.repository: instance image {image} is not in podman's store; pull it "
                                  f"or set verify.repository.pull: true")
            self.run("pull", image)

    def start_command(self, image: str) -> list[str]:
        s = self.settings
        return ["run", "-d", "--network", "none", "--user", "root", "--workdir", WORKDIR,
                "--tmpfs", f"/tmp:rw,exec,size={s['tmpfs_mb']}m,mode=1777", "--cap-drop", "ALL",
                "--cap-add", "CHOWN,DAC_OVERRIDE,FOWNER,FSETID,KILL", "--security-opt", "no-new-privileges",
                "--pids-limit", str(s["pids"]), "--memory", f"{s['memory_mb']}m", "--cpus", str(s["cpus"]),
                # podman's default open-files and process limits can exceed what an unprivileged host or a
                # SLURM job may grant (runc then fails: "error setting rlimit type 7" / "type 6")
                "--ulimit", "nofile=4096:4096", "--ulimit", f"nproc={s['pids']}:{s['pids']}",
                "--env", "PYTHONDONTWRITEBYTECODE=1", "--pull", "never", image, "tail", "-f", "/dev/null"]

    def start(self, image: str) -> RepoBox:
        cid = self.run(*self.start_command(image)).stdout.decode().strip()
        return PodmanRepoBox(self, cid)


class PodmanRepoBox(RepoBox):
    def __init__(self, backend: PodmanRepoBackend, cid: str) -> None:
        self.backend, self.cid = backend, cid

    def exec(self, script: str) -> tuple[int, bytes]:
        res = self.backend.run("exec", "-u", "root", "-w", WORKDIR, self.cid, "bash", "-c", script, check=False)
        return res.returncode, res.stdout + res.stderr

    def put(self, files: dict[str, bytes]) -> None:
        self.backend.run("exec", "-i", self.cid, "tar", "-x", "-C", STAGE, data=_tar(files))

    def changes(self) -> set[str]:
        out = self.backend.run("diff", self.cid).stdout.decode(errors="replace").split("\n")
        return _outside([tuple(ln.split(" ", 1)) for ln in out if " " in ln])  # type: ignore[misc]

    def close(self) -> None:
        self.backend.run("rm", "-f", self.cid, check=False)


# every process but init and the shell running this (kill(-1) spares its caller): run by the exec's own
# shell, never a subshell, whose parent it would kill
KILL_ALL = "kill -9 -1 2>/dev/null; sleep 0.05; kill -9 -1 2>/dev/null"


def reset_script(base_commit: str, gitconfig: str | None, keep_ignored: list[str]) -> str:
    """Kill everything a patch left running, then reset_body."""
    return KILL_ALL + "\n" + reset_body(base_commit, gitconfig, keep_ignored)


def reset_body(base_commit: str, gitconfig: str | None, keep_ignored: list[str]) -> str:
    """Wipe /tmp and put the repository back at its base commit: tracked and untracked files, and
    ignored files that were not there when the box started; exits non-zero if git cannot."""
    keep = "\n".join(keep_ignored)
    restore = (f"printf %s {shlex.quote(gitconfig)} > ~/.gitconfig" if gitconfig is not None
               else "rm -f ~/.gitconfig")
    return f"""
find /tmp /dev/shm -mindepth 1 -delete 2>/dev/null; rm -rf {STAGE}; mkdir -p {STAGE}
{restore}
cd {WORKDIR} || exit 90
git reset -q --hard {shlex.quote(base_commit)} || exit 91
git clean -qffd || exit 92
printf '%s\n' {shlex.quote(keep)} > {STAGE}/keep
git ls-files -z --others --ignored --exclude-standard --directory | grep -zvxFf {STAGE}/keep \
  | sed -z 's:/$::' | xargs -0r rm -rf --
rm -f {STAGE}/ignored {STAGE}/keep
"""
