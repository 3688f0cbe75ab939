#!/usr/bin/env bash
# Builds weir's container image (the same content as Containerfile) without pulling anything from
# a container registry: a Debian 12 root file system made from Debian packages with mmdebstrap
# (libbpf1, ca-certificates, git, libstdc++6), the build host's Node.js (20 or later: Debian 12's
# own is 18), and weir installed from the npm package this checkout packs; buildah turns the tree
# into an OCI image in the local container storage.
#
#   bash scripts/build-image.sh [IMAGE]        default IMAGE: ghcr.io/weir-dev/weir:<version>
#
# Needs root (or a user namespace), mmdebstrap, buildah, and the npm dependencies installed
# (scripts/setup.sh). WEIR_IMAGE_CACHE (default ~/.cache/weir-image) keeps the root file system
# tarball between builds; WEIR_IMAGE_OCI_ARCHIVE=FILE also writes the image as an OCI archive.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(node -p 'require("./package.json").version')
name=$(node -p 'require("./package.json").name')
image=${1:-ghcr.io/weir-dev/weir:$version}
suite=bookworm
packages=(libbpf1 ca-certificates git libstdc++6)
cache=${WEIR_IMAGE_CACHE:-$HOME/.cache/weir-image}

for tool in mmdebstrap buildah node npm; do
  command -v "$tool" >/dev/null || { echo "build-image: $tool is missing (scripts/setup.sh installs it)" >&2; exit 2; }
done
node_bin=$(command -v node)
node_bin=$(readlink -f "$node_bin")
node_major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || { echo "build-image: the build host's Node.js is $("$node_bin" --version); weir needs 20 or later" >&2; exit 2; }

work=$(mktemp -d /tmp/weir-image.XXXXXX)
ctr=''
cleanup() {
  if [ -n "$ctr" ]; then buildah umount "$ctr" >/dev/null 2>&1 || true; buildah rm "$ctr" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# 1. The Debian root file system, cached by suite, package list and architecture.
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
key=$(printf '%s %s %s' "$suite" "${packages[*]}" "$(dpkg --print-architecture)" | sha256sum | cut -c1-16)
rootfs_tar="$cache/rootfs-$suite-$key.tar"
if [ ! -s "$rootfs_tar" ]; then
  mkdir -p "$cache"
  echo "build-image: making the $suite root file system (${packages[*]}) from $mirror" >&2
  # essential: dpkg and the Essential packages only (no apt); documentation, manuals and locales left out.
  mmdebstrap --variant=essential --include="$(IFS=,; echo "${packages[*]}")" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='rm -rf "$1"/var/cache/* "$1"/var/lib/apt/lists/* "$1"/var/log/*' \
    --format=tar "$suite" "$rootfs_tar.part" "$mirror" >&2
  mv "$rootfs_tar.part" "$rootfs_tar"
fi

# 2. weir: build and pack this checkout; the package under /opt/weir as npm would install it, with
#    its runtime dependencies at the versions of the lockfile (as the Containerfile does).
if [ ! -f dist/cli/main.js ] || [ -n "$(find cli compiler controller bpf -name '*.ts' -newer dist/cli/main.js -print -quit)" ]; then
  npm run --silent build >&2
fi
tarball=$(npm pack --ignore-scripts --silent --pack-destination "$work")
mkdir -p "$work/opt/weir"
tar -xzf "$work/$tarball" -C "$work/opt/weir" --strip-components=1
cp package-lock.json "$work/opt/weir/"
(cd "$work/opt/weir" && npm ci --omit=dev --no-audit --no-fund --prefer-offline --loglevel=error >&2)

# 3. The image: the root file system, Node.js, weir, a user of its own, and the entry point.
ctr=$(buildah from scratch)
mnt=$(buildah mount "$ctr")
tar -C "$mnt" -xf "$rootfs_tar"
install -D -m 0755 "$node_bin" "$mnt/usr/local/bin/node"
cp -a "$work/opt/weir" "$mnt/opt/weir"
ln -s /opt/weir/bin/weir.js "$mnt/usr/local/bin/weir"
grep -q '^weir:' "$mnt/etc/group" || echo 'weir:x:65532:' >> "$mnt/etc/group"
grep -q '^weir:' "$mnt/etc/passwd" || echo 'weir:x:65532:65532:weir:/nonexistent:/usr/sbin/nologin' >> "$mnt/etc/passwd"
mkdir -p "$mnt/work"
buildah umount "$ctr" >/dev/null
buildah config \
  --entrypoint '["weir"]' --cmd '--help' \
  --user 65532:65532 --workingdir /work \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_ENV=production \
  --label org.opencontainers.image.title=weir \
  --label "org.opencontainers.image.description=Policy-as-code compiler and GitOps controller for eBPF enforcement" \
  --label org.opencontainers.image.source=https://github.com/weir-dev/weir \
  --label org.opencontainers.image.licenses=Apache-2.0 \
  --label "org.opencontainers.image.version=$version" \
  --label "dev.weir.package=$name@$version" \
  "$ctr"
buildah commit --quiet --format oci --rm "$ctr" "$image" >/dev/null
ctr=''
if [ -n "${WEIR_IMAGE_OCI_ARCHIVE:-}" ]; then buildah push --quiet "$image" "oci-archive:$WEIR_IMAGE_OCI_ARCHIVE:$image" >&2; fi
size=$(buildah inspect --type image --format '{{.OCIv1.Config.Labels}}' "$image" >/dev/null && podman image inspect --format '{{.Size}}' "$image" 2>/dev/null || echo '?')
echo "build-image: $image ($size bytes)" >&2
echo "$image"
