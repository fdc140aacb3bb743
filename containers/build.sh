#!/usr/bin/env bash
# Build the verifier image offline: a Debian root filesystem with Python, made by mmdebstrap from
# Debian's packages, imported into Docker and Podman (where installed), and unpacked for bubblewrap. Idempotent: a rerun with
# the image present and this definition unchanged takes well under a second.
#   bash containers/build.sh          # build if missing or changed
#   bash containers/build.sh --force  # rebuild
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=ttscale-verifier
SUITE=bookworm
PACKAGES=python3
OUT=resources/images
# The image's identity: this script and the package list. A change rebuilds it.
TAG=$( (cat containers/build.sh; echo "$SUITE $PACKAGES") | sha256sum | cut -c1-12)
mkdir -p "$OUT"
STAMP="$OUT/verifier-$TAG.stamp"

have_image() { docker image inspect "$IMAGE:$TAG" >/dev/null 2>&1; }
have_podman_image() { podman image exists "localhost/$IMAGE:$TAG" 2>/dev/null; }

if [ "${1:-}" != "--force" ] && [ -f "$STAMP" ] && [ -x "$OUT/verifier-rootfs/usr/bin/python3" ] \
   && { ! command -v docker >/dev/null || ! docker info >/dev/null 2>&1 || have_image; }; then
  if ! command -v podman >/dev/null || have_podman_image; then
    exit 0
  fi
  # only the Podman copy is missing (podman installed later): import the unpacked root filesystem
  tar -C "$OUT/verifier-rootfs" -c . | podman import --change 'USER 65534:65534' --change 'WORKDIR /tmp' \
    --change 'CMD ["python3"]' - "localhost/$IMAGE:$TAG" >/dev/null
  podman tag "localhost/$IMAGE:$TAG" "localhost/$IMAGE:latest"
  exit 0
fi

echo "containers/build.sh: building $IMAGE:$TAG from Debian $SUITE ($PACKAGES)" >&2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# --variant=essential: Essential:yes packages plus what we include; no apt in the image.
mmdebstrap --quiet --variant=essential --include="$PACKAGES" \
  --customize-hook='rm -rf "$1"/var/cache/* "$1"/usr/share/doc/* "$1"/usr/share/man/*' \
  "$SUITE" "$TMP/rootfs.tar"

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  docker import --change 'USER 65534:65534' --change 'WORKDIR /tmp' --change 'CMD ["python3"]' \
    "$TMP/rootfs.tar" "$IMAGE:$TAG" >/dev/null
  docker tag "$IMAGE:$TAG" "$IMAGE:latest"
fi
if command -v podman >/dev/null; then
  podman import --change 'USER 65534:65534' --change 'WORKDIR /tmp' --change 'CMD ["python3"]' \
    "$TMP/rootfs.tar" "localhost/$IMAGE:$TAG" >/dev/null
  podman tag "localhost/$IMAGE:$TAG" "localhost/$IMAGE:latest"
fi
# the same root filesystem, unpacked, for the bubblewrap backend
rm -rf "$OUT/verifier-rootfs.new"
mkdir -p "$OUT/verifier-rootfs.new"
tar -xf "$TMP/rootfs.tar" -C "$OUT/verifier-rootfs.new"
rm -rf "$OUT/verifier-rootfs"
mv "$OUT/verifier-rootfs.new" "$OUT/verifier-rootfs"
rm -f "$OUT"/verifier-*.stamp
touch "$STAMP"
echo "containers/build.sh: done ($IMAGE:latest, $OUT/verifier-rootfs)" >&2
