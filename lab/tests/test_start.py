"""`xenlab start`: a host whose QEMU died boots again from its own disks (no QEMU: qemu.start is faked)."""
import json
import subprocess

import pytest

from xenlab import cli, config, lab as labmod, qemu
from xenlab.errors import LabError
from xenlab.lab import Lab
from xenlab.qemu import Host

FIRST_BOOT = ("SeaBIOS\nGNU GRUB\nLinux version 6.1.0\nXENLAB-HOSTKEY ssh-ed25519 AAAAold\n"
              "XENLAB-NIC mgmt=ens3 private=ens4\nXENLAB-FIRSTBOOT-DONE xen2\n")
SECOND_BOOT = "SeaBIOS\nGNU GRUB\n Xen version 4.17.5\nLinux version 6.1.0\n"


def host(name, index, port, pid):
    return Host(name=name, index=index, distro="bookworm", ssh_port=port, lab="t", lab_id=40, private_port=44000,
                pid=pid)


class FakeMachine:
    """Which QEMUs are alive, what qemu.start/stop were asked, and what each booting host prints."""

    def __init__(self, monkeypatch, alive=(101,), boot_output=SECOND_BOOT, ssh_rc=0):
        self.alive = set(alive)
        self.started, self.stopped, self.ssh_calls = [], [], []
        self.boot_output = boot_output
        self.ssh_rc = ssh_rc
        self.next_pid = 500
        monkeypatch.setattr(qemu, "is_ours", lambda pid, h: pid in self.alive)
        monkeypatch.setattr(qemu, "port_is_free", lambda port, host="127.0.0.1": True)
        monkeypatch.setattr(qemu, "start", self.start)
        monkeypatch.setattr(qemu, "stop", self.stop)
        monkeypatch.setattr(qemu, "create_disks", lambda *a, **kw: pytest.fail("start must not re-create disks"))
        monkeypatch.setattr(qemu, "pid_has_tag", lambda pid, tag: pid in self.alive)
        monkeypatch.setattr(labmod.time, "sleep", lambda s: None)

    def start(self, h, files):
        self.next_pid += 1
        h.pid = self.next_pid
        self.alive.add(h.pid)
        self.started.append((h.name, h.ssh_port, h.mgmt_mac, h.private_mac, h.private_ports, files["disk"]))
        with open(files["console"], "a") as f:  # QEMU appends (logappend=on)
            f.write(self.boot_output)
        return h.pid

    def stop(self, h):
        self.stopped.append(h.name)
        self.alive.discard(h.pid)
        return True

    def ssh(self, h, command, timeout=60, check=True, capture=True):
        self.ssh_calls.append(h.name)
        return subprocess.CompletedProcess(command, self.ssh_rc, "", "" if self.ssh_rc == 0 else "Connection refused")


@pytest.fixture
def up_lab(tmp_path):
    """Lab "t" as `up` left it: xen1 (pid 101) and xen2 (pid 102), disks, first-boot console logs, known_hosts."""
    lab = Lab("t", state_root=tmp_path, log=lambda msg: logs.append(msg))
    logs = []
    lab.logs = logs
    hosts = [host("xen1", 1, 22990, 101), host("xen2", 2, 22991, 102)]
    lab.save(hosts, switch_pid=103)
    for h in hosts:
        f = lab.files(h)
        f["dir"].mkdir(parents=True)
        for k in ("disk", "data", "fwcfg"):
            f[k].write_text(f"{h.name} {k}")
        f["console"].write_text(FIRST_BOOT.replace("xen2", h.name))
    lab.known_hosts.write_text("[127.0.0.1]:22990 ssh-ed25519 AAAAone\n[127.0.0.1]:22991 ssh-ed25519 AAAAtwo\n")
    return lab


