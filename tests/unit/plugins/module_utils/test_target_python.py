# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Modules and module_utils run on the target: their syntax must stay within Python 3.8.

ansible-core 2.19 supports target Pythons 3.8 to 3.14, but this machine only has 3.11, so
ansible-test's compile test cannot check 3.8 here; ast's feature_version can.
"""

from __future__ import annotations

import ast
import glob
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
TARGET_FILES = sorted(glob.glob(os.path.join(ROOT, 'plugins', 'module_utils', '*.py'))
                      + glob.glob(os.path.join(ROOT, 'plugins', 'modules', '*.py')))


def test_there_are_target_files():
    assert any(f.endswith('xl_client.py') for f in TARGET_FILES)


@pytest.mark.parametrize('path', TARGET_FILES, ids=[os.path.basename(p) for p in TARGET_FILES])
def test_parses_as_python_3_8(path):
    with open(path, encoding='utf-8') as f:
        source = f.read()
    ast.parse(source, filename=path, feature_version=(3, 8))
