# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of xenfleet.xen.raw_command: an argument list run over the connection with no Python start on the
target (documentation: plugins/modules/raw_command.py)."""

from __future__ import annotations

import json
import shlex

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.action import ActionBase

ARGUMENT_SPEC = {
    'argv': {'type': 'list', 'elements': 'str', 'required': True},
    'stdin': {'type': 'str', 'no_log': True},
    'json': {'type': 'bool', 'default': False},
}


def command_line(argv):
    """The shell command line of ARGV, every word quoted; a clear error for what cannot be run."""
    if not argv:
        raise AnsibleActionFail('argv must name a program: it is empty')
    for arg in argv:
        if '\0' in arg:
            raise AnsibleActionFail('argv must not contain NUL characters: %r' % arg)
    return ' '.join(shlex.quote(arg) for arg in argv)


def last_json_object(stdout):
    """The JSON object on the last non-empty line of STDOUT, or None."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        return None
    try:
        data = json.loads(lines[-1])
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    # what a command does is unknown here: check mode skips it (a read-only task sets check_mode: false)
    _supports_check_mode = False
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        cmd = command_line(args['argv'])
        stdin = args.get('stdin')
        # No terminal unless privilege escalation may need one: stdout and stderr stay apart
        become = bool(self._connection.become)
        res = self._low_level_execute_command(cmd, sudoable=become,
                                              in_data=to_bytes(stdin) if stdin is not None else None)
        result.update({
            'cmd': list(args['argv']),
            'rc': res['rc'],
            'stdout': res['stdout'],
            'stdout_lines': res['stdout'].splitlines(),
            'stderr': res['stderr'],
            'stderr_lines': res['stderr'].splitlines(),
            'changed': True,
        })
        if args['json']:
            data = last_json_object(res['stdout'])
            if data is not None:
                result['data'] = data
                result['changed'] = bool(data.get('changed', False))
            elif res['rc'] == 0:
                result['failed'] = True
                result['msg'] = ('%s succeeded but the last line of its output is not a JSON object: %s'
                                 % (args['argv'][0], (res['stdout'].strip().splitlines() or ['(no output)'])[-1][:300]))
                return result
        if res['rc'] != 0:
            result['failed'] = True
            detail = (res['stderr'] or res['stdout']).strip().splitlines()
            result['msg'] = 'non-zero return code %d from %s%s' % (res['rc'], args['argv'][0],
                                                                   (': ' + detail[-1][:300]) if detail else '')
        return result
