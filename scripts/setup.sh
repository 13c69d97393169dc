#!/usr/bin/env bash
# Prepares a fresh Debian/Ubuntu machine for this repository: Node 22 (from the npm registry
# when the machine's node is older), pnpm, the Debian tools the tests drive for real
# (squashfs-tools, systemd-container, debootstrap, podman, runc, openssl, cloud-init, HAProxy and
# wrk for the proxy benchmarks, PostgreSQL for the shared store's tests), then
# `pnpm install`. Idempotent and non-interactive; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(node_major)" -lt 22 ]; then
  log "node $(node --version 2>/dev/null || echo missing) is older than 22: installing node@22 from the npm registry"
  $SUDO npm install -g --prefix /opt/node22 node@22 >/dev/null 2>&1 || $SUDO npm install -g --prefix /opt/node22 node@22
  $SUDO ln -sf /opt/node22/bin/node /usr/local/bin/node
  hash -r
fi
log "node $(node --version)"

if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version | cut -d. -f1)" -lt 10 ]; then
  log "installing pnpm"
  $SUDO npm install -g --prefix /opt/node22 pnpm@12 >/dev/null 2>&1 || $SUDO npm install -g --prefix /opt/node22 pnpm@12
  $SUDO ln -sf /opt/node22/bin/pnpm /usr/local/bin/pnpm
  hash -r
fi
log "pnpm $(pnpm --version)"

# The JavaScript dependencies install while apt works (they need neither the other): on a new
# machine both are mostly downloads.
pnpm_log=$(mktemp)
(CI=true pnpm install --frozen-lockfile >"$pnpm_log" 2>&1) &
pnpm_pid=$!
trap 'kill "$pnpm_pid" 2>/dev/null || true' EXIT

APT_PACKAGES="squashfs-tools systemd-container debootstrap podman runc busybox-static openssl cloud-init iproute2 curl util-linux haproxy wrk postgresql zsh"
missing=""
for p in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  # The PostgreSQL tests start private clusters of their own (initdb in a temporary directory):
  # the package must not create and start a system-wide one.
  if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    $SUDO mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/greentic-tests.conf >/dev/null
  fi
  log "installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# Rootful podman on these machines: the default ulimits exceed the hard limits (testbed notes).
if [ ! -s /etc/containers/containers.conf ] || ! grep -q default_ulimits /etc/containers/containers.conf; then
  $SUDO mkdir -p /etc/containers
  printf '[containers]\ndefault_ulimits = []\n' | $SUDO tee /etc/containers/containers.conf >/dev/null
fi

log "pnpm install"
if ! wait "$pnpm_pid"; then
  cat "$pnpm_log" >&2
  rm -f "$pnpm_log"
  log "pnpm install failed"
  exit 1
fi
rm -f "$pnpm_log"
log "ready"
