"""Where the lab keeps things, and its defaults. Every path can be moved with an environment variable."""
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IMAGE_RECIPE = REPO / "lab" / "image"
XEN_READY_RECIPE = REPO / "lab" / "image-xen"  # the Xen-ready layer over a bare image (see xenready.py)
STATE_ROOT = Path(os.environ.get("XENLAB_STATE", REPO / ".lab"))
CACHE = Path(os.environ.get("XENLAB_CACHE", Path.home() / ".cache" / "xenfleet-lab"))
IMAGES = CACHE / "images"
MAIN_INVENTORY = REPO / "inventories" / "lab" / "hosts.yml"

DISTROS = ("bookworm", "trixie")
# Every image the lab builds: the bare distributions and their Xen-ready flavours (Xen and Domain-0's
# packages pre-installed, still booting bare Linux: see lab/xenlab/xenready.py)
IMAGE_NAMES = DISTROS + tuple(f"{d}-xen" for d in DISTROS)
DISTRO_VERSIONS = {"bookworm": "12", "trixie": "13"}

# Sizes: LAB-NOTES measured Xen + dom0 + small guests in 2 GiB with -smp 1 on a 2-core machine.
MEMORY_MB = int(os.environ.get("XENLAB_MEMORY_MB", "2048"))
CPUS = int(os.environ.get("XENLAB_CPUS", "1"))
DATA_DISK_GB = 16
PRIVATE_NET = "192.168.250"  # hosts are .11, .12, ... on the private inter-host network
MAX_HOSTS = 8

BOOT_TIMEOUT = int(os.environ.get("XENLAB_BOOT_TIMEOUT", "420"))
