#!/usr/bin/env bash
# Run `ansible-test sanity` and `ansible-test units` on this checkout.
#
# ansible-test needs the collection at a path .../ansible_collections/xenfleet/xen, so the files of
# the checkout (those git tracks or would track: `git ls-files --cached --others --exclude-standard`,
# minus .venv, .lab, collections/, lab/ and tests/output) are copied with rsync into
#   $TMPDIR/xenfleet-ansible-test.XXXXXX/ansible_collections/xenfleet/xen
# and ansible-test runs there with --venv --python 3.11.
#
# Offline: `--venv` bootstraps pip with a get-pip script downloaded from ci-files.testing.ansible.com,
# which is unreachable here.  This script writes a stand-in at ~/.ansible/test/cache/get_pip_<ver>.py
# (the name ansible-test looks for) that runs `python -m ensurepip` and then `pip install` with the
# arguments it was given, with the machine's pip settings (/etc/pip.conf, PIP_* variables) in force.
#
# Usage: tests/run-ansible-test.sh [sanity|units|all] [extra ansible-test arguments...]
#   tests/run-ansible-test.sh                    # sanity, then units
#   tests/run-ansible-test.sh sanity --test pep8
#   tests/run-ansible-test.sh units -v
# Environment: VENV (default: <checkout>/.venv), PYTHON_VERSION (default: 3.11), KEEP=1 keeps the copy.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
PYTHON_VERSION=${PYTHON_VERSION:-3.11}
ANSIBLE_TEST=$VENV/bin/ansible-test
WHAT=${1:-all}
if [ $# -gt 0 ]; then shift; fi

case "$WHAT" in
    sanity|units|all) ;;
    *) echo "usage: $0 [sanity|units|all] [ansible-test arguments...]" >&2; exit 2 ;;
esac
[ -x "$ANSIBLE_TEST" ] || { echo "error: $ANSIBLE_TEST not found (set VENV)" >&2; exit 2; }

log() { printf '[run-ansible-test] %s\n' "$*" >&2; }

# --- the get-pip stand-in -------------------------------------------------------------------------
# The pip version ansible-test bootstraps (get_venv_packages() in ansible_test/_internal/python_requirements.py).
PIP_VERSION=$("$VENV/bin/python" - <<'EOF'
import re, inspect
from ansible_test._internal import python_requirements as r
print(re.search(r"pip='([^']+)'", inspect.getsource(r.get_venv_packages)).group(1))
EOF
)
CACHE=$HOME/.ansible/test/cache
STANDIN=$CACHE/get_pip_${PIP_VERSION//./_}.py
mkdir -p "$CACHE"
cat > "$STANDIN.tmp" <<'EOF'
"""Offline stand-in for get-pip.py, written by xenfleet's tests/run-ansible-test.sh.

ansible-test runs it as `python get_pip_X_Y.py [pip options] pip==X.Y --no-setuptools --no-wheel`.
It bootstraps pip with ensurepip, then runs `pip install` with the same arguments (minus the
get-pip-only flags).  ensurepip is run in a child process and PIP_CONFIG_FILE is restored for the
install, so the machine's pip index settings (/etc/pip.conf, PIP_* variables) apply.
"""
import os
import subprocess
import sys

GET_PIP_ONLY = ('--no-setuptools', '--no-wheel')

env = dict(os.environ)
saved = os.environ.get('PIP_CONFIG_FILE')
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], env=env)
if saved is None:
    env.pop('PIP_CONFIG_FILE', None)
else:
    env['PIP_CONFIG_FILE'] = saved
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install'] + args, env=env))
EOF
mv "$STANDIN.tmp" "$STANDIN"
log "get-pip stand-in for pip $PIP_VERSION: $STANDIN"

# --- the copy -------------------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/xenfleet-ansible-test.XXXXXX")
DEST=$WORK/ansible_collections/xenfleet/xen
trap 'if [ "${KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi' EXIT
mkdir -p "$DEST"

(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard) \
    | grep -z -v -E '^(\.venv|\.lab|collections|lab|tests/output)(/|$)' \
    | rsync -a --from0 --files-from=- "$ROOT/" "$DEST/"
log "copied $(find "$DEST" -type f | wc -l) files to $DEST"

cd "$DEST"
export ANSIBLE_TEST_PREFER_PODMAN=0
status=0
if [ "$WHAT" = sanity ] || [ "$WHAT" = all ]; then
    log "ansible-test sanity --venv --python $PYTHON_VERSION $*"
    "$ANSIBLE_TEST" sanity --venv --python "$PYTHON_VERSION" --color no "$@" || status=$?
fi
if [ "$WHAT" = units ] || [ "$WHAT" = all ]; then
    log "ansible-test units --venv --python $PYTHON_VERSION $*"
    "$ANSIBLE_TEST" units --venv --python "$PYTHON_VERSION" --color no "$@" || status=$?
fi
exit "$status"
