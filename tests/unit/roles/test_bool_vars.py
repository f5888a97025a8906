# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every boolean role variable is read through its converted private copy, never directly.

``-e dom0_lvm_force=false`` on the command line makes the variable the *string* ``"false"``. The role's argument
specs accept it (type bool takes such strings) but do not convert it; a non-empty string is true in a Jinja
expression (``['--force'] if dom0_lvm_force else []`` would force ``vgcreate``) and ansible-core 2.19 refuses it in
a conditional after half the role ran. So each role's ``vars/main.yml`` defines ``_<name>: "{{ <name> | bool }}"``
for each of its boolean options, and its tasks, handlers, templates and private vars use that.
"""

from __future__ import annotations

import functools
import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLES = sorted(p.parent.parent for p in ROOT.glob('roles/*/meta/argument_specs.yml'))
# keys whose string value is a bare Jinja expression (no braces)
EXPRESSION_KEYS = ('when', 'that', 'failed_when', 'changed_when', 'until')
JINJA = re.compile(r'\{\{(.*?)\}\}|\{%(.*?)%\}', re.S)
STRING_LITERAL = re.compile(r"'[^']*'|\"[^\"]*\"")


def _bool_options(role):
    specs = yaml.safe_load((role / 'meta' / 'argument_specs.yml').read_text())['argument_specs']
    names = []
    for spec in specs.values():
        for name, option in (spec.get('options') or {}).items():
            if option.get('type') == 'bool' and name not in names:
                names.append(name)
    return names


def _yaml_expressions(node, key=None):
    """The Jinja expressions of a YAML document: bare ones under EXPRESSION_KEYS, braced ones in every string."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _yaml_expressions(v, k)
    elif isinstance(node, list):
        for item in node:
            yield from _yaml_expressions(item, key)
    elif isinstance(node, str):
        if key in EXPRESSION_KEYS and '{{' not in node:
            yield node
        for match in JINJA.finditer(node):
            yield match.group(1) or match.group(2)


@functools.lru_cache(maxsize=None)
def _expressions(role):
    """(file, expression) for every Jinja expression of the role's tasks, handlers, vars and templates (read once
    per role, for all of its boolean options)."""
    return list(_read_expressions(role))


def _read_expressions(role):
    for path in sorted(role.glob('tasks/*.yml')) + sorted(role.glob('handlers/*.yml')) + sorted(role.glob('vars/*.yml')):
        for expression in _yaml_expressions(yaml.safe_load(path.read_text())):
            yield path, expression
    for path in sorted(role.glob('templates/*')):
        for match in JINJA.finditer(path.read_text()):
            yield path, match.group(1) or match.group(2)


CASES = [(role, name) for role in ROLES for name in _bool_options(role)]


def test_roles_have_boolean_options():
    # the test below must have something to check
    assert len(CASES) >= 10
    assert {role.name for role, _name in CASES} >= {'dom0', 'guests', 'hypervisor'}


@pytest.mark.parametrize('role, name', CASES, ids=[f'{r.name}:{n}' for r, n in CASES])
def test_private_copy_converts(role, name):
    private = yaml.safe_load((role / 'vars' / 'main.yml').read_text())
    assert private.get(f'_{name}') == f'{{{{ {name} | bool }}}}'


@pytest.mark.parametrize('role, name', CASES, ids=[f'{r.name}:{n}' for r, n in CASES])
def test_only_the_private_copy_is_read(role, name):
    bare = re.compile(rf'(?<![\w.]){name}(?!\w)')
    offenders = []
    for path, expression in _expressions(role):
        code = STRING_LITERAL.sub("''", expression)
        if bare.search(code) and not (path.name == 'main.yml' and path.parent.name == 'vars'
                                      and code.strip() == f'{name} | bool'):
            offenders.append(f'{path.relative_to(ROOT)}: {expression.strip()}')
    assert not offenders, f'{name} read directly (use _{name}):\n' + '\n'.join(offenders)
