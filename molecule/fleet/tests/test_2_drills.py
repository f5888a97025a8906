"""fleet scenario, fault drills (after test_1_fleet.py; the last one kills a Xen host, so the scenario ends there).

1. A plan that does not fit is refused before anything moves: evacuating xen1 with an absurd reserve fails with the
   table, and xen1 is not even marked drained.
2. A rollout interrupted mid-batch (SIGINT to ansible-playbook while the canary's guests are migrating) and run
   again converges: both hosts get the new Xen command line, no host stays drained, every guest runs exactly once
   with its disk intact.
3. The target Domain-0 is killed (its QEMU, SIGKILL) in the middle of a migration: the migration fails, the
   playbook stops and reports, and the guest keeps running on its source, with its disk.

After the drills the killed target's QEMU is gone, and the lab has a dead host. To use the lab again (e.g. before
tests/bench/fleet.py), power it on again from its own disks, its data kept:
`xenlab --lab molecule-fleet start xen1,xen2` (it boots only the host that is not running, and waits for SSH).

Needs MOLECULE_INVENTORY_FILE (molecule sets it), and the lab's name in FLEET_LAB (default: molecule-<scenario>).
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fleet_lab import DIR, GUESTS, INVENTORY_FILE, LAB, REPO, XEN_HOSTS, host, http, ip, read_markers, where_now

testinfra_hosts = ["ansible://xen_hosts"]
PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")


def playbook(name, *extra, log):
    """Start ansible-playbook on one of the fleet playbooks, in its own process group, output to ``log``."""
    argv = [PLAYBOOK, "-i", INVENTORY_FILE, str(REPO / "playbooks" / name), *extra]
    out = open(log, "w")
    print("$", " ".join(argv), ">", log)
    return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=str(REPO), start_new_session=True)


def wait_for_text(log, text, proc, timeout, after=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = Path(log).read_text(errors="replace")
        start = content.find(after) if after else 0
        if start >= 0 and text in content[start:]:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(1)
    return False


def migrating(h):
    """A migration is in flight on a Domain-0: a source's `xl migrate GUEST HOST`, or a domain being received or
    sent (<name>--incoming, <name>--migratedaway). Not a bare `xl migrate-receive`: after a migration xl stays as
    the guest's monitoring daemon under that name, as `xl create` does, for as long as the guest runs."""
    if h.run("pgrep -f 'xl .*migrate '").rc == 0:
        return True
    return any(line.split()[0].endswith(("--incoming", "--migratedaway"))
               for line in h.check_output("xl list").splitlines()[1:])


def no_migration_running(timeout=900):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [n for n in XEN_HOSTS if migrating(host(n))]
        if not busy:
            return True
        time.sleep(5)
    return False


# ---------------------------------------------------------------------------------------------- 1. refused plan
def test_a_drain_that_does_not_fit_moves_nothing():
    before = where_now()
    log = DIR / "drill-refused.log"
    proc = playbook("evacuate.yml", "-e", "fleet_host=xen1", "-e", "fleet_reserve_mib=100000", log=log)
    rc = proc.wait(timeout=1800)
    text = log.read_text()
    assert rc != 0
    assert "does not fit on any peer" in text and "REFUSED, nothing was moved" in text
    assert where_now() == before
    assert not host("xen1").file("/etc/ansible/facts.d/xenfleet_drain.fact").exists


