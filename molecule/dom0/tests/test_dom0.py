"""dom0 scenario: after site.yml, each bare lab host runs Xen as a real hypervisor, with a Domain-0 that
can run guests and that trusts its peer for migrations, and for nothing else.

Everything here runs on the lab hosts (real Xen under QEMU/TCG). The values checked are the lab's
(inventories/lab/group_vars/xen_hosts): dom0_mem=1024M,max:1024M, console=com1, spec-ctrl=eager-fpu, the private NIC as the
port of xenbr0, the data disk as volume group xenvg with a thin pool.
"""
import json
import shlex
import subprocess
import time
from pathlib import Path

import pytest
import testinfra

testinfra_hosts = ["ansible://xen_hosts"]

REPO = Path(__file__).resolve().parents[3]
RELEASES = {"12": "4.17", "13": "4.20"}  # Debian major version -> Xen major.minor (roles/hypervisor/vars)
XEN_ARGS = ["dom0_mem=1024M,max:1024M", "dom0_max_vcpus=1", "sched=credit2", "console=com1", "com1=115200,8n1",
            "spec-ctrl=eager-fpu"]
SERVICES = ["xen", "xendomains", "xen-watchdog"]  # what Debian 12 and 13 ship, plus the role's watchdog unit
TINY_INITRD = "/root/xenfleet-tiny.cpio.gz"


def lab_facts(host):
    return json.loads(host.file("/etc/ansible/facts.d/xenlab.fact").content_string)


def xl_info(host):
    out = host.check_output("xl info")
    info = {}
    for line in out.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def peer_of(host):
    """The other lab host, as a testinfra host on the same inventory."""
    name = host.backend.get_hostname()
    inventory = host.backend.ansible_inventory
    for candidate in host.backend.get_hosts("xen_hosts", ansible_inventory=inventory):
        if candidate != name:
            return testinfra.get_host(f"ansible://{candidate}", ansible_inventory=inventory)
    pytest.fail("the scenario needs two hosts in xen_hosts")


@pytest.fixture(scope="module")
def tiny_initrd(tmp_path_factory):
    """The tiny busybox guest, built on the control node (never inside a TCG dom0)."""
    out = tmp_path_factory.mktemp("tiny") / "tiny.cpio.gz"
    subprocess.run([str(REPO / "lab" / "tinyguest" / "build.sh"), str(out)], check=True)
    return out


# ---- Xen ----------------------------------------------------------------------------------------------
def test_xen_runs_as_domain0(host):
    assert host.file("/sys/hypervisor/type").content_string.strip() == "xen"
    assert "control_d" in host.file("/proc/xen/capabilities").content_string
    info = xl_info(host)
    release = host.system_info.release.split(".")[0]
    assert f"{info['xen_major']}.{info['xen_minor']}" == RELEASES[release]


def test_xen_command_line_is_the_configured_one(host):
    cmdline = xl_info(host)["xen_commandline"].split()
    for arg in XEN_ARGS:
        assert arg in cmdline
    # Debian's way: the command line comes from /etc/default/grub.d/xen.cfg through update-grub
    cfg = host.file("/etc/default/grub.d/xen.cfg").content_string
    assert f'GRUB_CMDLINE_XEN_DEFAULT="{" ".join(XEN_ARGS)}"' in cfg
    assert "XEN_OVERRIDE_GRUB_DEFAULT=1" in cfg
    assert "with Xen hypervisor" in host.file("/boot/grub/grub.cfg").content_string


def test_dom0_has_its_fixed_memory(host):
    dom0 = host.check_output("xl list 0").splitlines()[1].split()
    assert dom0[0] == "Domain-0"
    assert 1000 <= int(dom0[2]) <= 1024  # Mem column, MiB
    # the kernel sees dom0's share only, not the host's 2 GiB
    assert int(host.check_output("awk '/^MemTotal/ {print $2}' /proc/meminfo")) <= 1024 * 1024
    assert 'autoballoon="off"' in host.file("/etc/xen/xl.conf").content_string


def test_dom0_console_goes_through_xen(host):
    assert "console=hvc0" in host.file("/proc/cmdline").content_string


# ---- services -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SERVICES)
def test_service_active_and_enabled(host, name):
    assert host.run(f"systemctl is-active {name}").stdout.strip() == "active"
    assert host.run(f"systemctl is-enabled {name}").rc == 0


@pytest.mark.parametrize("daemon", ["xenstored", "xenconsoled", "xenwatchdogd"])
def test_daemon_runs(host, daemon):
    assert host.run(f"pgrep -x {daemon} || pgrep -x o{daemon}").rc == 0


def test_xendomains_policy(host):
    cfg = host.file("/etc/default/xendomains").content_string
    assert "XENDOMAINS_SAVE=/var/lib/xen/save" in cfg
    assert "XENDOMAINS_RESTORE=true" in cfg
    assert "XENDOMAINS_STOP_MAXWAIT=300" in cfg
    assert host.file("/var/lib/xen/save").is_directory


# ---- network ------------------------------------------------------------------------------------------
def test_bridge_is_up_with_the_private_address(host):
    facts = lab_facts(host)
    links = {link["ifname"]: link for link in json.loads(host.check_output("ip -json address show"))}
    bridge = links["xenbr0"]
    assert "UP" in bridge["flags"]
    addresses = [(a["local"], a["prefixlen"]) for a in bridge["addr_info"] if a["family"] == "inet"]
    assert (facts["private_address"], facts["private_prefix"]) in addresses
    port = links[facts["private_interface"]]
    assert port.get("master") == "xenbr0"
    assert not [a for a in port.get("addr_info", []) if a["family"] == "inet"]
    # the management address is untouched
    assert any(a["local"] == "10.0.2.15" for link in links.values() for a in link.get("addr_info", []))


