"""guests scenario: after site.yml, the guests of molecule/guests/inventory/guests.yml run on the two Xen lab hosts.

The guest tests run INSIDE each guest, over SSH through its Domain-0 with the guest's host key pinned (the ssh
config that the role wrote: .lab/molecule-guests/guests/ssh_config; StrictHostKeyChecking=yes). The Domain-0 tests
run on the lab hosts (real Xen under QEMU/TCG).
"""
import json
import re
import sys
from pathlib import Path

import pytest
import testinfra
import yaml

testinfra_hosts = ["ansible://xen_hosts"]

REPO = Path(__file__).resolve().parents[3]
LAB = REPO / ".lab" / "molecule-guests"
SSH_CONFIG = LAB / "guests" / "ssh_config"
GUESTS_FILE = Path(__file__).resolve().parents[1] / "inventory" / "guests.yml"
ALL = yaml.safe_load(GUESTS_FILE.read_text())["xen_guests"]["hosts"]
GUESTS = {name: v for name, v in ALL.items() if v.get("guests_state", "running") == "running"}
RELEASE = {"debian12": "12", "debian13": "13"}
PVGRUB = {"pvh": "/usr/lib/grub-xen/grub-i386-xen_pvh.bin"}

sys.path.insert(0, str(REPO / "collections"))
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_cfg import derive_mac  # noqa: E402


def guest(name):
    return testinfra.get_host(f"ssh://{name}", ssh_config=str(SSH_CONFIG))


def dom0s():
    inventory = str(Path(__import__("os").environ["MOLECULE_INVENTORY_FILE"]).parent)
    return {n: testinfra.get_host(f"ansible://{n}", ansible_inventory=inventory) for n in ("xen1", "xen2")}


@pytest.fixture(scope="module")
def placement():
    """Guest -> the Domain-0 it runs on, read from xl on both Domain-0s."""
    where = {}
    for name, h in dom0s().items():
        for line in h.check_output("xl list").splitlines()[1:]:
            where.setdefault(line.split()[0], []).append(name)
    return where


# ---- placement ----------------------------------------------------------------------------------------------
def test_each_guest_runs_once(placement):
    for name in GUESTS:
        assert len(placement.get(name, [])) == 1, f"{name} runs on {placement.get(name)}"
    assert "guest4" not in placement  # absent in the inventory


def test_pinned_guest_is_where_pinned(placement):
    for name, v in GUESTS.items():
        if v.get("guests_dom0"):
            assert placement[name] == [v["guests_dom0"]]


def test_inventory_plugin_says_where_each_guest_runs(placement):
    """The xen_guests inventory plugin (inventories/xen_guests.yml), asked through the scenario's inventory, agrees
    with xl on both Domain-0s, and the guests keep their static inventory variables."""
    import os
    import subprocess

    inventory = str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)
    argv = [str(Path(sys.executable).parent / "ansible-inventory"), "-i", inventory,
            "-i", str(REPO / "inventories" / "xen_guests.yml"), "--list"]
    proc = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=REPO, timeout=300)
    assert "could not be asked" not in proc.stderr, proc.stderr

    # ansible-inventory marks the strings that came from xl as unsafe: {"__ansible_unsafe": "xen1"}
    data = json.loads(proc.stdout, object_hook=lambda o: o["__ansible_unsafe"] if set(o) == {"__ansible_unsafe"} else o)
    hostvars = data["_meta"]["hostvars"]
    for name in GUESTS:
        assert hostvars[name]["xen_dom0"] == placement[name][0], hostvars[name]
        assert hostvars[name]["xen_type"] == GUESTS[name]["guests_type"]
        assert hostvars[name]["xen_macs"] == [derive_mac(name, 0)]
        assert hostvars[name]["guests_template"] == GUESTS[name]["guests_template"]
        assert name in data["dom0_" + placement[name][0]]["hosts"]
    assert sorted(data["xen_running_guests"]["hosts"]) == sorted(n for n in placement if n != "Domain-0")


def test_guests_are_spread_over_both_dom0s(placement):
    used = {placement[name][0] for name in GUESTS}
    assert used == {"xen1", "xen2"}


# ---- inside each guest -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(GUESTS))
def test_guest_identity(name):
    v = GUESTS[name]
    g = guest(name)
    assert g.check_output("hostname") == name
    assert g.file("/etc/hostname").content_string.strip() == name
    # the host key the guest presents is the one generated and pinned on the control node
    pinned = (LAB / "guests" / name / "ssh_host_ed25519_key.pub").read_text().split()[:2]
    assert g.file("/etc/ssh/ssh_host_ed25519_key.pub").content_string.split()[:2] == pinned
    known = (LAB / "guests" / name / "known_hosts").read_text().split()
    assert known == [name] + pinned
    # root's key is the lab's
    lab_pub = (LAB / "id_ed25519.pub").read_text().split()[:2]
    assert " ".join(lab_pub) in g.file("/root/.ssh/authorized_keys").content_string
    # the distribution of its template
    assert f'VERSION_ID="{RELEASE[v["guests_template"]]}"' in g.file("/etc/os-release").content_string


