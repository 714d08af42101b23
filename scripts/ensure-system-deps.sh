#!/usr/bin/env bash
# Makes sure the Debian packages that Rivulet's tests run for real are installed:
#   nginx          the reverse proxy in front of the app (test/nginx.e2e-spec.ts)
#   redis-server   the Redis Streams event-log adapter's tests
#   chromium       browser tests of the demo pages
#   docker-compose validates docker-compose.yml offline (`docker-compose config -q`)
#
# Idempotent: when every command is already there it exits 0 at once, without touching apt.
# As root on Debian it installs what is missing; anywhere else it exits 1 naming the packages.
# Services are NOT started by the installation: the tests start their own nginx and Redis on
# free loopback ports, and a system nginx grabbing port 80 (or failing to) helps nobody.
set -euo pipefail

# command -> Debian package that provides it
declare -A PACKAGE_OF=(
  [nginx]=nginx
  [redis-server]=redis-server
  [chromium]=chromium
  [docker-compose]=docker-compose
)

# nginx and redis-server live in /usr/sbin, which is not on a normal user's PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

missing=()
for cmd in nginx redis-server chromium docker-compose; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${PACKAGE_OF[$cmd]}")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "ensure-system-deps: nginx, redis-server, chromium and docker-compose are installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-system-deps: missing packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
  echo "(or your system's equivalent), then run this script again." >&2
  exit 1
fi

echo "ensure-system-deps: installing ${missing[*]}"

# Keep dpkg from starting the packaged services (policy-rc.d exit code 101 = "action forbidden").
# Only when no policy is in place already; ours is removed again on exit.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

for cmd in nginx redis-server chromium docker-compose; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "ensure-system-deps: $cmd still missing" >&2; exit 1; }
done
echo "ensure-system-deps: done"