# ------------------------------------------------------------------------------------------- 2. interrupted rollout
def test_an_interrupted_rollout_converges_when_run_again():
    # the lab's own Xen arguments (inventories/lab/group_vars) plus two that need the reboot
    new_args = "{{ xenlab_xen_args + ['loglvl=all', 'guest_loglvl=all'] }}"
    args = ["-e", json.dumps({"hypervisor_extra_args": new_args}),
            "-e", "fleet_report_file=%s" % (DIR / "drill-rollout.json")]
    log = DIR / "drill-rollout-interrupted.log"
    proc = playbook("rolling_upgrade.yml", *args, log=log)
    started = wait_for_text(log, "TASK [Round | Migrate]", proc, 3600, after="PLAY [Roll the upgrade through the fleet]")
    assert started, "the rollout never reached a migration:\n" + log.read_text()[-3000:]
    time.sleep(5)
    t_interrupt = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    print(f"interrupted in the canary's migrations (rc {proc.returncode})")
    assert no_migration_running(), "an xl migrate is still running 15 minutes after the interruption"
    print(f"in-flight migration(s) settled {time.monotonic() - t_interrupt:.0f} s after the interruption")
    log2 = DIR / "drill-rollout-rerun.log"
    rerun = playbook("rolling_upgrade.yml", *args, log=log2)
    rc = rerun.wait(timeout=7200)
    assert rc == 0, log2.read_text()[-5000:]
    report = json.loads((DIR / "drill-rollout.json").read_text())
    assert report["ok"] and report["census"]["ok"], report["lines"]
    where = where_now()
    for name in GUESTS:
        assert len(where.get(name, [])) == 1, f"{name} is on {where.get(name)} after the rerun"
    ids = set()
    for name in XEN_HOSTS:
        h = host(name)
        assert "guest_loglvl=all" in h.check_output("xl info | sed -n 's/^xen_commandline *: //p'").split()
        assert not h.file("/etc/ansible/facts.d/xenfleet_drain.fact").exists
        ids.add(json.loads(h.file("/etc/ansible/facts.d/xenfleet_rollout.fact").content_string)["id"])
    assert len(ids) == 1
    for name in GUESTS:
        assert http(host(where[name][0]), ip(name), "marker").strip() == read_markers()[name]
    print("\n".join(report["lines"]))


# ---------------------------------------------------------------------------------------------- 3. target killed
def _qemu_pid(name):
    state = json.loads((REPO / ".lab" / LAB / "state.json").read_text())
    pid = [h["pid"] for h in state["hosts"] if h["name"] == name][0]
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    assert "qemu-system" in cmdline and name in cmdline, f"pid {pid} is not {name}'s QEMU: {cmdline[:200]}"
    return pid


def test_killing_the_target_mid_migration_leaves_the_guest_on_its_source():
    guest = "fleet-b"
    where = where_now()
    source = where[guest][0]
    target = "xen2" if source == "xen1" else "xen1"
    log = DIR / "drill-kill-target.log"
    proc = playbook("migrate.yml", "-e", '{"fleet_guests": ["%s"]}' % guest, "-e", f"fleet_target={target}",
                    "-e", "fleet_report_file=%s" % (DIR / "drill-kill-target.json"), log=log)
    assert wait_for_text(log, "TASK [Round | Migrate]", proc, 1800), log.read_text()[-3000:]
    # the stream is under way once the target builds "<guest>--incoming"
    t = host(target)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and f"{guest}--incoming" not in t.run("xl list").stdout:
        time.sleep(1)
    assert f"{guest}--incoming" in t.run("xl list").stdout, "the migration never reached the target"
    time.sleep(3)
    pid = _qemu_pid(target)
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    print(f"killed {target}'s QEMU (pid {pid}) while {guest} was migrating from {source}")
    rc = proc.wait(timeout=1800)
    text = log.read_text()
    print(f"the playbook ended {time.monotonic() - killed_at:.0f} s after the kill, rc {rc}")
    assert rc != 0, "the playbook must stop and report the failed migration"
    assert "failed" in text
    src = host(source)
    row = src.check_output(f"xl list {guest}").splitlines()[-1].split()
    assert row[0] == guest and "p" not in row[4], f"{guest} is not running on {source}: {row}"
    assert f"{guest}--migratedaway" not in src.check_output("xl list")
    store = host("store")
    assert store.run(f"ping -c 3 -W 2 {ip(guest)}").rc == 0, f"{guest} does not answer on the network"
    assert http(src, ip(guest), "marker").strip() == read_markers()[guest]
    report = json.loads((DIR / "drill-kill-target.json").read_text())
    row = [r for r in report["rows"] if r["guest"] == guest][0]
    print(f"report: {row}")
    assert row["ok"] is False
