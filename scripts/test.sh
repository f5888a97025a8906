#!/usr/bin/env bash
# The tests: unit, sanity, lint, and molecule scenarios on the lab (real Xen under QEMU/TCG).
#   scripts/test.sh                 everything (what CI runs)
#   scripts/test.sh unit lint       only some stages: unit sanity lint molecule
#   XENFLEET_SCENARIOS="lab-smoke xen_domain" scripts/test.sh molecule
# The default scenario is dom0: bare Debian 12 + 13 lab hosts -> Xen hosts through site.yml, idempotence,
# testinfra on real Xen (the full end-to-end run). It is the longest part (about 30 min alone on 2 cores).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
say() { printf '\n[test %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

./scripts/setup.sh || exit 1
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(unit sanity lint molecule)
scenarios=${XENFLEET_SCENARIOS:-dom0}

passed=0 failed=0 results=()
run_stage() {  # run_stage NAME COMMAND...
  local name=$1; shift
  local start=$SECONDS
  say "stage $name: $*"
  if "$@"; then passed=$((passed + 1)); results+=("ok    $name ($((SECONDS - start)) s)")
  else failed=$((failed + 1)); results+=("FAIL  $name ($((SECONDS - start)) s)"); fi
}

unit() {
  PYTHONPATH="$PWD/collections:$PWD/lab" pytest -q -p no:cacheprovider lab/tests tests/unit
}
lint() {
  ansible-lint --profile production --offline
}
molecule_scenario() {
  # show the lab's boot progress live while molecule creates hosts
  mkdir -p .lab; : >> ".lab/molecule-$1.log"
  tail -n0 -F ".lab/molecule-$1.log" 2>/dev/null & local tailpid=$!
  molecule test -s "$1"; local rc=$?
  kill "$tailpid" 2>/dev/null; wait "$tailpid" 2>/dev/null
  return $rc
}

for stage in "${stages[@]}"; do
  case $stage in
    unit) run_stage unit unit ;;
    sanity) run_stage sanity tests/run-ansible-test.sh sanity ;;
    lint) run_stage lint lint ;;
    molecule) for s in $scenarios; do run_stage "molecule:$s" molecule_scenario "$s"; done ;;
    *) echo "test: unknown stage $stage (unit sanity lint molecule)" >&2; exit 2 ;;
  esac
done

say "summary"
printf '  %s\n' "${results[@]}"
echo "stages: $passed passed, $failed failed"
[ "$failed" = 0 ]
