#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: raw_command
short_description: Run an argument list on the target without starting Python there, with stdin and a JSON result
version_added: 0.1.0
description:
  - Runs O(argv) on the target over the connection, as M(ansible.builtin.raw) does (no Python, no module payload
    sent to the target), but from an argument list that is quoted word by word, with optional O(stdin), stdout and
    stderr kept apart, and, with O(json), the last line of stdout read as a JSON object into RV(data).
  - Made for short helper programs the collection's roles install on Domain-0s (the C(guests) role's
    C(xenfleet_guest.py)). Measured in the lab under emulation, one module task costs about 5.5 seconds of Python
    start on the Domain-0 against 0.7 seconds for one raw command; a role with several helper calls per guest
    spends that on every guest.
  - Use O(stdin) for secrets (a guest's SSH host key). It is written to the command's standard input and appears in
    no command line, no process list of the target and no task result.
  - This is an action plugin; everything runs from the control node. The target needs a POSIX shell and
    the program in O(argv), nothing else.
options:
  argv:
    description:
      - The program and its arguments. Each one is quoted for the target's POSIX shell, so nothing in them is
        interpreted by a shell (no globbing, no variables, no redirections).
      - Must not be empty. Arguments must not contain NUL characters.
    type: list
    elements: str
    required: true
  stdin:
    description:
      - Text written to the command's standard input. Never returned, never logged.
      - Without it, and when privilege escalation is in use, the command may run on a terminal, where stdout and
        stderr arrive merged (as with M(ansible.builtin.raw)); O(json) then still reads the last line.
    type: str
  json:
    description:
      - Read the last non-empty line of stdout as a JSON object into RV(data), and take the task's C(changed) from its
        C(changed) key.
      - When the command succeeds (rc 0) and that line is not a JSON object, the task fails.
    type: bool
    default: false
author:
  - xenfleet developers (@xenfleet)
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
    details:
      - It all runs on the controller, which sends the command line over the connection.
  async:
    description: Supports being used with the C(async) keyword.
    support: none
  bypass_host_loop:
    description: Forces a 'global' task that does not execute per host, this bypasses per host templating and serial,
      throttle and other loop considerations.
    support: none
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: none
    details:
      - The plugin cannot know what a command does, so check mode skips the task. A task that only reads can set
        C(check_mode=false) to run in check mode too.
  diff_mode:
    description: Will return details on what has changed when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - Like M(ansible.builtin.raw), it does not support the C(environment) keyword.
  - The command runs through the target's shell as C(sh -c), with every word quoted; its exit status is RV(rc).
seealso:
  - module: ansible.builtin.raw
  - module: ansible.builtin.command
"""

EXAMPLES = r"""
- name: Clone a guest disk with the helper, the first-boot files (with the host key) on stdin
  xenfleet.xen.raw_command:
    argv: [python3, /usr/local/lib/xenfleet/xenfleet_guest.py, clone, --vg=xenvg, --template-lv=tmpl-debian12,
           --disk=web1-disk, --size-mib=4096, --firstboot=-]
    stdin: "{{ lookup('ansible.builtin.template', 'firstboot.json.j2') }}"
    json: true
  register: clone

- name: Show how long the clone took
  ansible.builtin.debug:
    msg: "{{ clone.data.seconds }} s, changed: {{ clone.changed }}"

- name: Read something, also in check mode
  xenfleet.xen.raw_command:
    argv: [xl, list]
  check_mode: false
  register: xl_list
"""

RETURN = r"""
cmd:
  description: The argument list that ran.
  returned: always
  type: list
  elements: str
  sample: [python3, /usr/local/lib/xenfleet/xenfleet_guest.py, unlock, web1, 1a2b3c4d-12345-1700000000]
rc:
  description: The command's exit status.
  returned: always
  type: int
  sample: 0
stdout:
  description: What the command wrote to stdout.
  returned: always
  type: str
  sample: '{"changed": false, "released": true}'
stdout_lines:
  description: RV(stdout) split into lines.
  returned: always
  type: list
  elements: str
stderr:
  description: What the command wrote to stderr (merged into RV(stdout) when it ran on a terminal, see O(stdin)).
  returned: always
  type: str
  sample: ''
stderr_lines:
  description: RV(stderr) split into lines.
  returned: always
  type: list
  elements: str
data:
  description: The JSON object on the last non-empty line of stdout.
  returned: when O(json) is true and that line is a JSON object
  type: dict
  sample: {"changed": false, "released": true}
"""
