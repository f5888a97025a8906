#!/usr/bin/env bash
# Set up everything xenfleet and its lab need on a Debian 12 machine, as root. Idempotent and quick when
# nothing changed: apt packages, the Python virtualenv (.venv, pinned by requirements.txt), lab images.
set -euo pipefail
cd "$(dirname "$0")/.." || exit 1
say() { printf '[setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

[ "$(id -u)" = 0 ] || { echo "setup: run as root (the lab uses debootstrap and loop-free image builds as root)" >&2; exit 1; }

# Debian packages: QEMU (TCG) and firmware, image building, SSH, and a busybox for the tiny test guests.
apt_pkgs=(qemu-system-x86 qemu-utils seabios ipxe-qemu debootstrap e2fsprogs fdisk openssh-client rsync
          python3 python3-venv python3-dev gcc git busybox-static cpio gzip ca-certificates shellcheck)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# The virtualenv, rebuilt when requirements.txt or the lab package change.
py=${PYTHON:-python3}
stamp=.venv/.xenfleet-stamp
want=$(cat requirements.txt lab/pyproject.toml | sha256sum | cut -c1-16)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "creating the virtualenv .venv ($($py --version)) from requirements.txt"
  [ -x .venv/bin/python ] || $py -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e lab/
  echo "$want" > "$stamp"
fi

# Lab images (Debian 12 and 13), built in parallel from Debian's archive; cached until their recipe changes.
if [ "${XENFLEET_SKIP_IMAGES:-0}" != 1 ]; then
  pids=()
  for d in ${XENFLEET_IMAGES:-bookworm trixie}; do
    .venv/bin/xenlab image build "$d" > ".venv/image-$d.log" 2>&1 & pids+=($!)
  done
  # progress: the last line of each build log, every 20 s (a cached image answers at once: no line)
  t=0
  while [ -n "$(jobs -rp)" ]; do
    sleep 1; t=$((t + 1))
    if [ $((t % 20)) = 0 ]; then
      for d in ${XENFLEET_IMAGES:-bookworm trixie}; do say "lab image $d (${t} s): $(tail -n1 ".venv/image-$d.log" 2>/dev/null)"; done
    fi
  done
  fail=0
  for pid in "${pids[@]}"; do wait "$pid" || fail=1; done
  [ $fail = 0 ] || { cat .venv/image-*.log >&2; echo "setup: building a lab image failed" >&2; exit 1; }
  for d in ${XENFLEET_IMAGES:-bookworm trixie}; do say "lab image $d: $(tail -n1 ".venv/image-$d.log")"; done
fi
say "ready"
