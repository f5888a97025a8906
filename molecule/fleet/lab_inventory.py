"""Write an inventory of this scenario's shape for a lab booted by hand with xenlab.

    xenlab --lab fleet up --names xen1,xen2,store --distro bookworm-xen,bookworm-xen,bookworm
    .venv/bin/python molecule/fleet/lab_inventory.py fleet /tmp/fleet-inventory
    ansible-playbook -i /tmp/fleet-inventory/inventory.yml molecule/fleet/converge.yml
    MOLECULE_INVENTORY_FILE=/tmp/fleet-inventory/inventory.yml FLEET_LAB=fleet pytest molecule/fleet/tests

xenlab puts every host in xen_hosts; here hosts whose name starts with "store" go to storage_nodes instead, and the
scenario's guests of group xen_guests (inventory/guests.yml: fleet-d) are added, as molecule adds them. The lab's
group_vars and this scenario's host_vars are linked next to the inventory, as molecule links them.
"""
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def main(lab, out):
    source = yaml.safe_load((REPO / ".lab" / lab / "inventory.yml").read_text())
    hosts = source["xen_hosts"]["hosts"]
    inventory = {
        "xen_hosts": {"hosts": {n: v for n, v in hosts.items() if not n.startswith("store")},
                      "vars": source["xen_hosts"].get("vars", {})},
        "storage_nodes": {"hosts": {n: v for n, v in hosts.items() if n.startswith("store")}},
        "xen_guests": yaml.safe_load((HERE / "inventory" / "guests.yml").read_text())["xen_guests"],
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "inventory.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
    for name, target in (("group_vars", REPO / "inventories" / "lab" / "group_vars"),
                         ("host_vars", HERE / "host_vars")):
        link = out / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
    print(out / "inventory.yml")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
