"""Lab images, cached by recipe hash: bare hosts built with debootstrap from Debian's archive, and their
Xen-ready flavours (the bare image plus the roles' packages, see xenready.py)."""
import fcntl
import hashlib
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import config, xenready
from .errors import LabError

BUILD_TOOLS = {
    "debootstrap": "debootstrap",
    "qemu-img": "qemu-utils",
    "qemu-system-x86_64": "qemu-system-x86",
    "sfdisk": "fdisk",
    "mkfs.ext4": "e2fsprogs",
}


def recipe_hash(recipe_dir=None, distro=""):
    """A short hash of everything that decides what an image contains (the recipe directory)."""
    recipe_dir = Path(recipe_dir or config.IMAGE_RECIPE)
    digest = hashlib.sha256(distro.encode())
    for path in sorted(p for p in recipe_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(recipe_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def image_hash(name):
    """The cache key of image NAME. A Xen-ready flavour's key covers its bare image's recipe, its own layer
    recipe (lab/image-xen) and the package list derived from the roles, so a change to any of them rebuilds it."""
    if not xenready.is_xen_ready(name):
        return recipe_hash(distro=name)
    digest = hashlib.sha256(name.encode() + b"\0")
    digest.update(recipe_hash(distro=xenready.base_distro(name)).encode() + b"\0")
    digest.update(recipe_hash(config.XEN_READY_RECIPE).encode() + b"\0")
    digest.update("\n".join(xenready.packages(name)).encode())
    return digest.hexdigest()[:12]


def image_path(distro, images=None):
    return Path(images or config.IMAGES) / f"{distro}-{image_hash(distro)}.qcow2"


def stale_images(name, images=None):
    """Cached images of NAME built from another recipe (not those of other names: 'bookworm-xen-<hash>' is not
    a 'bookworm' image)."""
    pattern = re.compile(rf"^{re.escape(name)}-[0-9a-f]{{12}}\.qcow2$")
    current = image_path(name, images)
    folder = Path(images or config.IMAGES)
    return sorted(p for p in folder.glob(f"{name}-*.qcow2") if pattern.match(p.name) and p != current)


def check_tools(tools=BUILD_TOOLS):
    missing = sorted({pkg for tool, pkg in tools.items() if shutil.which(tool) is None})
    if missing:
        raise LabError(
            f"the lab needs tools that are not installed: {', '.join(missing)}",
            fix=f"run scripts/setup.sh (or: apt-get install {' '.join(missing)})",
        )


def ensure_image(distro, log=print):
    """Return the cached image for DISTRO, building it first when the recipe changed."""
    if distro not in config.IMAGE_NAMES:
        raise LabError(f"unknown image {distro!r}", fix=f"choose one of {', '.join(config.IMAGE_NAMES)}")
    path = image_path(distro)
    if path.exists():
        return path
    check_tools()
    if xenready.is_xen_ready(distro):
        base = ensure_image(xenready.base_distro(distro), log=log)  # outside this image's lock
        pkgs = xenready.packages(distro)
        argv = [str(config.XEN_READY_RECIPE / "build.sh"), distro, str(base), str(path)]
        what = f"the Xen-ready {distro} image (bare image + {len(pkgs)} packages of the roles, ~2-4 min)"
    else:
        argv, pkgs = [str(config.IMAGE_RECIPE / "build.sh"), distro, str(path)], []
        what = f"the {distro} image (debootstrap from Debian's archive, ~2-4 min)"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{distro}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build per distro at a time, across processes
        if path.exists():
            return path
        work = path.parent / f".build-{distro}"
        log(f"building {what} ...")
        start = time.monotonic()
        proc = subprocess.run(
            ["bash", *argv, str(work), *pkgs],
            stdout=sys.stdout, stderr=subprocess.STDOUT, check=False,
        )
        if proc.returncode != 0 or not path.exists():
            raise LabError(f"building the {distro} image failed (rc={proc.returncode}); logs in {work}",
                           fix="read the log above; a network failure is worth one retry")
        shutil.rmtree(work, ignore_errors=True)
        for old in stale_images(distro, path.parent):
            old.unlink()  # stale recipe
        log(f"{distro} image ready in {time.monotonic() - start:.0f} s: {path}")
    return path
