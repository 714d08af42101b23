#!/bin/sh
# Installs Debian's Chromium for the browser tests (test/browser.e2e-spec.ts drive /usr/bin/chromium
# with playwright-core). Idempotent; needs root (CI image) and the Debian package mirror.
set -eu
if [ -x /usr/bin/chromium ]; then
  echo "chromium present: $(/usr/bin/chromium --version 2>/dev/null || echo unknown version)"
  exit 0
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-dejavu-core
/usr/bin/chromium --version