def test_bridge_reaches_the_peer(host):
    peer_address = lab_facts(peer_of(host))["private_address"]
    assert host.run(f"ping -c 2 -W 3 {peer_address}").rc == 0


def test_bridge_survives_in_ifupdown(host):
    facts = lab_facts(host)
    stanza = host.file("/etc/network/interfaces.d/xenfleet-xenbr0").content_string
    assert "auto xenbr0" in stanza
    assert f"bridge_ports {facts['private_interface']}" in stanza
    assert f"address {facts['private_address']}/{facts['private_prefix']}" in stanza
    old = host.file("/etc/network/interfaces.d/xenlab").content_string
    assert f"#xenfleet-dom0# iface {facts['private_interface']} inet static" in old


# ---- storage ------------------------------------------------------------------------------------------
def test_volume_group_with_thin_pool(host):
    facts = lab_facts(host)
    vgs = host.check_output("vgs --noheadings -o vg_name,pv_count xenvg").split()
    assert vgs == ["xenvg", "1"]
    assert host.check_output("pvs --noheadings -o vg_name %s", facts["data_disk"]).strip() == "xenvg"
    attr = host.check_output("lvs --noheadings -o lv_attr xenvg/thinpool").strip()
    assert attr.startswith("t")  # a thin pool
    assert host.file("/var/lib/xen/images").is_directory


# ---- a guest ------------------------------------------------------------------------------------------
def test_tiny_pv_guest_runs_on_the_bridge(host, tiny_initrd):
    """xl create / xl destroy of a diskless busybox guest with dom0's own kernel, its vif on xenbr0."""
    name = f"xftiny-{host.backend.get_hostname()}"
    result = host.ansible("copy", f"src={tiny_initrd} dest={TINY_INITRD} mode=0644", check=False)
    assert not result.get("failed"), result
    kernel = f"/boot/vmlinuz-{host.check_output('uname -r')}"
    config = "\n".join([
        f'name = "{name}"',
        'type = "pv"',
        f'kernel = "{kernel}"',
        f'ramdisk = "{TINY_INITRD}"',
        f'extra = "console=hvc0 xenfleet_name={name}"',
        "memory = 128",
        "vcpus = 1",
        'vif = [ "bridge=xenbr0" ]',
        'on_crash = "destroy"',
        "",
    ])
    cfg = f"/root/{name}.cfg"
    host.run("xl destroy %s", name)  # a leftover of an interrupted run
    assert host.run("printf '%%s' %s > %s", config, cfg).rc == 0
    try:
        created = host.run("xl create %s", cfg)
        assert created.rc == 0, created.stderr
        domid = host.check_output("xl domid %s", name)
        # the backend of the guest's interface joined the guest bridge
        assert host.file(f"/sys/class/net/vif{domid}.0/master").linked_to.endswith("/xenbr0")
        console = ""
        deadline = time.monotonic() + 120
        while "XENFLEET-TINYGUEST-UP" not in console and time.monotonic() < deadline:
            console += host.run("timeout 3 xl console %s </dev/null", name).stdout
        assert f"XENFLEET-TINYGUEST-UP {name}" in console
    finally:
        host.run("xl destroy %s", name)
    assert host.run("xl list %s", name).rc != 0


# ---- migration trust ----------------------------------------------------------------------------------
def ssh_to_peer(host, peer_address, command):
    """ssh from this dom0 to its peer the way `xl migrate` does: root's ssh config picks the key."""
    return host.run(f"ssh -o ConnectTimeout=20 {peer_address} {shlex.quote(command)} </dev/null")


def test_known_hosts_pinned_from_the_peers_real_keys(host):
    peer = peer_of(host)
    peer_address = lab_facts(peer)["private_address"]
    pinned = host.file("/root/.ssh/known_hosts.xenfleet-migration").content_string
    real = peer.file("/etc/ssh/ssh_host_ed25519_key.pub").content_string.split()[:2]
    assert f"{peer_address} {real[0]} {real[1]}" in pinned
    config = host.file("/root/.ssh/config").content_string
    assert "StrictHostKeyChecking yes" in config
    assert "StrictHostKeyChecking no" not in config


def test_migration_key_runs_migrate_receive_on_the_peer(host):
    peer_address = lab_facts(peer_of(host))["private_address"]
    result = ssh_to_peer(host, peer_address, "xl migrate-receive")
    # the receiver starts, announces itself, then gives up on the empty stream
    assert "migration receiver ready" in result.stdout, (result.rc, result.stdout, result.stderr)


@pytest.mark.parametrize("command", ["id", "xl list", "xl migrate-receive; id", "xl migrate-receive -r",
                                     "sh -c 'xl migrate-receive'"])
def test_migration_key_runs_nothing_else(host, command):
    peer_address = lab_facts(peer_of(host))["private_address"]
    result = ssh_to_peer(host, peer_address, command)
    assert result.rc == 126
    assert "xenfleet: refused" in result.stderr
    assert "uid=" not in result.stdout


def test_peer_key_is_restricted_in_authorized_keys(host):
    peer = peer_of(host)
    peer_address = lab_facts(peer)["private_address"]
    peer_key = peer.file("/root/.ssh/xenfleet_migration_ed25519.pub").content_string.split()[:2]
    lines = [line for line in host.file("/root/.ssh/authorized_keys").content_string.splitlines()
             if peer_key[1] in line]
    assert len(lines) == 1
    assert lines[0].startswith(f'restrict,from="{peer_address}",command="/usr/local/sbin/xenfleet-migrate-receive" ')


def test_no_password_authentication_for_migrations(host):
    config = host.file("/root/.ssh/config").content_string
    assert "PasswordAuthentication no" in config
    assert "IdentityFile /root/.ssh/xenfleet_migration_ed25519" in config
