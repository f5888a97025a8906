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

passed=0 failed=0 results=() digests=()
run_stage() {  # run_stage NAME COMMAND...: the output also goes to .lab/logs/test-NAME.out (for the failure digest)
  local name=$1; shift
  local start=$SECONDS rc
  mkdir -p .lab/logs
  say "stage $name: $*"
  "$@" 2>&1 | tee ".lab/logs/test-${name//:/-}.out"; rc=${PIPESTATUS[0]}
  if [ "$rc" = 0 ]; then passed=$((passed + 1)); results+=("ok    $name ($((SECONDS - start)) s)")
  else failed=$((failed + 1)); results+=("FAIL  $name ($((SECONDS - start)) s)"); digests+=("$name"); fi
}

unit() {
  PYTHONPATH="$PWD/collections:$PWD/lab" pytest -q -p no:cacheprovider lab/tests tests/unit
}
lint() {
  ansible-lint --profile production --offline
}
molecule_scenario() {
  # show the lab's boot progress live while molecule creates hosts; stamp the plays and tasks with their time
  mkdir -p .lab; : >> ".lab/molecule-$1.log"
  tail -n0 -F ".lab/molecule-$1.log" 2>/dev/null & local tailpid=$!
  PYTHONUNBUFFERED=1 molecule test -s "$1" 2>&1 | stamp; local rc=${PIPESTATUS[0]}
  kill "$tailpid" 2>/dev/null; wait "$tailpid" 2>/dev/null
  return "$rc"
}
stamp() {  # the seconds since the stage began in front of each play, task and handler line (where the time goes)
  local start=$SECONDS line
  while IFS= read -r line; do
    case $line in
      "PLAY ["* | "TASK ["* | "RUNNING HANDLER ["*) printf '[%5d s] %s\n' $((SECONDS - start)) "$line" ;;
      *) printf '%s\n' "$line" ;;
    esac
  done
}
failure_digest() {  # failure_digest FILE: the first failed tasks of an Ansible log, short (a CI log shows only its tail)
  # per failed task: the task, the host's line, and the lines of its result that say why (msg, stderr, reason, error)
  awk '/^(\[ *[0-9]+ s\] )?TASK \[/ { task = $0 }
       k > 0 && /^(\[ *[0-9]+ s\] )?(PLAY|TASK|RUNNING HANDLER) \[|^$/ { k = 0 }
       k > 0 && /^ +(msg|stderr|reason|module_stderr|error): / { why = 1; key = $0; sub(/[^ ].*/, "", key) }
       k > 0 && why && (/^ +(msg|stderr|reason|module_stderr|error): / || index($0, key " ") == 1) {
         print "      " substr($0, 1, 160); if (--k == 0) why = 0; next }
       k > 0 { why = 0 }
       n < 2 && /^(fatal|failed): |^ERROR! |UNREACHABLE!/ {
         sub(/ \*+$/, "", task); print "  " task; print "    " substr($0, 1, 300); k = 6; why = 0; n++ }
       END { if (!n) print "  no failed task found in " FILENAME }' "$1"
}
consoles_digest() {  # consoles_digest LAB: the last line each lab host's serial console printed (where a boot stopped)
  local f
  for f in .lab/logs/"$1"/*.console.log; do
    [ -f "$f" ] || continue
    printf '  %s: %s\n' "$(basename "$f" .console.log)" \
      "$(sed 's/\x1b\[[0-9;]*m//g; s/\r//g' "$f" | grep -v '^[[:space:]]*$' | tail -n 1 | cut -c1-160)"
  done
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
# last, so that a CI log's tail shows why: what failed, where (the whole output: .lab/logs/test-STAGE.out)
for name in "${digests[@]}"; do
  out=".lab/logs/test-${name//:/-}.out"
  echo "why $name failed ($out):"
  case $name in
    molecule:*) failure_digest "$out"; echo "  last console lines:"; consoles_digest "molecule-${name#molecule:}" ;;
    *) grep -v '^[[:space:]]*$' "$out" | tail -n 8 | cut -c1-200 | sed 's/^/  /' ;;
  esac
done
[ "$failed" = 0 ]
