#!/usr/bin/env bash
# Builds (once) the Debian 12 root used by the single-VM e2e tests and prints its path.
# The root is cached under $GREENTIC_TESTBED_CACHE (default /var/cache/greentic-testbed)/<recipe-hash>
# and reused by later runs; concurrent builders serialise on a flock.
set -euo pipefail

# GREENTIC_TESTBED_SUITE=trixie gives podman 5 with Quadlet; bookworm (default) has podman 4.3.
SUITE=${GREENTIC_TESTBED_SUITE:-bookworm}
# The mirror apt already uses on this machine (never a hard-coded host), unless overridden.
apt_mirror() {
  grep -hoE '^(deb|URIs:)[^#]*https?://[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | grep -oE 'https?://[^ ]+' | grep -v security | head -1 || true
}
MIRROR=${GREENTIC_TESTBED_MIRROR:-$(apt_mirror)}
[ -n "$MIRROR" ] || { echo "testbed: no Debian mirror found in the apt configuration; set GREENTIC_TESTBED_MIRROR" >&2; exit 1; }
# systemd as PID 1, squashfs for bundles, podman + runc for container mode (crun fails on
# hybrid cgroup hosts: see notes/testbed.md); HAProxy for traffic splits between revisions;
# OpenSSH server, curl and sudo for driving the VM from outside (a non-root login runs op through sudo).
PACKAGES=systemd,systemd-sysv,dbus,squashfs-tools,podman,runc,conmon,netavark,util-linux,passwd,haproxy,openssh-server,curl,ca-certificates,sudo
RECIPE_VERSION=5
# Opt-in variant with more Debian packages, e.g. GREENTIC_TESTBED_EXTRA=cloud-init,locales for the
# first-boot tests. The default root has no cloud-init on purpose: it would run at every other
# test's boot. The extra packages are part of the cache key.
EXTRA=${GREENTIC_TESTBED_EXTRA:-}
[[ "$EXTRA" =~ ^[a-z0-9.+,-]*$ ]] || { echo "testbed: GREENTIC_TESTBED_EXTRA must be a comma-separated list of Debian package names, got '$EXTRA'" >&2; exit 2; }

CACHE=${GREENTIC_TESTBED_CACHE:-/var/cache/greentic-testbed}
if [ -n "$EXTRA" ]; then
  HASH=$(printf '%s\n' "$SUITE" "$MIRROR" "$PACKAGES" "$RECIPE_VERSION" "extra=$EXTRA" "extra-recipe=2" | sha256sum | cut -c1-16)
else
  HASH=$(printf '%s\n' "$SUITE" "$MIRROR" "$PACKAGES" "$RECIPE_VERSION" | sha256sum | cut -c1-16)
fi
ROOT="$CACHE/$HASH/root"

mkdir -p "$CACHE/$HASH"
exec 9>"$CACHE/$HASH/.lock"
flock 9

if [ ! -f "$CACHE/$HASH/.complete" ]; then
  for tool in debootstrap systemd-nspawn; do
    command -v "$tool" >/dev/null || { echo "testbed: $tool missing (apt-get install -y debootstrap systemd-container)" >&2; exit 1; }
  done
  rm -rf "$ROOT.partial"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOT.partial" "$MIRROR" >"$CACHE/$HASH/debootstrap.log" 2>&1 \
    || { tail -n 30 "$CACHE/$HASH/debootstrap.log" >&2; exit 1; }
  # The extras go through apt in a chroot: debootstrap's resolver does not follow virtual
  # packages (cloud-init's python3-cryptography needs python3-cffi-backend-api-*).
  if [ -n "$EXTRA" ]; then
    mount --bind /proc "$ROOT.partial/proc"
    trap 'umount "$ROOT.partial/proc" 2>/dev/null || true' EXIT
    chroot "$ROOT.partial" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(echo "$EXTRA" | tr , ' ') && apt-get clean" \
      >>"$CACHE/$HASH/debootstrap.log" 2>&1 || { umount "$ROOT.partial/proc"; tail -n 30 "$CACHE/$HASH/debootstrap.log" >&2; exit 1; }
    # As on Debian's cloud images: en_US.UTF-8 generated (cloud-init's locale module sets it).
    if [[ ",$EXTRA," == *,locales,* ]]; then
      sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' "$ROOT.partial/etc/locale.gen"
      chroot "$ROOT.partial" locale-gen >>"$CACHE/$HASH/debootstrap.log" 2>&1
    fi
    umount "$ROOT.partial/proc"
    trap - EXIT
  fi
  # Podman: the default ulimits exceed this kind of host's hard limits; the testbed boots with a
  # cgroup v2 hierarchy that has no controllers, so no pids limit; vfs storage works on any
  # filesystem (overlay-on-overlay does not).
  mkdir -p "$ROOT.partial/etc/containers"
  printf '[containers]\ndefault_ulimits = []\npids_limit = 0\n\n[engine]\nruntime = "runc"\ncgroup_manager = "systemd"\nevents_logger = "file"\n' \
    >"$ROOT.partial/etc/containers/containers.conf"
  printf '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n' \
    >"$ROOT.partial/etc/containers/storage.conf"
  echo testvm >"$ROOT.partial/etc/hostname"
  # Nothing in the testbed needs these; they only slow down boot or fail without hardware.
  # The distribution units of HAProxy and OpenSSH stay masked: the testbed shares the host's
  # network, and tests start their own instances on their own ports.
  for unit in haproxy.service ssh.service ssh.socket systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
    ln -sf /dev/null "$ROOT.partial/etc/systemd/system/$unit"
  done
  rm -rf "$ROOT"
  mv "$ROOT.partial" "$ROOT"
  touch "$CACHE/$HASH/.complete"
fi
echo "$ROOT"
