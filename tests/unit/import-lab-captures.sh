#!/usr/bin/env bash
# Copy the xl output captured on the lab's Xen hosts into the unit-test fixtures.
#
# The captures are made on a real lab dom0 by lab/tinyguest/capture-xl.sh, which writes NAME.out,
# NAME.err and NAME.rc for each command and a README naming the host, the Debian release, the Xen
# version, the time and the command behind each NAME.  They land in .lab/captures/<codename>/.
#
# Usage: tests/unit/import-lab-captures.sh [CAPTURE_DIR...]   (default: .lab/captures/*)
# Each directory goes to tests/unit/plugins/module_utils/fixtures/xen-<major>.<minor>/ (the version
# is read from the README), replacing what was there, with a SOURCE.md that quotes the README.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FIXTURES=$ROOT/tests/unit/plugins/module_utils/fixtures

if [ $# -eq 0 ]; then
    set -- "$ROOT"/.lab/captures/*/
fi

for dir in "$@"; do
    dir=${dir%/}
    [ -f "$dir/README" ] || { echo "skip $dir: no README" >&2; continue; }
    version=$(sed -n '1s/.*, \([0-9][0-9]*\.[0-9][0-9]*\)\.[0-9][^,]*, .*/\1/p' "$dir/README")
    [ -n "$version" ] || { echo "error: no Xen version in the first line of $dir/README" >&2; exit 1; }
    dest=$FIXTURES/xen-$version
    rm -rf "$dest"
    mkdir -p "$dest"
    # Every capture of the README except the interactive console, which says nothing about xl.
    for rc in "$dir"/*.rc; do
        name=$(basename "$rc" .rc)
        [ "$name" = xl_console ] && continue
        cp "$dir/$name.rc" "$dir/$name.out" "$dir/$name.err" "$dest/"
    done
    {
        echo "# Where these fixtures come from"
        echo
        echo "Real output of \`xl\`, captured on a lab Xen host (a Debian VM under QEMU/TCG booted into Xen"
        echo "through its own GRUB, see lab/ and /work/shared/LAB-NOTES.md) by \`lab/tinyguest/capture-xl.sh\`,"
        echo "then copied unchanged from \`.lab/captures/$(basename "$dir")/\` by \`tests/unit/import-lab-captures.sh\`"
        echo "on $(date -u +%F)."
        echo
        echo "For each NAME: \`NAME.out\` is stdout, \`NAME.err\` stderr and \`NAME.rc\` the exit code of the command"
        echo "listed for NAME below.  The capture script's README, verbatim:"
        echo
        echo '```'
        cat "$dir/README"
        echo '```'
    } > "$dest/SOURCE.md"
    echo "imported $(find "$dest" -name '*.rc' | wc -l) captures from $dir into $dest"
done
