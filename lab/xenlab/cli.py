"""xenlab: boot, inspect and tear down the lab of emulated bare x86 hosts.

  xenlab up --hosts 2 --distro bookworm,trixie    boot hosts (images are built and cached on first use)
  xenlab up --distro bookworm-xen                  ... from a Xen-ready image (the roles' packages pre-installed)
  xenlab status                                    hosts, PIDs, ports, and whether they run Xen
  xenlab start xen1[,xen2]                         power on again the hosts whose QEMU died (a fault drill's
                                                   SIGKILL): same disks and data, ports, MACs, host keys;
                                                   running hosts are left alone
  xenlab console xen1 [--follow]                   the serial console log (GRUB, Xen, Linux)
  xenlab ssh xen1 [-- command]                     a root shell or command on a host
  xenlab down                                      stop every QEMU of the lab and remove its state
  xenlab image build [IMAGE[,IMAGE]|all]           build (or reuse) cached images: bookworm, trixie,
                                                   bookworm-xen, trixie-xen (all: every one of them)
  xenlab molecule-instances                        the instance config molecule's create playbook records
"""
import argparse
import os
import subprocess
import sys
import time

import yaml

from . import config, image
from .errors import LabError
from .lab import Lab


def make_log(lab_name):
    """Progress goes to stdout and to .lab/<lab>.log (which scripts/test.sh shows live during molecule)."""

    def log(msg):
        line = f"[xenlab {time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        try:
            config.STATE_ROOT.mkdir(parents=True, exist_ok=True)
            with open(config.STATE_ROOT / f"{lab_name}.log", "a") as f:
                f.write(line + "\n")
        except OSError:
            pass

    return log


def parser():
    p = argparse.ArgumentParser(prog="xenlab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lab", default=os.environ.get("XENLAB_LAB", "main"),
                   help="lab name (default: main, whose inventory is inventories/lab/hosts.yml)")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="boot the lab's hosts")
    up.add_argument("--hosts", type=int, default=2, help="number of hosts (1-8, default 2)")
    up.add_argument("--names", help="comma-separated host names (default xen1..xenN)")
    up.add_argument("--distro", default="bookworm",
                    help="comma-separated images, given to the hosts in turn: bookworm, trixie, or their "
                         "Xen-ready flavours bookworm-xen, trixie-xen (Xen and Domain-0's packages pre-installed)")
    up.add_argument("--memory", type=int, default=config.MEMORY_MB, help="MiB per host (default %(default)s)")
    up.add_argument("--cpus", type=int, default=config.CPUS, help="vCPUs per host (default %(default)s)")
    up.add_argument("--timeout", type=int, default=config.BOOT_TIMEOUT, help="seconds until SSH must answer")
    start = sub.add_parser("start", help="boot again, from their disks, the lab's hosts whose QEMU is not running")
    start.add_argument("names", nargs="+", metavar="HOST[,HOST]", help="hosts of the lab (comma-separated)")
    start.add_argument("--timeout", type=int, default=config.BOOT_TIMEOUT, help="seconds until SSH must answer")
    sub.add_parser("down", help="stop the lab's QEMUs and remove its state")
    sub.add_parser("status", help="show the lab's hosts")
    con = sub.add_parser("console", help="print a host's serial console log")
    con.add_argument("host")
    con.add_argument("--follow", "-f", action="store_true")
    ssh = sub.add_parser("ssh", help="ssh to a host as root")
    ssh.add_argument("host")
    ssh.add_argument("cmd", nargs=argparse.REMAINDER)
    img = sub.add_parser("image", help="lab images")
    img.add_argument("action", choices=["build", "path"])
    img.add_argument("distro", nargs="?", default="all")
    sub.add_parser("molecule-instances", help="print molecule instance config (YAML)")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    log = make_log(args.lab)
    try:
        lab = Lab(args.lab, log=log)
    except LabError as exc:
        print(f"xenlab: error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "up":
            names = args.names.split(",") if args.names else [f"xen{i + 1}" for i in range(args.hosts)]
            distros = args.distro.split(",")
            lab.up(names, distros, memory_mb=args.memory, cpus=args.cpus, timeout=args.timeout)
        elif args.command == "start":
            lab.start([n for arg in args.names for n in arg.split(",") if n], timeout=args.timeout)
        elif args.command == "down":
            lab.down()
        elif args.command == "status":
            rows = lab.status()
            if not rows:
                print(f"lab {lab.name!r} is not up")
            for row in [("HOST", "DISTRO", "PID", "SSH", "PRIVATE", "RUNNING"), *rows]:
                print("  ".join(f"{c:<22}" if i == 5 else f"{c:<12}" for i, c in enumerate(row)).rstrip())
        elif args.command == "console":
            path = lab.files(lab.host(args.host))["console"]
            if args.follow:
                return subprocess.call(["tail", "-n", "+1", "-f", str(path)])
            sys.stdout.write(path.read_text(errors="replace"))
        elif args.command == "ssh":
            h = lab.host(args.host)
            cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
            argv = ["ssh", *lab.ssh_options(), "-p", str(h.ssh_port), "root@127.0.0.1"]
            if cmd:
                argv += ["--", *cmd]
            else:
                i = argv.index("BatchMode=yes")
                del argv[i - 1:i + 1]  # interactive: allow a terminal
            return subprocess.call(argv)
        elif args.command == "image":
            distros = config.IMAGE_NAMES if args.distro == "all" else args.distro.split(",")
            for d in distros:
                if args.action == "build":
                    image.ensure_image(d, log=log)
                print(image.image_path(d))
        elif args.command == "molecule-instances":
            print(yaml.safe_dump(lab.molecule_instances(), sort_keys=False), end="")
    except LabError as exc:
        print(f"xenlab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
