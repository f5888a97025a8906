# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make a plain checkout importable as ``ansible_collections.xenfleet.xen``.

Under ``ansible-test units`` the collection already sits at .../ansible_collections/xenfleet/xen
and nothing is changed.  In a checkout, ``collections/ansible_collections/xenfleet/xen`` links
to the repository root, so that directory goes on sys.path.
"""

from __future__ import annotations

import os
import sys

try:
    import ansible_collections.xenfleet.xen.plugins.module_utils  # noqa: F401 pylint: disable=unused-import
except ImportError:
    _COLLECTIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                'collections')
    sys.path.insert(0, _COLLECTIONS)
    for _name in [n for n in sys.modules if n == 'ansible_collections' or n.startswith('ansible_collections.')]:
        del sys.modules[_name]


def pytest_configure(config):
    """Always list skipped tests with their reason: a missing lab capture must never go unnoticed."""
    chars = getattr(config.option, 'reportchars', '') or ''
    if 's' not in chars and 'a' not in chars and 'A' not in chars:
        config.option.reportchars = chars + 's'