def test_a_killed_host_boots_again_from_its_disks(up_lab, monkeypatch):
    m = FakeMachine(monkeypatch, alive={101, 103})  # xen2 (102) was killed; the switch (103) runs
    up_lab.ssh = m.ssh
    monkeypatch.setattr(up_lab, "start_switch", lambda *a: pytest.fail("the switch is running"))
    before = {k: up_lab.files(host("xen2", 2, 0, 0))[k].read_text() for k in ("disk", "data", "fwcfg")}
    known_hosts = up_lab.known_hosts.read_text()

    started = up_lab.start(["xen2"])

    assert [h.name for h in started] == ["xen2"]
    xen2 = host("xen2", 2, 22991, 0)
    files = up_lab.files(xen2)
    # the same machine: its ports, MACs, switch ports and disks, which are kept as they were
    assert m.started == [("xen2", 22991, xen2.mgmt_mac, xen2.private_mac, xen2.private_ports, files["disk"])]
    assert {k: files[k].read_text() for k in ("disk", "data", "fwcfg")} == before
    assert up_lab.known_hosts.read_text() == known_hosts  # no new host keys on a second boot
    assert m.ssh_calls == ["xen2"]
    state = json.loads(up_lab.state_file.read_text())
    assert [h["pid"] for h in state["hosts"]] == [101, 501]  # the new pid is recorded
    assert state["switch_pid"] == 103
    console = files["console"].read_text()
    assert console.startswith(FIRST_BOOT)  # the first boot's log is kept
    assert "xenlab start: xen2 is powered on again" in console and console.endswith(SECOND_BOOT)
    assert any("xen2: Xen (" in line for line in up_lab.logs)  # milestones of this boot
    assert any("xen2: ssh ready" in line for line in up_lab.logs)


def test_a_second_boot_waits_for_its_own_kernel_not_the_first_boots(up_lab, monkeypatch):
    m = FakeMachine(monkeypatch, alive={101, 103}, boot_output="SeaBIOS\n")
    up_lab.ssh = m.ssh
    console = up_lab.files(host("xen2", 2, 0, 0))["console"]
    sleeps = []

    def sleep(seconds):  # the kernel starts during the first wait
        sleeps.append(seconds)
        with open(console, "a") as f:
            f.write("GNU GRUB\nLinux version 6.1.0\n")

    monkeypatch.setattr(labmod.time, "sleep", sleep)
    up_lab.start(["xen2"])
    assert len(sleeps) == 1  # no SSH attempt before the new boot's kernel, although the old log has one
    assert m.ssh_calls == ["xen2"]
    stages = [line.split(": ")[1].split(" (")[0] for line in up_lab.logs if line.startswith("xen2: ")]
    assert stages[1:] == ["firmware", "kernel", "ssh ready"]  # not "first boot done" from the old log


def test_running_hosts_are_left_alone(up_lab, monkeypatch):
    m = FakeMachine(monkeypatch, alive={101, 102, 103})
    up_lab.ssh = m.ssh
    assert up_lab.start(["xen1", "xen2"]) == []
    assert m.started == [] and m.ssh_calls == []
    assert [line for line in up_lab.logs if "already running" in line] == [
        "xen1: already running (pid 101): nothing to do", "xen2: already running (pid 102): nothing to do"]


def test_only_the_dead_host_of_a_list_is_started(up_lab, monkeypatch):
    m = FakeMachine(monkeypatch, alive={102, 103})
    up_lab.ssh = m.ssh
    assert [h.name for h in up_lab.start(["xen1", "xen2", "xen1"])] == ["xen1"]
    assert [s[0] for s in m.started] == ["xen1"]


def test_a_dead_switch_is_started_again(up_lab, monkeypatch):
    m = FakeMachine(monkeypatch, alive={101})  # xen2 and the switch were killed
    up_lab.ssh = m.ssh
    calls = []
    monkeypatch.setattr(up_lab, "start_switch", lambda base, count: calls.append((base, count)))
    up_lab.start(["xen2"])
    assert calls == [(44000, 2)]  # the lab's own ports, for every host of the lab


