# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):

    # Every module of the collection runs xl in Domain-0: what the attributes mean, and the platform.
    # Whether a module supports check mode and diff mode (support, details) is said in the module itself.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed when in diff mode.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
    details:
      - Domain-0 of a Xen host, where C(xl) runs.
"""

    # The info modules (xenfleet.xen.xl.info): they only read, with short xl commands, so check mode runs
    # them as they are, and there is never anything to diff.
    INFO = r"""
options:
  timeout:
    description:
      - Seconds each C(xl) command may run before it is stopped.
    type: int
    default: 30
attributes:
  check_mode:
    support: full
    details:
      - The module only reads, so check mode runs it as it is.
  diff_mode:
    support: none
"""
