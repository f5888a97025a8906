"""Xen-ready image flavours ("bookworm-xen", "trixie-xen"): what they pre-install, derived from the roles.

A Xen-ready image is the bare image plus, already installed, the packages that site.yml would install on a
lab host (group xen_hosts): the hypervisor role's `_hypervisor_packages` (+ `hypervisor_extra_packages`) and
what the "packages" entry points of the other roles install (dom0: `_dom0_packages`, guests:
`guests_dom0_packages`), evaluated with the lab's group_vars (inventories/lab/group_vars). The list is read
from the roles' own files at every use, so it cannot drift from them (lab/tests checks ROLE_PACKAGES against
site.yml and the values against Ansible's own evaluation); it is part of the image's cache key, so a role
change that alters it rebuilds the image.

Nothing else is done ahead of the roles: the Xen command line, the GRUB default (the image still boots bare
Linux) and the reboot into Xen stay the hypervisor role's job, and the role still runs its full path.
"""
from pathlib import Path

import jinja2
import jinja2.meta
import jinja2.nativetypes
import yaml

from . import config
from .errors import LabError

SUFFIX = "-xen"

# What site.yml installs on group xen_hosts, role by role: the variables that hold the package names
ROLE_PACKAGES = (
    ("hypervisor", ("_hypervisor_packages", "hypervisor_extra_packages")),
    ("dom0", ("_dom0_packages",)),
    ("guests", ("guests_dom0_packages",)),
)

# What the lab's first boot writes to /etc/ansible/facts.d/xenlab.fact, which the lab's group_vars read. Only
# whether a value is set matters for the package list; these are the values of a first lab host.
LAB_FACTS = {
    "xenlab": {
        "lab": "image", "mgmt_interface": "ens3", "private_interface": "ens4",
        "private_address": f"{config.PRIVATE_NET}.11", "private_prefix": 24, "data_disk": "/dev/vdb",
    }
}


def is_xen_ready(name):
    return name.endswith(SUFFIX)


def base_distro(name):
    """'bookworm-xen' -> 'bookworm'; 'bookworm' -> 'bookworm'."""
    return name[: -len(SUFFIX)] if is_xen_ready(name) else name


def _load(path):
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise LabError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise LabError(f"{path} is not a YAML mapping")
    return data


def _group_vars(repo, group):
    """A group's variables from the lab's group_vars (a file or a directory of files)."""
    root = Path(repo) / "inventories" / "lab" / "group_vars"
    merged = {}
    for path in [root / f"{group}.yml", *sorted((root / group).glob("*.yml"))]:
        if path.is_file():
            merged.update(_load(path))
    return merged


def role_variables(role, major, repo=config.REPO):
    """One role's variables as Ansible would see them on a Debian <major> lab host, unrendered.

    Ansible's precedence, lowest first: role defaults < group_vars all < group_vars xen_hosts < role vars
    (vars/main.yml, then the release's vars/Debian-<major>.yml that the roles load, where they have them).
    """
    role_dir = Path(repo) / "roles" / role
    releases = sorted((role_dir / "vars").glob("Debian-*.yml"))
    release = role_dir / "vars" / f"Debian-{major}.yml"
    if releases and not release.is_file():
        raise LabError(f"role {role} has no {release.name}: it does not support Debian {major}")
    merged = {}
    for layer in (role_dir / "defaults" / "main.yml", "all", "xen_hosts", role_dir / "vars" / "main.yml", release):
        if isinstance(layer, str):
            merged.update(_group_vars(repo, layer))
        elif layer.is_file():
            merged.update(_load(layer))
    return merged


def _ansible_bool(value):
    """Ansible's bool filter: true for True and for 'yes', 'on', '1', 'true' (any case) and 1."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("yes", "on", "1", "true")


class _Resolver:
    """Renders Ansible variables with Jinja (native types), resolving the variables they use on demand."""

    def __init__(self, variables, facts):
        self.raw = dict(variables)
        self.raw["ansible_local"] = facts
        self.done = {}
        self.active = []
        self.env = jinja2.nativetypes.NativeEnvironment(undefined=jinja2.StrictUndefined)
        # the Ansible filters the roles' package expressions use
        self.env.filters["extract"] = lambda item, container: container[item]
        self.env.filters["bool"] = _ansible_bool

    def get(self, name):
        if name in self.done:
            return self.done[name]
        if name not in self.raw:
            raise LabError(f"cannot derive the Xen-ready package list: variable {name!r} is not defined")
        if name in self.active:
            raise LabError(f"cannot derive the Xen-ready package list: {' -> '.join(self.active + [name])} loops")
        self.active.append(name)
        try:
            self.done[name] = self.render(self.raw[name])
        finally:
            self.active.pop()
        return self.done[name]

    def render(self, value):
        if isinstance(value, list):
            return [self.render(v) for v in value]
        if isinstance(value, dict):
            return {k: self.render(v) for k, v in value.items()}
        if not isinstance(value, str) or "{{" not in value and "{%" not in value:
            return value
        try:
            ast = self.env.parse(value)
            names = jinja2.meta.find_undeclared_variables(ast)
            context = {n: self.get(n) for n in names}
            return self.env.from_string(value).render(context)
        except jinja2.TemplateError as exc:
            raise LabError(f"cannot derive the Xen-ready package list: {value!r}: {exc}") from exc


def packages(name, repo=config.REPO):
    """The packages a Xen-ready image pre-installs, in the order of ROLE_PACKAGES."""
    distro = base_distro(name)
    if distro not in config.DISTRO_VERSIONS:
        raise LabError(f"unknown distribution {distro!r}")
    major = config.DISTRO_VERSIONS[distro]
    result = []
    for role, expressions in ROLE_PACKAGES:
        resolver = _Resolver(role_variables(role, major, repo), LAB_FACTS)
        for expr in expressions:
            value = resolver.get(expr)
            if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
                raise LabError(f"cannot derive the Xen-ready package list: {role} {expr} gave {value!r}")
            result += [p for p in value if p not in result]
    return result
