"""What the fleet scenario's tests share: the lab's guests (vars/guests.yml), the hosts, and how to ask them.

Imported by test_1_fleet.py and test_2_drills.py (pytest puts this directory on sys.path). Needs
MOLECULE_INVENTORY_FILE (molecule sets it).
"""
import json
import os
import subprocess
from pathlib import Path

import testinfra
import yaml

HERE = Path(__file__).resolve().parents[1]
VARS = yaml.safe_load((HERE / "vars" / "guests.yml").read_text())
GUESTS = {g["name"]: g for g in VARS["fleet_lab_guests"]}
#: The guests of the guests role on shared volumes (molecule/fleet/inventory/guests.yml)
ROLE_GUESTS = VARS["fleet_lab_role_guests"]
DIR = Path(VARS["fleet_lab_dir"])
REPO = HERE.parents[1]
LAB = os.environ.get("FLEET_LAB") or "molecule-" + os.environ.get("MOLECULE_SCENARIO_NAME", "fleet")
INVENTORY_FILE = os.environ["MOLECULE_INVENTORY_FILE"]
INVENTORY = str(Path(INVENTORY_FILE).parent)
XEN_HOSTS = ("xen1", "xen2")


def host(name):
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=INVENTORY)


def xen_hosts():
    return {n: host(n) for n in XEN_HOSTS}


def where_now(names=XEN_HOSTS):
    """Guest -> the hosts whose `xl list` has it (running or not)."""
    where = {}
    for name in names:
        for line in host(name).check_output("xl list").splitlines()[1:]:
            where.setdefault(line.split()[0], []).append(name)
    return where


def http(h, ip, path):
    """GET http://ip/path from a Domain-0 (the guests' network is only reachable from the lab hosts)."""
    return h.check_output(
        "python3 -c 'import sys, urllib.request; "
        "sys.stdout.write(urllib.request.urlopen(\"http://%s/%s\", timeout=20).read().decode())'" % (ip, path))


def ip(name):
    return f"{VARS['fleet_lab_net']}.{GUESTS[name]['ip_suffix']}"


def read_markers():
    """Guest -> the marker it wrote to its shared volume before any operation (fleet_lab_dir/markers.json)."""
    return json.loads((DIR / "markers.json").read_text())


def read_role_markers():
    """Guest of the guests role -> the marker it had on its shared volume before any operation."""
    return json.loads((DIR / "markers-role.json").read_text())


def role_guest_run(name, *argv):
    """Run a command in a guest of the guests role over SSH, with the ssh config the role wrote (host key pinned)."""
    config = REPO / ".lab" / LAB / "guests" / "ssh_config"
    return subprocess.run(["ssh", "-F", str(config), name, "--", *argv], capture_output=True, text=True, timeout=120,
                          check=True).stdout
