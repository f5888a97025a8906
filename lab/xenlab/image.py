"""Bare-host images: built with debootstrap from Debian's archive, cached by recipe hash."""
import fcntl
import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import config
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


def image_path(distro, images=None):
    return Path(images or config.IMAGES) / f"{distro}-{recipe_hash(distro=distro)}.qcow2"


def check_tools(tools=BUILD_TOOLS):
    missing = sorted({pkg for tool, pkg in tools.items() if shutil.which(tool) is None})
    if missing:
        raise LabError(
            f"the lab needs tools that are not installed: {', '.join(missing)}",
            fix=f"run scripts/setup.sh (or: apt-get install {' '.join(missing)})",
        )


def ensure_image(distro, log=print):
    """Return the cached image for DISTRO, building it first when the recipe changed."""
    if distro not in config.DISTROS:
        raise LabError(f"unknown distribution {distro!r}", fix=f"choose one of {', '.join(config.DISTROS)}")
    path = image_path(distro)
    if path.exists():
        return path
    check_tools()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{distro}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build per distro at a time, across processes
        if path.exists():
            return path
        work = path.parent / f".build-{distro}"
        log(f"building the {distro} image (debootstrap from Debian's archive, ~2-4 min) ...")
        start = time.monotonic()
        proc = subprocess.run(
            ["bash", str(config.IMAGE_RECIPE / "build.sh"), distro, str(path), str(work)],
            stdout=sys.stdout, stderr=subprocess.STDOUT, check=False,
        )
        if proc.returncode != 0 or not path.exists():
            raise LabError(f"building the {distro} image failed (rc={proc.returncode}); logs in {work}",
                           fix="read the log above; a network failure is worth one retry")
        shutil.rmtree(work, ignore_errors=True)
        for old in path.parent.glob(f"{distro}-*.qcow2"):
            if old != path:
                old.unlink()  # stale recipe
        log(f"{distro} image ready in {time.monotonic() - start:.0f} s: {path}")
    return path
