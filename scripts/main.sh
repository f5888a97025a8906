#!/usr/bin/env bash
# The main job: set up, boot the lab (emulated bare x86 hosts), run site.yml on it, and report what it did.
# The lab stays up afterwards so that you can look around: `.venv/bin/xenlab status`, `.venv/bin/xenlab ssh xen1`;
# stop it with `.venv/bin/xenlab down`. Rerunning this reuses a running lab (site.yml is idempotent).
set -euo pipefail
cd "$(dirname "$0")/.." || exit 1
say() { printf '\n[main %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
t0=$(date +%s)

./scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

hosts=${XENFLEET_LAB_HOSTS:-2}
distros=${XENFLEET_LAB_DISTROS:-bookworm,trixie}
if xenlab status 2>/dev/null | grep -q '^xen1 '; then
  say "the lab is already up: reusing it"
else
  say "booting the lab: $hosts bare hosts ($distros)"
  xenlab up --hosts "$hosts" --distro "$distros"
fi

# XENFLEET_GUESTS=0 leaves the lab's guests (inventories/lab/guests.yml) out: the Xen hosts only.
limit=()
[ "${XENFLEET_GUESTS:-1}" = 0 ] && limit=(--limit 'xen_hosts:localhost')
say "ansible-playbook site.yml (inventory: inventories/lab${limit:+; guests left out (XENFLEET_GUESTS=0)})"
t1=$(date +%s)
ansible-playbook -i inventories/lab site.yml "${limit[@]}" | tee .lab/main-site.log
t2=$(date +%s)

say "what it did"
grep -A20 '^PLAY RECAP' .lab/main-site.log || true
echo "site.yml wall time: $((t2 - t1)) s; whole job: $((t2 - t0)) s"
if [ "${XENFLEET_GUESTS:-1}" != 0 ]; then
  say "where the guests run, as the Domain-0s say (inventory plugin xenfleet.xen.xen_guests)"
  ansible-inventory -i inventories/lab -i inventories/xen_guests.yml --graph \
    || echo "(ansible-inventory with inventories/xen_guests.yml failed: see its message above)"
fi
echo
xenlab status
echo
echo "The lab is still running. Reach a host: .venv/bin/xenlab ssh xen1   Stop it: .venv/bin/xenlab down"
