"""lab-smoke: both hosts reachable, the expected distribution and kernel, and the private network."""
import json

import pytest

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


@pytest.mark.parametrize("peer", ["smoke1", "smoke2"])
def test_private_network_reaches_peer(host, peer):
    facts = lab_facts(host)
    address = {"smoke1": "192.168.250.11", "smoke2": "192.168.250.12"}[peer]
    iface = host.interface(facts["private_interface"])
    assert iface.exists
    assert host.run(f"ping -c 2 -W 3 {address}").rc == 0


def test_data_disk_for_guests(host):
    assert host.block_device("/dev/vdb").size >= 8 * 1024**3