@pytest.mark.parametrize("name", sorted(GUESTS))
def test_guest_type_and_boot(name):
    v = GUESTS[name]
    g = guest(name)
    assert g.file("/sys/hypervisor/guest_type").content_string.strip() == v["guests_type"].upper()
    cmdline = g.file("/proc/cmdline").content_string
    for arg in ("root=/dev/xvda", "console=hvc0", "net.ifnames=0"):
        assert arg in cmdline.split()
    # grown from the template's 2 GiB file system to the lab's 3 GiB disk
    size_kib = int(g.check_output("df -k --output=size /").splitlines()[-1])
    assert size_kib > 2_800_000


@pytest.mark.parametrize("name", sorted(GUESTS))
def test_guest_network(name):
    v = GUESTS[name]
    g = guest(name)
    addr = json.loads(g.check_output("ip -json address show eth0"))[0]
    assert v["guests_address"] in [f"{a['local']}/{a['prefixlen']}" for a in addr["addr_info"] if a["family"] == "inet"]
    # the MAC xen_domain derived from the name (the same on every run and every host)
    assert addr["address"] == derive_mac(name, 0)


def test_machine_ids_differ():
    ids = {name: guest(name).file("/etc/machine-id").content_string.strip() for name in GUESTS}
    assert all(re.match(r"^[0-9a-f]{32}$", i) for i in ids.values()), ids
    assert len(set(ids.values())) == len(ids)


@pytest.mark.parametrize("name", sorted(GUESTS))
def test_guest_reaches_a_peer_on_the_other_dom0(name, placement):
    mine = placement[name][0]
    peers = [p for p in sorted(GUESTS) if placement[p][0] != mine]
    assert peers, f"no guest on another Domain-0 than {mine}"
    peer_ip = GUESTS[peers[0]]["guests_address"].split("/")[0]
    out = guest(name).run(f"ping -c 3 -W 5 {peer_ip}")
    assert out.rc == 0, out.stdout + out.stderr


def test_guests_were_configured_as_hosts(placement):
    for name in GUESTS:
        motd = guest(name).file("/etc/motd").content_string
        assert f"{name}: a xenfleet guest" in motd and placement[name][0] in motd


# ---- on the Domain-0s -----------------------------------------------------------------------------------------
def template_of(lvs, origin):
    """The template volume a disk comes from: its origin, or its origin's origin when that is a sized base."""
    if "xf_base" in lvs[origin]["lv_tags"].split(","):
        return lvs[origin]["origin"]
    return origin


def test_disks_are_thin_snapshots_of_templates(host):
    rows = json.loads(host.check_output("lvs --reportformat json -o lv_name,origin,lv_tags,pool_lv,lv_size --units m "
                                        "--nosuffix xenvg"))
    lvs = {r["lv_name"]: r for r in rows["report"][0]["lv"]}
    here = [n for n in GUESTS if f"{n}-disk" in lvs]
    assert here, "no guest disk on this Domain-0"
    for name in here:
        disk = lvs[f"{name}-disk"]
        assert disk["pool_lv"] == "thinpool"
        template = template_of(lvs, disk["origin"])
        assert template.startswith(f"xf-tmpl-{GUESTS[name]['guests_template']}-")
        assert "xf_ready" in disk["lv_tags"].split(",")
        assert "xf_template" in lvs[disk["origin"]]["lv_tags"].split(",")
        assert "xf_template" in lvs[template]["lv_tags"].split(",")
        if disk["origin"] != template:
            # a sized base: the template grown to the disk's size, once per size
            assert disk["origin"] == f"{template}-{int(float(disk['lv_size']))}m"
            assert float(lvs[disk["origin"]]["lv_size"]) == float(disk["lv_size"])
    # one template volume per template, however many guests use it (sized bases apart)
    templates = [n for n, r in lvs.items() if r["lv_tags"].split(",") == ["xf_template"]]
    assert len(templates) == len({t.rsplit("-", 1)[0] for t in templates})


def test_domain_configs(host):
    running = host.check_output("xl list").splitlines()[1:]
    for line in running:
        name = line.split()[0]
        if name not in GUESTS:
            continue
        cfg = host.file(f"/etc/xen/{name}.cfg").content_string
        if GUESTS[name]["guests_type"] == "pvh":
            # guests_boot auto: PVH through pvgrub, the guest's own kernel
            assert f'kernel = "{PVGRUB["pvh"]}"' in cfg
        else:
            # PV: a direct kernel, the one of the template volume the disk was cloned from (pvgrub's PV loader
            # cannot unpack Debian's LZ4/zstd kernels)
            rows = json.loads(host.check_output("lvs --reportformat json -o lv_name,origin,lv_tags xenvg"))
            lvs = {r["lv_name"]: r for r in rows["report"][0]["lv"]}
            origin = template_of(lvs, lvs[f"{name}-disk"]["origin"])
            assert f'kernel = "/var/lib/xenfleet/templates/{origin}/vmlinuz"' in cfg
            assert f'ramdisk = "/var/lib/xenfleet/templates/{origin}/initrd.img"' in cfg
        assert derive_mac(name, 0) in cfg
        assert host.file(f"/etc/xen/auto/{name}").is_symlink
        if GUESTS[name]["guests_type"] == "pvh":
            assert 'tsc_mode = "native"' in cfg
