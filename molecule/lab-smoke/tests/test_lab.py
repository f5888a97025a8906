"""lab-smoke: both hosts reachable, the expected distribution and kernel, and the private network."""
import json
import os

import testinfra

testinfra_hosts = ["ansible://xen_hosts"]


def lab_facts(host):
    return json.loads(host.file("/etc/ansible/facts.d/xenlab.fact").content_string)


def test_debian_12_with_its_own_kernel(host):
    assert host.system_info.distribution == "debian"
    assert host.system_info.release.split(".")[0] == "12"
    kernel = host.check_output("uname -r")
    assert kernel.endswith("-amd64")
    # booted the distribution's own kernel through the host's own GRUB (not a QEMU -kernel)
    assert host.file(f"/boot/vmlinuz-{kernel}").exists
    assert "BOOT_IMAGE=" in host.file("/proc/cmdline").content_string
    assert host.file("/boot/grub/grub.cfg").exists


def test_bare_host_has_no_xen(host):
    assert not host.file("/proc/xen/capabilities").exists
    assert not host.package("xen-system-amd64").is_installed


def test_converge_ran(host):
    assert host.file("/etc/xenfleet-smoke").contains("Debian 12")


def test_own_identity(host):
    assert host.check_output("hostname") == host.backend.get_hostname()
    assert len(host.file("/etc/machine-id").content_string.strip()) == 32


def test_private_network_reaches_the_peer(host):
    facts = lab_facts(host)
    iface = host.interface(facts["private_interface"])
    assert facts["private_address"] in iface.addresses
    peers = {"192.168.250.11", "192.168.250.12"} - {facts["private_address"]}
    assert len(peers) == 1
    for peer in peers:
        assert host.run(f"ping -c 2 -W 3 {peer}").rc == 0
        # the peer is reached directly on the private NIC, not through the management network
        assert f"dev {facts['private_interface']}" in host.check_output(f"ip route get {peer}")


def test_hosts_have_distinct_identities():
    """Each host made its own machine-id and SSH host keys at first boot (the image ships none)."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    hosts = [testinfra.get_host(f"ansible://{n}?ansible_inventory={inventory}") for n in ("smoke1", "smoke2")]
    ids = [h.file("/etc/machine-id").content_string.strip() for h in hosts]
    keys = [h.file("/etc/ssh/ssh_host_ed25519_key.pub").content_string.split()[1] for h in hosts]
    assert all(len(i) == 32 for i in ids)
    assert ids[0] != ids[1]
    assert keys[0] != keys[1]
    for h, mine in zip(hosts, ids):
        dbus = h.file("/var/lib/dbus/machine-id")
        assert not dbus.exists or dbus.content_string.strip() == mine


def test_data_disk_for_guests(host):
    assert host.block_device("/dev/vdb").size >= 8 * 1024**3
