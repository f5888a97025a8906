"""Xen-ready image flavours: the package list comes from the roles, and the cache key follows it."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from xenlab import config, image, xenready
from xenlab.errors import LabError

ANSIBLE = Path(config.REPO) / ".venv" / "bin" / "ansible"


def ansible_eval(role, major, var):
    """What Ansible itself makes of VAR with the role's files and the lab's group_vars, in precedence order."""
    role_dir = config.REPO / "roles" / role
    group_vars = sorted((config.REPO / "inventories" / "lab" / "group_vars" / "xen_hosts").glob("*.yml"))
    files = [f for f in [role_dir / "defaults" / "main.yml", *group_vars, role_dir / "vars" / "main.yml",
                         role_dir / "vars" / f"Debian-{major}.yml"] if f.is_file()]
    argv = [str(ANSIBLE), "localhost", "-c", "local", "-i", "localhost,", "-m", "ansible.builtin.debug",
            "-a", f"var={var}", "-e", json.dumps({"ansible_local": xenready.LAB_FACTS})]
    for f in files:
        argv += ["-e", f"@{f}"]
    env = {**os.environ, "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}
    out = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=config.REPO, env=env).stdout
    return json.loads(out.split("=>", 1)[1])[var]


@pytest.mark.skipif(not ANSIBLE.exists(), reason="needs the project's venv (ansible-core)")
@pytest.mark.parametrize("name,major", [("bookworm-xen", "12"), ("trixie-xen", "13")])
def test_packages_are_what_ansible_makes_of_the_roles(name, major):
    expected = [p for role, names in xenready.ROLE_PACKAGES for var in names for p in ansible_eval(role, major, var)]
    assert xenready.packages(name) == list(dict.fromkeys(expected))


def test_role_packages_cover_what_site_yml_installs_on_xen_hosts():
    """Every "packages" entry point that site.yml runs on xen_hosts, and the hypervisor role, are in
    ROLE_PACKAGES, and nothing else is: a new entry point in site.yml fails here until the image covers it."""
    plays = yaml.safe_load((config.REPO / "site.yml").read_text())
    on_hosts = [p for p in plays if p.get("hosts") == "xen_hosts"]
    entry_points = {t["ansible.builtin.include_role"]["name"].split(".")[-1]
                    for p in on_hosts for t in p.get("tasks", [])
                    if t.get("ansible.builtin.include_role", {}).get("tasks_from") == "packages"}
    roles = {(r["role"] if isinstance(r, dict) else r).split(".")[-1] for p in on_hosts for r in p.get("roles", [])}
    assert "hypervisor" in roles
    assert {role for role, dummy in xenready.ROLE_PACKAGES} == entry_points | {"hypervisor"}


def test_packages_for_the_lab_today():
    # Documents what the images hold with today's roles and lab group_vars (update with the roles)
    assert xenready.packages("bookworm-xen") == [
        "xen-system-amd64", "xen-hypervisor-4.17-amd64", "xen-utils-4.17",
        "bridge-utils", "ifupdown", "lvm2", "thin-provisioning-tools", "openssh-client", "openssh-server",
        "qemu-system-xen", "seabios", "grub-xen-host", "zstd", "e2fsprogs", "debootstrap",
    ]
    assert "xen-hypervisor-4.20-amd64" in xenready.packages("trixie-xen")


def fake_repo(tmp_path, dom0_vars="", group_vars=""):
    """A minimal copy of the roles' layout, to change one file and watch the result."""
    repo = tmp_path / "repo"
    shutil.copytree(config.REPO / "roles" / "hypervisor" / "vars", repo / "roles" / "hypervisor" / "vars")
    shutil.copytree(config.REPO / "roles" / "hypervisor" / "defaults", repo / "roles" / "hypervisor" / "defaults")
    shutil.copytree(config.REPO / "roles" / "dom0" / "vars", repo / "roles" / "dom0" / "vars")
    shutil.copytree(config.REPO / "roles" / "dom0" / "defaults", repo / "roles" / "dom0" / "defaults")
    shutil.copytree(config.REPO / "roles" / "guests" / "defaults", repo / "roles" / "guests" / "defaults")
    shutil.copytree(config.REPO / "inventories" / "lab" / "group_vars", repo / "inventories" / "lab" / "group_vars")
    if dom0_vars:
        (repo / "roles" / "dom0" / "vars" / "Debian-12.yml").write_text(dom0_vars)
    if group_vars:
        (repo / "inventories" / "lab" / "group_vars" / "xen_hosts" / "zz-test.yml").write_text(group_vars)
    return repo


