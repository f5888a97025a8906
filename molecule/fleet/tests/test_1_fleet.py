"""fleet scenario, after converge (migrate, evacuate, put back, rolling upgrade): the state of the fleet on real Xen.

Every probe guest runs exactly once, on a Xen host that is not drained; its disk is intact: the marker it wrote to its
shared volume before any operation (fleet_lab_dir/markers.json) is still there, the golden file of the volume it was
cloned from too, and its heartbeat (a line per second, synced to the disk) went on. The autostart entries followed
the guests. Both hosts run the new Xen command line and recorded the rollout. Finally one guest is shut down, its
volume checked with e2fsck on the storage node, and it boots again from the same disk.

Run by molecule's verifier, or on any lab with MOLECULE_INVENTORY_FILE pointing at an inventory of the same shape
(xen_hosts: xen1, xen2; storage_nodes: store; xen_guests: fleet-d).
"""
import json
import time

import pytest

from fleet_lab import GUESTS, ROLE_GUESTS, VARS, host, http, ip, read_markers, read_role_markers, role_guest_run, where_now, xen_hosts

testinfra_hosts = ["ansible://xen_hosts"]


@pytest.fixture(scope="module")
def placement():
    return where_now()


@pytest.fixture(scope="module")
def markers():
    return read_markers()


def test_every_guest_runs_exactly_once(placement):
    for name in GUESTS:
        assert len(placement.get(name, [])) == 1, f"{name} is on {placement.get(name)}"
    leftovers = [n for n in placement if n.endswith(("--incoming", "--migratedaway"))]
    assert not leftovers, f"remnants of migrations: {leftovers}"


def test_guests_role_guests_run_exactly_once_with_their_disk_intact(placement):
    """fleet-d (the guests role's, on a shared volume) was moved by every operation: one domain, its marker intact."""
    markers = read_role_markers()
    for name in ROLE_GUESTS:
        assert len(placement.get(name, [])) == 1, f"{name} is on {placement.get(name)}"
        assert role_guest_run(name, "cat", VARS["fleet_lab_role_marker"]).strip() == markers[name]
        # its disk is the shared volume on whichever Domain-0 runs it now
        disks = host(placement[name][0]).check_output(f"xl block-list {name}")
        assert "xvda" in disks or "51712" in disks, disks
        # xen_domain writes the disk list over several lines: the whole config file
        config = host(placement[name][0]).file(f"/etc/xen/{name}.cfg").content_string
        assert "/dev/disk/by-path/ip-" in config and f":{name}-lun-1" in config, config


def test_no_host_is_left_drained():
    for name, h in xen_hosts().items():
        assert not h.file("/etc/ansible/facts.d/xenfleet_drain.fact").exists, f"{name} is still drained"


def test_disks_are_intact(placement, markers):
    for name in GUESTS:
        h = host(placement[name][0])
        assert http(h, ip(name), "marker").strip() == markers[name], f"{name}'s marker changed"
        assert "golden image" in http(h, ip(name), "golden"), f"{name} lost the golden file of its origin volume"


def test_heartbeat_goes_on(placement):
    for name in GUESTS:
        h = host(placement[name][0])
        first = http(h, ip(name), "heartbeat").splitlines()
        time.sleep(4)
        second = http(h, ip(name), "heartbeat").splitlines()
        assert len(second) > len(first), f"{name} stopped writing to its disk"
        # one line per second since the first boot, through every migration
        stamps = [int(line.split()[0]) for line in second if line.split()[0].isdigit()]
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        assert max(gaps) < 120, f"{name}'s heartbeat stopped for {max(gaps)} s"


def test_autostart_entries_followed_their_guests(placement):
    for name, g in GUESTS.items():
        entries = {n: h.run(f"ls /etc/xen/auto/ 2>/dev/null | grep -x -e {name} -e {name}.cfg").stdout.split()
                   for n, h in xen_hosts().items()}
        holders = [n for n, e in entries.items() if e]
        if g["autostart"]:
            assert holders == placement[name], f"{name} runs on {placement[name]}, autostart entries on {holders}"
        else:
            assert holders == [], f"{name} has autostart entries on {holders}"


def test_rollout_recorded_and_applied():
    ids = set()
    for name, h in xen_hosts().items():
        record = json.loads(h.file("/etc/ansible/facts.d/xenfleet_rollout.fact").content_string)
        ids.add(record["id"])
        assert "loglvl=all" in h.check_output("xl info | sed -n 's/^xen_commandline *: //p'").split()
    assert len(ids) == 1


def test_shared_sessions_on_every_dom0():
    for name, h in xen_hosts().items():
        sessions = h.check_output("iscsiadm -m session")
        for guest in GUESTS:
            assert f":{guest} " in sessions, f"{name} has no session for {guest}"


def test_a_guest_boots_again_from_its_disk_which_fsck_finds_clean(placement, markers):
    """Shut fleet-b down, e2fsck its volume on the storage node, start it again: same marker, one more boot."""
    name = "fleet-b"
    home = host(placement[name][0])
    boots = http(home, ip(name), "boots").splitlines()
    home.check_output(f"xl shutdown -w {name}")
    # -w returns once the guest has shut down; xl's daemon destroys the domain (on_poweroff) a moment later
    for dummy in range(30):
        if home.run(f"xl domid {name}").rc != 0:
            break
        time.sleep(2)
    assert home.run(f"xl domid {name}").rc != 0, f"{name} shut down but its domain is still there"
    store = host("store")
    # the storage node's own page cache of the volume may predate the guest's writes (tgt writes around it)
    store.check_output(f"blockdev --flushbufs /dev/xfshared/{name}")
    fsck = store.run(f"e2fsck -fn /dev/xfshared/{name}")
    assert fsck.rc == 0, f"e2fsck of {name}'s volume: rc {fsck.rc}\n{fsck.stdout}{fsck.stderr}"
    home.check_output(f"xl create /etc/xen/{name}.cfg")
    for dummy in range(60):
        if home.run(f"ping -c1 -W1 {ip(name)}").rc == 0:
            break
        time.sleep(2)
    for dummy in range(30):
        try:
            again = http(home, ip(name), "boots").splitlines()
            break
        except AssertionError:
            time.sleep(2)
    assert http(home, ip(name), "marker").strip() == markers[name]
    assert len(again) == len(boots) + 1