@pytest.mark.parametrize("names,message", [
    (["xen3"], r"lab 't' has no host 'xen3' \(its hosts: xen1, xen2\)"),
    (["xen2", "xen9"], "has no host 'xen9'"),
    ([], "needs the names of hosts"),
])
def test_unknown_hosts_are_refused_before_anything_starts(up_lab, monkeypatch, names, message):
    m = FakeMachine(monkeypatch, alive={101, 103})
    with pytest.raises(LabError, match=message) as err:
        up_lab.start(names)
    assert "start HOST[,HOST]" in err.value.fix
    assert m.started == []


def test_a_lab_that_is_not_up_is_refused(tmp_path, monkeypatch):
    FakeMachine(monkeypatch)
    with pytest.raises(LabError, match="lab 'nolab' is not up") as err:
        Lab("nolab", state_root=tmp_path).start(["xen1"])
    assert "xenlab --lab nolab up" in err.value.fix


def test_a_host_without_disks_is_refused(up_lab, monkeypatch):
    m = FakeMachine(monkeypatch, alive={101, 103})
    up_lab.files(host("xen2", 2, 0, 0))["data"].unlink()
    with pytest.raises(LabError, match="xen2: its disks are gone"):
        up_lab.start(["xen2"])
    assert m.started == []


def test_a_taken_ssh_port_is_refused(up_lab, monkeypatch):
    m = FakeMachine(monkeypatch, alive={101, 103})
    monkeypatch.setattr(qemu, "port_is_free", lambda port, host="127.0.0.1": port != 22991)
    with pytest.raises(LabError, match="SSH port 127.0.0.1:22991 is taken"):
        up_lab.start(["xen2"])
    assert m.started == []


def test_a_host_that_does_not_answer_is_stopped_again_and_keeps_its_disks(up_lab, monkeypatch):
    m = FakeMachine(monkeypatch, alive={101, 103}, ssh_rc=255)
    up_lab.ssh = m.ssh
    with pytest.raises(LabError, match="did not answer on SSH within -1 s") as err:
        up_lab.start(["xen2"], timeout=-1)
    assert "xen2: last ssh error: Connection refused" in str(err.value)
    assert m.stopped == ["xen2"]
    assert up_lab.files(host("xen2", 2, 0, 0))["disk"].exists()
    assert json.loads(up_lab.state_file.read_text())["hosts"][1]["pid"] == 501
    assert any("start xen2` tries again" in line for line in up_lab.logs)


def test_first_boot_still_pins_the_keys_it_prints(tmp_path, monkeypatch):
    m = FakeMachine(monkeypatch, alive={7})
    lab = Lab("t", state_root=tmp_path, log=lambda msg: None)
    lab.ssh = m.ssh
    h = host("xen1", 1, 22990, 7)
    lab.files(h)["dir"].mkdir(parents=True)
    lab.files(h)["console"].write_text(FIRST_BOOT)
    lab.wait_ready([h], 0, 60)
    assert lab.known_hosts.read_text() == "[127.0.0.1]:22990 ssh-ed25519 AAAAold\n"
    assert h.extra == {"mgmt_interface": "ens3", "private_interface": "ens4"}


def test_cli_start_takes_comma_separated_names(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(config, "STATE_ROOT", tmp_path)
    asked = []
    monkeypatch.setattr(Lab, "start", lambda self, names, timeout: asked.append((self.name, names, timeout)))
    assert cli.main(["--lab", "molecule-fleet", "start", "xen1,xen2", "--timeout", "900"]) == 0
    assert asked == [("molecule-fleet", ["xen1", "xen2"], 900)]


def test_cli_start_reports_an_unknown_host(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(config, "STATE_ROOT", tmp_path)
    FakeMachine(monkeypatch, alive={101, 102})
    Lab("t", state_root=tmp_path).save([host("xen1", 1, 22990, 101), host("xen2", 2, 22991, 102)])
    assert cli.main(["--lab", "t", "start", "xen3"]) == 2
    assert "has no host 'xen3'" in capsys.readouterr().err
    assert cli.main(["--lab", "t", "start", "xen1,xen2"]) == 0
    assert "xen1: already running" in capsys.readouterr().out
