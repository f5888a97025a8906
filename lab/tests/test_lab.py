"""Lab state, known_hosts pinning, inventory and clear errors (no QEMU needed)."""
import pytest

from xenlab import image
from xenlab.errors import LabError
from xenlab.lab import HOSTKEY_RE, Lab
from xenlab.qemu import Host


def host(name="xen1", index=1, port=22990):
    return Host(name=name, index=index, distro="bookworm", ssh_port=port, lab="t", lab_id=40, private_port=41040)


def test_invalid_names_are_refused(tmp_path):
    with pytest.raises(LabError, match="invalid lab name"):
        Lab("Bad Name", state_root=tmp_path)
    lab = Lab("ok", state_root=tmp_path)
    with pytest.raises(LabError, match="invalid host name"):
        lab.up(["xen_1"], ["bookworm"])


def test_host_count_is_bounded(tmp_path):
    with pytest.raises(LabError, match="1 to 8 hosts"):
        Lab("ok", state_root=tmp_path).up([], ["bookworm"])


def test_known_hosts_are_pinned_from_the_console(tmp_path):
    console = "noise\nXENLAB-HOSTKEY ssh-ed25519 AAAAC3Nza1\nXENLAB-HOSTKEY ecdsa-sha2-nistp256 AAAAE2V=\n"
    keys = HOSTKEY_RE.findall(console)
    lab = Lab("t", state_root=tmp_path)
    lab.dir.mkdir(parents=True)
    lab.add_known_hosts(host(), keys)
    lab.add_known_hosts(host("xen2", 2, 22991), [("ssh-ed25519", "BBBB")])
    lab.add_known_hosts(host(), [("ssh-ed25519", "CCCC")])  # a host re-created on the same port
    assert lab.known_hosts.read_text().splitlines() == [
        "[127.0.0.1]:22991 ssh-ed25519 BBBB",
        "[127.0.0.1]:22990 ssh-ed25519 CCCC",
    ]


def test_a_host_without_host_keys_is_an_error(tmp_path):
    lab = Lab("t", state_root=tmp_path)
    with pytest.raises(LabError, match="no SSH host keys"):
        lab.add_known_hosts(host(), [])


def test_inventory_pins_host_keys(tmp_path):
    lab = Lab("t", state_root=tmp_path)
    inv = lab.inventory([host(), host("xen2", 2, 22991)])
    xen1 = inv["xen_hosts"]["hosts"]["xen1"]
    assert xen1["ansible_port"] == 22990
    assert "StrictHostKeyChecking=yes" in xen1["ansible_ssh_common_args"]
    assert "StrictHostKeyChecking=no" not in xen1["ansible_ssh_common_args"]
    assert f"UserKnownHostsFile={lab.known_hosts}" in xen1["ansible_ssh_common_args"]


def test_state_round_trip(tmp_path):
    lab = Lab("t", state_root=tmp_path)
    lab.save([host(), host("xen2", 2, 22991)])
    assert [h.name for h in lab.hosts()] == ["xen1", "xen2"]
    assert lab.hosts()[1].private_address == "192.168.250.12"


def test_lab_ids_differ_between_running_labs(tmp_path):
    a = Lab("alpha", state_root=tmp_path)
    a.save([host()])  # host() uses lab_id 40
    b = Lab("beta", state_root=tmp_path)
    assert b.lab_id() != 40


def test_recipe_hash_follows_the_recipe(tmp_path):
    (tmp_path / "build.sh").write_text("v1")
    first = image.recipe_hash(tmp_path, "bookworm")
    assert image.recipe_hash(tmp_path, "trixie") != first
    (tmp_path / "build.sh").write_text("v2")
    assert image.recipe_hash(tmp_path, "bookworm") != first


def test_missing_tools_name_the_fix(monkeypatch):
    monkeypatch.setattr(image.shutil, "which", lambda tool: None)
    with pytest.raises(LabError) as err:
        image.check_tools()
    assert "qemu-system-x86" in str(err.value) and "scripts/setup.sh" in str(err.value)