def test_group_vars_drive_the_list(tmp_path):
    repo = fake_repo(tmp_path, group_vars=yaml.safe_dump(
        {"dom0_hvm": False, "dom0_lvm_thinpool": None, "dom0_packages_extra": ["socat"],
         "hypervisor_extra_packages": ["xen-tools"]}))
    pkgs = xenready.packages("bookworm-xen", repo=repo)
    assert "qemu-system-xen" not in pkgs and "seabios" not in pkgs
    assert "thin-provisioning-tools" not in pkgs and "lvm2" in pkgs
    assert pkgs[pkgs.index("seabios" if "seabios" in pkgs else "openssh-server") + 1] == "socat"
    assert "xen-tools" in pkgs


@pytest.mark.parametrize("hvm, migration", [("false", "no"), ("True", "yes")])
def test_boolean_variables_given_as_strings(tmp_path, hvm, migration):
    # as from the command line (-e dom0_hvm=false): the roles read them through "| bool", and so does the image
    repo = fake_repo(tmp_path, group_vars=f"dom0_hvm: '{hvm}'\ndom0_migration: '{migration}'\n")
    pkgs = xenready.packages("bookworm-xen", repo=repo)
    assert ("qemu-system-xen" in pkgs) is (hvm == "True")
    assert ("openssh-server" in pkgs) is (migration == "yes")


def test_an_undefined_variable_is_a_clear_error(tmp_path):
    repo = fake_repo(tmp_path, group_vars="dom0_hvm_firmware: \"{{ no_such_variable }}\"\n")
    with pytest.raises(LabError, match="no_such_variable"):
        xenready.packages("bookworm-xen", repo=repo)


def test_a_release_the_roles_do_not_support_is_refused(tmp_path):
    repo = fake_repo(tmp_path)
    (repo / "roles" / "dom0" / "vars" / "Debian-12.yml").unlink()
    with pytest.raises(LabError, match="Debian-12.yml"):
        xenready.packages("bookworm-xen", repo=repo)


def test_flavour_names():
    assert config.IMAGE_NAMES == ("bookworm", "trixie", "bookworm-xen", "trixie-xen")
    assert xenready.base_distro("trixie-xen") == "trixie" and xenready.base_distro("trixie") == "trixie"
    with pytest.raises(LabError, match="unknown image"):
        image.ensure_image("sid-xen")


def test_cache_key_follows_base_recipe_layer_and_packages(monkeypatch, tmp_path):
    bare = tmp_path / "image"; bare.mkdir(); (bare / "build.sh").write_text("bare v1")
    layer = tmp_path / "image-xen"; layer.mkdir(); (layer / "build.sh").write_text("layer v1")
    monkeypatch.setattr(config, "IMAGE_RECIPE", bare)
    monkeypatch.setattr(config, "XEN_READY_RECIPE", layer)
    pkgs = ["xen-system-amd64"]
    monkeypatch.setattr(xenready, "packages", lambda name, repo=None: list(pkgs))
    bare_key, key = image.image_hash("bookworm"), image.image_hash("bookworm-xen")
    assert re.fullmatch(r"[0-9a-f]{12}", key) and key != bare_key
    assert image.image_hash("trixie-xen") != key
    pkgs.append("socat")
    assert image.image_hash("bookworm-xen") != key
    assert image.image_hash("bookworm") == bare_key  # the bare image does not depend on the roles
    key = image.image_hash("bookworm-xen")
    (layer / "build.sh").write_text("layer v2")
    assert image.image_hash("bookworm-xen") != key and image.image_hash("bookworm") == bare_key
    key = image.image_hash("bookworm-xen")
    (bare / "build.sh").write_text("bare v2")
    assert image.image_hash("bookworm-xen") != key


def test_stale_images_are_only_the_same_name(monkeypatch, tmp_path):
    monkeypatch.setattr(image, "image_hash", lambda name: {"bookworm": "aaaaaaaaaaaa"}.get(name, "bbbbbbbbbbbb"))
    for f in ["bookworm-aaaaaaaaaaaa.qcow2", "bookworm-0123456789ab.qcow2", "bookworm-xen-0123456789ab.qcow2",
              "bookworm-xen-bbbbbbbbbbbb.qcow2"]:
        (tmp_path / f).write_text("")
    assert [p.name for p in image.stale_images("bookworm", tmp_path)] == ["bookworm-0123456789ab.qcow2"]
    assert [p.name for p in image.stale_images("bookworm-xen", tmp_path)] == ["bookworm-xen-0123456789ab.qcow2"]
