"""A lab: N hosts that share one private network. `up`, `start`, `down`, `status`; state in .lab/<lab>/state.json."""
import json
import os
import re
import shlex
import signal
import sys
import shutil
import subprocess
import time
import zlib
from pathlib import Path

from . import config, hub, image, qemu
from .errors import LabError

HOSTKEY_RE = re.compile(r"XENLAB-HOSTKEY (ssh-[a-z0-9-]+|ecdsa-[a-z0-9-]+) ([A-Za-z0-9+/=]+)")
NIC_RE = re.compile(r"XENLAB-NIC mgmt=(\S+) private=(\S+)")
MILESTONES = [  # (text seen on the serial console, what it means), in boot order
    ("SeaBIOS", "firmware"),
    ("GNU GRUB", "GRUB"),
    ("Linux version", "kernel"),
    ("Xen version", "Xen"),
    ("XENLAB-FIRSTBOOT-DONE", "first boot done"),
]
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")  # host names: valid hostnames
LAB_RE = re.compile(r"^[a-z][a-z0-9_-]{0,40}$")  # lab names: also molecule scenario names such as xen_domain


class Lab:
    def __init__(self, name="main", state_root=None, log=print):
        if not LAB_RE.match(name):
            raise LabError(f"invalid lab name {name!r}", fix="use lower-case letters, digits, '-' and '_'")
        self.name = name
        self.dir = Path(state_root or config.STATE_ROOT) / name
        self.log = log

    # ---- state -------------------------------------------------------------------------------------
    @property
    def state_file(self):
        return self.dir / "state.json"

    @property
    def key(self):
        return self.dir / "id_ed25519"

    @property
    def known_hosts(self):
        return self.dir / "known_hosts"

    @property
    def inventory_file(self):
        return self.dir / "inventory.yml"

    def hosts(self):
        if not self.state_file.exists():
            return []
        data = json.loads(self.state_file.read_text())
        return [qemu.Host(**h) for h in data["hosts"]]

    def save(self, hosts, **extra):
        self.dir.mkdir(parents=True, exist_ok=True)
        data = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
        data.update(lab=self.name, hosts=[h.to_dict() for h in hosts], **extra)
        self.state_file.write_text(json.dumps(data, indent=2))

    def state(self, key, default=None):
        if not self.state_file.exists():
            return default
        return json.loads(self.state_file.read_text()).get(key, default)

    # ---- the private network's switch ----------------------------------------------------------------
    @property
    def switch_tag(self):
        return f"xenlab-{self.name}-switch"

    def start_switch(self, base, count):
        log = open(self.dir / "switch.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "xenlab.hub", self.switch_tag, str(base),
                                 str(base + hub.VM_OFFSET), str(count)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                cwd=str(Path(__file__).resolve().parents[1]))
        time.sleep(0.5)
        if proc.poll() is not None:
            raise LabError(f"the private network's switch did not start: see {self.dir / 'switch.log'}",
                           fix=f"UDP ports {base}-{base + hub.VM_OFFSET + count} on 127.0.0.1 must be free")
        self.save(self.hosts(), switch_pid=proc.pid)

    def switch_running(self):
        pid = self.state("switch_pid")
        return bool(pid) and qemu.pid_has_tag(pid, self.switch_tag)

    def stop_switch(self):
        if self.switch_running():
            os.kill(self.state("switch_pid"), signal.SIGTERM)

    def files(self, host):
        return qemu.host_files(self.dir, host)

    # ---- up ----------------------------------------------------------------------------------------
    def lab_id(self):
        """A byte that no other running lab uses: it goes into MACs and the multicast group."""
        used = set()
        for other in self.dir.parent.glob("*/state.json"):
            if other.parent != self.dir:
                used.update(h["lab_id"] for h in json.loads(other.read_text()).get("hosts", []))
        wanted = zlib.crc32(self.name.encode()) % 200 + 20
        for candidate in [wanted, *range(20, 220)]:
            if candidate not in used:
                return candidate
        raise LabError("too many labs are running", fix="`xenlab --lab NAME down` the ones you no longer need")

    def up(self, names, distros, memory_mb=config.MEMORY_MB, cpus=config.CPUS, timeout=config.BOOT_TIMEOUT):
        if self.hosts():
            raise LabError(f"lab {self.name!r} is already up", fix=f"xenlab --lab {self.name} down")
        if not 1 <= len(names) <= config.MAX_HOSTS:
            raise LabError(f"a lab has 1 to {config.MAX_HOSTS} hosts, not {len(names)}")
        for n in names:
            if not NAME_RE.match(n):
                raise LabError(f"invalid host name {n!r}", fix="use lower-case letters, digits and '-'")
        image.check_tools()
        if shutil.which("ssh-keygen") is None:
            raise LabError("ssh-keygen is missing", fix="apt-get install openssh-client")
        start = time.monotonic()
        images = {d: image.ensure_image(d, log=self.log) for d in dict.fromkeys(distros)}
        self.dir.mkdir(parents=True, exist_ok=True)
        if not self.key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"xenlab-{self.name}",
                            "-f", str(self.key)], check=True)
        pubkey = self.key.with_suffix(".pub").read_text()
        lab_id = self.lab_id()
        private_port = 40000 + lab_id * 100
        ports = qemu.free_ports(len(names), start=int(22000 + lab_id * 10))
        hosts = [
            qemu.Host(name=n, index=i + 1, distro=distros[i % len(distros)], ssh_port=ports[i], lab=self.name,
                      lab_id=lab_id, private_port=private_port, memory_mb=memory_mb, cpus=cpus)
            for i, n in enumerate(names)
        ]
        self.save(hosts)
        try:
            self.start_switch(private_port, len(hosts))
            for h in hosts:
                f = self.files(h)
                qemu.create_disks(images[h.distro], f)
                f["fwcfg"].write_text(qemu.fw_cfg_text(h, pubkey))
                qemu.start(h, f)
                self.log(f"{h.name}: started ({h.distro}, {h.memory_mb} MiB, ssh 127.0.0.1:{h.ssh_port}, "
                         f"private {h.private_address}, pid {h.pid})")
            self.save(hosts)
            self.wait_ready(hosts, start, timeout)
        except BaseException:
            self.log(f"lab {self.name!r} did not come up: cleaning away the hosts that were started")
            self.down(quiet=True)
            raise
        self.save(hosts)
        self.write_inventory(hosts)
        total = time.monotonic() - start
        self.log(f"lab {self.name!r} is up: {len(hosts)} host(s) SSH-ready in {total:.0f} s "
                 f"({', '.join(f'{h.name} {h.ssh_ready_s:.0f} s' for h in hosts)})")
        return hosts

    # ---- start: power a stopped host on again ---------------------------------------------------------
    def start(self, names, timeout=config.BOOT_TIMEOUT):
        """Boot again, from their existing disks, the hosts NAMES of this up lab whose QEMU is not running (a
        fault drill killed it, say): the same machine powered on again, with its ports, MACs, data and pinned
        host keys. Restarts the lab's switch if it is gone too. Returns the hosts it started."""
        hosts = self.hosts()
        if not hosts:
            raise LabError(f"lab {self.name!r} is not up: there is nothing to start",
                           fix=f"xenlab --lab {self.name} up (a lab that is down has no disks left)")
        by_name = {h.name: h for h in hosts}
        names = list(dict.fromkeys(names))
        unknown = [n for n in names if n not in by_name]
        if unknown or not names:
            what = f"has no host {', '.join(map(repr, unknown))}" if unknown else "needs the names of hosts to start"
            raise LabError(f"lab {self.name!r} {what} (its hosts: {', '.join(by_name)})",
                           fix=f"xenlab --lab {self.name} start HOST[,HOST], with names that `xenlab status` lists")
        stopped = []
        for h in (by_name[n] for n in names):
            if qemu.is_ours(h.pid, h):
                self.log(f"{h.name}: already running (pid {h.pid}): nothing to do")
            else:
                stopped.append(h)
        if not stopped:
            return []
        for h in stopped:
            f = self.files(h)
            missing = [str(f[k]) for k in ("disk", "data", "fwcfg") if not f[k].exists()]
            if missing:
                raise LabError(f"{h.name}: its disks are gone ({', '.join(missing)}), so it cannot be powered on again",
                               fix=f"xenlab --lab {self.name} down, then up (a new lab)")
            if not qemu.port_is_free(h.ssh_port):
                raise LabError(f"{h.name}: its SSH port 127.0.0.1:{h.ssh_port} is taken by another process",
                               fix=f"free it (`ss -ltnp 'sport = :{h.ssh_port}'`), then start again: the host keeps "
                                   "its port, which the inventory and known_hosts name")
        start = time.monotonic()
        if not self.switch_running():
            self.log("the private network's switch is not running: starting it again")
            self.start_switch(hosts[0].private_port, len(hosts))
        offsets, started = {}, []
        try:
            for h in stopped:
                f = self.files(h)
                offsets[h.name] = self.mark_console(f["console"], f"xenlab start: {h.name} is powered on again")
                qemu.start(h, f)
                started.append(h)
                self.log(f"{h.name}: started again from its disks ({h.distro}, ssh 127.0.0.1:{h.ssh_port}, "
                         f"private {h.private_address}, pid {h.pid})")
            self.save(hosts)
            self.wait_ready(stopped, start, timeout, first_boot=False, console_offsets=offsets)
        except BaseException:
            for h in started:
                qemu.stop(h)
                self.log(f"{h.name}: stopped again (its disks are kept: `xenlab --lab {self.name} start {h.name}` "
                         "tries again)")
            self.save(hosts)
            raise
        self.save(hosts)
        self.log(f"lab {self.name!r}: {len(stopped)} host(s) SSH-ready again in {time.monotonic() - start:.0f} s "
                 f"({', '.join(f'{h.name} {h.ssh_ready_s:.0f} s' for h in stopped)})")
        return stopped

    @staticmethod
    def mark_console(path, text):
        """Append a line that separates a new boot from the earlier ones in console log PATH (QEMU appends its
        output after it, so every boot's log is kept); return where the new boot's output begins."""
        with open(path, "ab") as f:
            f.write(f"\n===== {text} ({time.strftime('%Y-%m-%d %H:%M:%S')}) =====\n".encode())
            return f.tell()

    def wait_ready(self, hosts, start, timeout, first_boot=True, console_offsets=None):
        """Wait until every host of HOSTS answers on SSH, logging the milestones its serial console shows.

        First boot (`up`): the host prints its new SSH host keys, then XENLAB-FIRSTBOOT-DONE; the keys are pinned
        in known_hosts before SSH is tried. A later boot (`start`) prints neither: its keys are pinned already,
        and SSH is tried once a kernel runs. CONSOLE_OFFSETS: where this boot begins in each host's console log
        (QEMU appends to it), so that an earlier boot's lines count for nothing."""
        offsets = console_offsets or {}
        pending = {h.name: h for h in hosts}
        seen = {h.name: "" for h in hosts}
        ssh_error = {}
        while pending:
            elapsed = time.monotonic() - start
            for name, h in list(pending.items()):
                f = self.files(h)
                if not qemu.is_ours(h.pid, h):
                    raise LabError(f"{name}: QEMU exited during boot; console: {f['console']}\n{self.tail(h)}")
                text = self.console_text(h, offsets.get(name, 0))
                stage = next((label for mark, label in reversed(MILESTONES) if mark in text), "starting")
                if stage != seen[name]:
                    seen[name] = stage
                    self.log(f"{name}: {stage} ({elapsed:.0f} s)")
                if first_boot and "XENLAB-FIRSTBOOT-DONE" in text:
                    keys = HOSTKEY_RE.findall(text)
                    nic = NIC_RE.search(text)
                    if nic:
                        h.extra.update(mgmt_interface=nic.group(1), private_interface=nic.group(2))
                    self.add_known_hosts(h, keys)
                elif first_boot or "Linux version" not in text:
                    continue
                proc = self.ssh(h, ["true"], timeout=20, check=False)
                if proc.returncode == 0:
                    h.ssh_ready_s = round(elapsed, 1)
                    self.log(f"{name}: ssh ready ({elapsed:.0f} s)")
                    del pending[name]
                else:
                    ssh_error[name] = (proc.stderr or "").strip()
            if pending and elapsed > timeout:
                late = ", ".join(pending)
                errors = [f"  {n}: last ssh error: {ssh_error[n]}" for n in pending if ssh_error.get(n)]
                raise LabError(f"host(s) {late} did not answer on SSH within {timeout} s\n"
                               + "\n".join([*errors, *(self.tail(h) for h in pending.values())]),
                               fix="read the console log (`xenlab console HOST`); raise XENLAB_BOOT_TIMEOUT on a busy machine")
            if pending:
                time.sleep(2)

    def console_text(self, host, offset=0):
        """HOST's serial console log from byte OFFSET on ("" while there is none)."""
        path = self.files(host)["console"]
        if not path.exists():
            return ""
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def tail(self, host, lines=15):
        f = self.files(host)["console"]
        if not f.exists():
            return f"  ({host.name}: no console output)"
        text = f.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(f"  {host.name}| {line}" for line in text)

    def add_known_hosts(self, host, keys):
        if not keys:
            raise LabError(f"{host.name}: first boot printed no SSH host keys on the console")
        lines = [ln for ln in (self.known_hosts.read_text().splitlines() if self.known_hosts.exists() else [])
                 if not ln.startswith(f"[127.0.0.1]:{host.ssh_port} ")]
        lines += [f"[127.0.0.1]:{host.ssh_port} {kind} {key}" for kind, key in keys]
        self.known_hosts.write_text("\n".join(lines) + "\n")

    # ---- ssh ---------------------------------------------------------------------------------------
    def ssh_options(self):
        return ["-i", str(self.key), "-o", f"UserKnownHostsFile={self.known_hosts}",
                "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR"]

    def ssh(self, host, command, timeout=60, check=True, capture=True):
        argv = ["ssh", *self.ssh_options(), "-p", str(host.ssh_port), "root@127.0.0.1", "--", shlex.join(command)]
        try:
            proc = subprocess.run(argv, capture_output=capture, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            proc = subprocess.CompletedProcess(argv, 255, "", f"timed out after {timeout} s")
        if check and proc.returncode != 0:
            raise LabError(f"{host.name}: {' '.join(command)} failed (rc={proc.returncode}): {proc.stderr}")
        return proc

    def host(self, name):
        for h in self.hosts():
            if h.name == name:
                return h
        raise LabError(f"lab {self.name!r} has no host {name!r}", fix="see `xenlab status`")

    # ---- inventory ---------------------------------------------------------------------------------
    def inventory(self, hosts):
        common = " ".join(o for o in self.ssh_options() if o not in ("-i", str(self.key)))
        return {
            "xen_hosts": {
                "hosts": {
                    h.name: {
                        "ansible_host": "127.0.0.1",
                        "ansible_port": h.ssh_port,
                        "ansible_user": "root",
                        "ansible_ssh_private_key_file": str(self.key),
                        "ansible_ssh_common_args": common,
                        "xenlab_distro": h.distro,
                    }
                    for h in hosts
                },
                "vars": {"xenlab_lab": self.name},
            }
        }

    def write_inventory(self, hosts):
        import yaml

        header = (f"# Written by `xenlab --lab {self.name} up`: the lab's hosts and how to reach them.\n"
                  "# Generated, not committed; the lab's static variables are in inventories/lab/group_vars.\n")
        text = header + yaml.safe_dump(self.inventory(hosts), sort_keys=False)
        self.inventory_file.write_text(text)
        # the lab's static group vars apply to every lab inventory (`-i .lab/<lab>/inventory.yml`)
        link = self.dir / "group_vars"
        if not link.exists():
            link.symlink_to(config.REPO / "inventories" / "lab" / "group_vars")
        if self.name == "main":
            config.MAIN_INVENTORY.write_text(text)

    def molecule_instances(self):
        return [{"instance": h.name, "address": "127.0.0.1", "user": "root", "port": h.ssh_port,
                 "identity_file": str(self.key)} for h in self.hosts()]

    # ---- down / status -----------------------------------------------------------------------------
    def down(self, quiet=False):
        hosts = self.hosts()
        for h in hosts:
            stopped = qemu.stop(h)
            if not quiet:
                self.log(f"{h.name}: {'stopped' if stopped else 'was not running'}")
        self.stop_switch()
        if self.dir.exists():
            logs = self.dir.parent / "logs" / self.name
            logs.mkdir(parents=True, exist_ok=True)
            for h in hosts:
                console = self.files(h)["console"]
                if console.exists():
                    shutil.copy(console, logs / f"{h.name}.console.log")
            shutil.rmtree(self.dir)
        if self.name == "main" and config.MAIN_INVENTORY.exists():
            config.MAIN_INVENTORY.unlink()
        if not quiet:
            self.log(f"lab {self.name!r} is down (console logs kept in {self.dir.parent / 'logs' / self.name})")

    def status(self):
        rows = []
        for h in self.hosts():
            alive = qemu.is_ours(h.pid, h)
            state = "stopped"
            if alive:
                proc = self.ssh(h, ["sh", "-c", "uname -r; grep -q control_d /proc/xen/capabilities 2>/dev/null "
                                    "&& xl info | sed -n 's/^xen_version *: //p' || true"], timeout=40, check=False)
                out = proc.stdout.split() if proc.returncode == 0 else []
                state = ("Xen " + out[1] if len(out) > 1 else "Linux") + f" {out[0]}" if out else "no ssh"
            rows.append((h.name, h.distro, str(h.pid if alive else "-"), f"127.0.0.1:{h.ssh_port}",
                         h.private_address, state))
        return rows
