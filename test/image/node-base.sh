#!/usr/bin/env bash
# A stand-in for the Containerfile's NODE_IMAGE (docker.io/library/node:20-bookworm-slim) made
# without a registry, so the test can build the Containerfile here: Debian 12 (minbase, with apt)
# from Debian's packages, and the build host's Node.js and npm under /usr/local as the official
# image has them. Prints the image name.
set -euo pipefail
image=${1:-localhost/weir-node-base:20}
cache=${WEIR_IMAGE_CACHE:-$HOME/.cache/weir-image}
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
tarball="$cache/node-base-bookworm-minbase.tar"
if [ ! -s "$tarball" ]; then
  mkdir -p "$cache"
  mmdebstrap --variant=minbase --include=ca-certificates,libstdc++6 --format=tar bookworm "$tarball.part" "$mirror" >&2
  mv "$tarball.part" "$tarball"
fi
node_bin=$(readlink -f "$(command -v node)")
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
mnt=$(buildah mount "$ctr")
tar -C "$mnt" -xf "$tarball"
install -D -m 0755 "$node_bin" "$mnt/usr/local/bin/node"
mkdir -p "$mnt/usr/local/lib/node_modules"
cp -a "$npm_dir" "$mnt/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
buildah umount "$ctr" >/dev/null
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd node "$ctr"
buildah commit --quiet --format oci --rm "$ctr" "$image" >/dev/null
trap - EXIT
echo "$image"
