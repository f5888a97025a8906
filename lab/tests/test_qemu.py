"""The lab's QEMU command line and host identity: exact arguments, table-driven."""
import pytest

from xenlab import qemu
from xenlab.errors import LabError


def make_host(**kw):
    args = dict(name="xen1", index=1, distro="bookworm", ssh_port=22990, lab="t1", lab_id=99, private_port=41099)
    args.update(kw)
    return qemu.Host(**args)


@pytest.fixture
def files(tmp_path):
    return qemu.host_files(tmp_path, make_host())


def pairs(argv):
    return {argv[i]: argv[i + 1] for i in range(1, len(argv) - 1) if argv[i].startswith("-")}


def test_cpu_model_from_lab_notes(files):
    # LAB-NOTES: plain `-cpu max` crashes Xen's PV dom0 on QEMU 7.2 (SMAP emulation); TCG only.
    argv = qemu.qemu_argv(make_host(), files)
    assert pairs(argv)["-cpu"] == "max,-smap"
    assert pairs(argv)["-accel"].startswith("tcg")
    assert "-kernel" not in argv  # hosts boot through their own GRUB


def test_ssh_is_forwarded_to_loopback_only(files):
    argv = qemu.qemu_argv(make_host(ssh_port=23001), files)
    assert "user,id=mgmt,hostfwd=tcp:127.0.0.1:23001-:22" in argv


@pytest.mark.parametrize(
    "index,lab_id,mgmt,priv,addr",
    [
        (1, 99, "52:54:00:1a:63:01", "52:54:00:2a:63:01", "192.168.250.11"),
        (2, 99, "52:54:00:1a:63:02", "52:54:00:2a:63:02", "192.168.250.12"),
        (3, 20, "52:54:00:1a:14:03", "52:54:00:2a:14:03", "192.168.250.13"),
    ],
)
def test_identity_is_derived_from_position(index, lab_id, mgmt, priv, addr):
    h = make_host(index=index, lab_id=lab_id)
    assert (h.mgmt_mac, h.private_mac, h.private_address) == (mgmt, priv, addr)


def test_private_network_goes_through_the_labs_switch(files):
    a = qemu.qemu_argv(make_host(index=2, private_port=43000), files)
    net = [x for x in a if x.startswith("socket,id=priv")][0]
    # sends to the switch's port for host 2, receives on its own port 50 higher
    assert net == "socket,id=priv,udp=127.0.0.1:43002,localaddr=127.0.0.1:43052"


def test_disks_are_copy_on_write_and_separate(files):
    argv = qemu.qemu_argv(make_host(), files)
    drives = [argv[i + 1] for i, a in enumerate(argv) if a == "-drive"]
    assert drives[0].startswith(f"file={files['disk']},")
    assert drives[1].startswith(f"file={files['data']},")


def test_fw_cfg_carries_identity_not_secrets():
    text = qemu.fw_cfg_text(make_host(), "ssh-ed25519 AAAAkey xenlab\n")
    lines = dict(line.split("=", 1) for line in text.splitlines())
    assert lines["HOSTNAME"] == "xen1"
    assert lines["PRIV_ADDR"] == "192.168.250.11/24"
    assert lines["AUTHORIZED_KEY"] == "ssh-ed25519 AAAAkey xenlab"
    assert "PRIVATE" not in text.upper().replace("PRIV_", "")


def test_free_ports_skips_taken(monkeypatch):
    busy = {30000, 30002}
    monkeypatch.setattr(qemu, "port_is_free", lambda p, host="127.0.0.1": p not in busy)
    assert qemu.free_ports(2, start=30000) == [30001, 30003]


def test_no_free_ports_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(qemu, "port_is_free", lambda p, host="127.0.0.1": False)
    with pytest.raises(LabError, match="no 2 free TCP ports"):
        qemu.free_ports(2, start=30000, limit=5)


def test_stop_never_signals_a_foreign_process(monkeypatch):
    killed = []
    monkeypatch.setattr(qemu.os, "kill", lambda pid, sig: killed.append(pid))
    host = make_host()
    host.pid = 1  # init is not our QEMU
    assert qemu.stop(host) is False
    assert killed == []
