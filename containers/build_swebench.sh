#!/usr/bin/env bash
# Build the base of offline SWE-bench-style instance images: the verifier image's recipe (a Debian root
# filesystem made by mmdebstrap from Debian's packages) plus git, patch and pytest, imported into Docker
# (and Podman where installed) as ttscale-swebench-base. Instance images add a repository at /testbed
# on top (tests/swebench_fixture.py does it for the test repository). It has its own name and no
# unpacked copy, so it never touches the shared ttscale-verifier image. Idempotent.
#   bash containers/build_swebench.sh          # build if missing or changed
#   bash containers/build_swebench.sh --force  # rebuild
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=ttscale-swebench-base
SUITE=bookworm
PACKAGES=python3,python3-pytest,git,patch,ca-certificates
TAG=$( (cat containers/build_swebench.sh; echo "$SUITE $PACKAGES") | sha256sum | cut -c1-12)

have_image() { docker image inspect "$IMAGE:$TAG" >/dev/null 2>&1; }
if [ "${1:-}" != "--force" ] && have_image; then
  docker tag "$IMAGE:$TAG" "$IMAGE:latest"
  exit 0
fi
echo "containers/build_swebench.sh: building $IMAGE:$TAG from Debian $SUITE ($PACKAGES)" >&2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mmdebstrap --quiet --variant=essential --include="$PACKAGES" \
  --customize-hook='rm -rf "$1"/var/cache/* "$1"/usr/share/doc/* "$1"/usr/share/man/*' \
  --customize-hook='mkdir -p "$1"/testbed' \
  "$SUITE" "$TMP/rootfs.tar"
# root and /testbed, like the official instance images (the harness runs as root there)
docker import --change 'WORKDIR /testbed' --change 'CMD ["bash"]' "$TMP/rootfs.tar" "$IMAGE:$TAG" >/dev/null
docker tag "$IMAGE:$TAG" "$IMAGE:latest"
if command -v podman >/dev/null; then
  podman import --change 'WORKDIR /testbed' --change 'CMD ["bash"]' "$TMP/rootfs.tar" "localhost/$IMAGE:$TAG" >/dev/null
  podman tag "localhost/$IMAGE:$TAG" "localhost/$IMAGE:latest"
fi
echo "containers/build_swebench.sh: done ($IMAGE:latest)" >&2
