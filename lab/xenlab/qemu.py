"""One lab host = one QEMU process (TCG). Building the command line is a pure function, tested in lab/tests."""
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import config, hub
from .errors import LabError


@dataclass
class Host:
    """Everything the lab knows about one host. Saved in .lab/<lab>/state.json."""

    name: str
    index: int  # 1-based position in the lab; decides addresses and MACs
    distro: str
    ssh_port: int
    lab: str
    lab_id: int  # 0..255, decides MACs so that labs never share one
    private_port: int  # the lab's private-network switch: its first UDP port (see hub.py)
    memory_mb: int = config.MEMORY_MB
    cpus: int = config.CPUS
    pid: int = 0
    ssh_ready_s: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def mgmt_mac(self):
        return f"52:54:00:1a:{self.lab_id:02x}:{self.index:02x}"

    @property
    def private_mac(self):
        return f"52:54:00:2a:{self.lab_id:02x}:{self.index:02x}"

    @property
    def private_address(self):
        return f"{config.PRIVATE_NET}.{10 + self.index}"

    @property
    def private_ports(self):
        """(switch port this host sends to, local port this host's QEMU receives on)."""
        return hub.port_pair(self.private_port, self.private_port + hub.VM_OFFSET, self.index)

    @property
    def qemu_name(self):
        return f"xenlab-{self.lab}-{self.name}"

    def to_dict(self):
        return asdict(self)


def host_files(lab_dir, host):
    d = Path(lab_dir) / host.name
    return {
        "dir": d,
        "disk": d / "disk.qcow2",
        "data": d / "data.qcow2",
        "fwcfg": d / "fwcfg.txt",
        "console": d / "console.log",
        "console_sock": d / "console.sock",
        "monitor": d / "monitor.sock",
        "pidfile": d / "qemu.pid",
    }


def fw_cfg_text(host, authorized_key, apt_proxy=""):
    """The KEY=VALUE file that xenlab-firstboot reads from fw_cfg inside the host."""
    lines = {
        "LAB": host.lab,
        "HOSTNAME": host.name,
        "MGMT_MAC": host.mgmt_mac,
        "PRIV_MAC": host.private_mac,
        "PRIV_ADDR": f"{host.private_address}/24",
        "DATA_DISK": "/dev/vdb",
        "APT_PROXY": apt_proxy,
        "AUTHORIZED_KEY": authorized_key.strip(),
    }
    return "".join(f"{k}={v}\n" for k, v in lines.items())


def qemu_argv(host, files, qemu="qemu-system-x86_64"):
    """The QEMU command line of a host. See LAB-NOTES: TCG only, `-cpu max,-smap` so Xen's PV dom0 runs."""
    return [
        qemu,
        "-name", host.qemu_name,
        "-machine", "pc",
        "-accel", "tcg,thread=multi,tb-size=256",
        "-cpu", "max,-smap",
        "-smp", str(host.cpus),
        "-m", str(host.memory_mb),
        "-nodefaults", "-vga", "std", "-display", "none",
        "-rtc", "base=utc",
        # system disk: copy-on-write over the cached image; second disk: room for the guests' VG.
        # cache=unsafe ignores guest flushes: lab disks are thrown away, and dpkg's fsyncs are slow under TCG.
        "-drive", f"file={files['disk']},if=virtio,format=qcow2,cache=unsafe",
        "-drive", f"file={files['data']},if=virtio,format=qcow2,cache=unsafe",
        # management NIC: user-mode network, SSH forwarded to the lab machine's loopback only
        "-netdev", f"user,id=mgmt,hostfwd=tcp:127.0.0.1:{host.ssh_port}-:22",
        "-device", f"virtio-net-pci,netdev=mgmt,mac={host.mgmt_mac},addr=0x3",
        # private inter-host network: this lab's own switch (hub.py) over UDP on loopback
        "-netdev", "socket,id=priv,udp=127.0.0.1:{},localaddr=127.0.0.1:{}".format(*host.private_ports),
        "-device", f"virtio-net-pci,netdev=priv,mac={host.private_mac},addr=0x4",
        "-chardev", f"socket,id=ser0,path={files['console_sock']},server=on,wait=off,"
                    f"logfile={files['console']},logappend=on",
        "-serial", "chardev:ser0",
        "-monitor", f"unix:{files['monitor']},server,nowait",
        "-fw_cfg", f"name=opt/xenlab/config,file={files['fwcfg']}",
        "-pidfile", str(files["pidfile"]),
        "-daemonize",
    ]


def create_disks(image, files, data_gb=config.DATA_DISK_GB):
    files["dir"].mkdir(parents=True, exist_ok=True)
    for args in (
        ["create", "-q", "-f", "qcow2", "-b", str(image), "-F", "qcow2", str(files["disk"])],
        ["create", "-q", "-f", "qcow2", str(files["data"]), f"{data_gb}G"],
    ):
        proc = subprocess.run(["qemu-img", *args], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise LabError(f"qemu-img {' '.join(args)} failed: {proc.stderr.strip()}")


def start(host, files):
    argv = qemu_argv(host, files)
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        err = proc.stderr.strip()
        fix = None
        if "hostfwd" in err or "Address already in use" in err:
            fix = f"port {host.ssh_port} on 127.0.0.1 is taken: stop what uses it, or run `xenlab up` again (it picks free ports)"
        elif "backing file" in err:
            fix = "the cached image under the host's disk is gone (rebuilt since?): `xenlab down`, then `xenlab up`"
        raise LabError(f"QEMU for {host.name} did not start: {err}", fix=fix)
    host.pid = int(files["pidfile"].read_text().strip())
    return host.pid


def pid_has_tag(pid, tag):
    """True when PID is alive and TAG is one of its arguments (so that we never signal anyone else's process)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return tag.encode() in cmdline


def is_ours(pid, host):
    """True when PID is alive and is this host's QEMU."""
    return pid_has_tag(pid, host.qemu_name)


def stop(host, timeout=15):
    """Stop this host's QEMU by PID: SIGTERM, then SIGKILL after TIMEOUT seconds."""
    if not host.pid or not is_ours(host.pid, host):
        return False
    os.kill(host.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_ours(host.pid, host):
            return True
        time.sleep(0.2)
    os.kill(host.pid, signal.SIGKILL)
    time.sleep(0.5)
    return True


def port_is_free(port, host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(count, start, taken=(), limit=2000):
    ports = []
    port = start
    while len(ports) < count and port < start + limit:
        if port not in taken and port_is_free(port):
            ports.append(port)
        port += 1
    if len(ports) < count:
        raise LabError(f"no {count} free TCP ports on 127.0.0.1 from {start}", fix="free some ports or set XENLAB_PORT_BASE")
    return ports
