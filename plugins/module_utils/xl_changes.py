# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One change tracker per module run: it feeds both ``changed`` and ``diff``.

Modelled on community.docker's DifferenceTracker: every difference the module finds (or makes) is
recorded once, with its value before and after, and ``changed``, ``diff`` and the list of changes
in the result are all computed from those records.  So ``changed`` can never say one thing while
``--diff`` shows another.

Each record has a ``kind``:

* ``config``: a key of the domain's xl.cfg file (the file is rewritten);
* ``live``: a value changed on the running domain without a restart (mem-set, vcpu-set, ...);
* ``state``: the domain's state (absent, running, paused, shutdown...);
* ``autostart``: the entry in /etc/xen/auto;
* ``file``: a file other than the config (a save file...);
* ``migration``: where the domain runs.

A file's text can be attached (``set_file``) so that ``--diff`` shows it as a text diff with
headers, the way ansible.builtin.copy does.
"""

from __future__ import annotations

KINDS = ('config', 'live', 'state', 'autostart', 'file', 'migration')


class Change(object):
    """One recorded difference."""

    __slots__ = ('key', 'before', 'after', 'kind', 'detail')

    def __init__(self, key, before, after, kind, detail=None):
        self.key = key
        self.before = before
        self.after = after
        self.kind = kind
        self.detail = detail

    def to_dict(self):
        out = {'key': self.key, 'kind': self.kind, 'before': self.before, 'after': self.after}
        if self.detail is not None:
            out['detail'] = self.detail
        return out


class ChangeTracker(object):
    """Records changes; ``changed``, ``diff()`` and ``changes()`` all derive from the records."""

    def __init__(self):
        self._changes = []
        self._files = {}

    def add(self, key, before, after, kind, detail=None):
        """Record a difference; a value equal before and after is not a change and is ignored.

        Returns True when something was recorded.
        """
        if kind not in KINDS:
            raise ValueError('unknown kind of change %r' % (kind,))
        if before == after:
            return False
        self._changes.append(Change(key, before, after, kind, detail))
        return True

    def set_file(self, path, before_text, after_text):
        """Attach the text of a file before and after, for the text diff (only when they differ)."""
        if before_text != after_text:
            self._files[path] = (before_text, after_text)

    @property
    def changed(self):
        return bool(self._changes)

    def has(self, kind=None):
        return any(kind is None or c.kind == kind for c in self._changes)

    def keys(self, kind=None):
        return [c.key for c in self._changes if kind is None or c.kind == kind]

    def changes(self, kind=None):
        """The records as dicts, in the order they were made."""
        return [c.to_dict() for c in self._changes if kind is None or c.kind == kind]

    def diff(self):
        """The ``diff`` of the module result: a text diff per attached file, then one of the rest.

        Config keys are shown by the file's text diff when the text is attached, and as values
        otherwise.  Ansible's callbacks take a list of diffs.
        """
        diffs = []
        for path in sorted(self._files):
            before_text, after_text = self._files[path]
            diffs.append({
                'before_header': '%s (before)' % path if before_text is not None else '%s (absent)' % path,
                'after_header': '%s (after)' % path if after_text is not None else '%s (absent)' % path,
                'before': before_text if before_text is not None else '',
                'after': after_text if after_text is not None else '',
            })
        before, after = {}, {}
        for change in self._changes:
            if change.kind == 'config' and self._files:
                continue
            section = change.kind
            before.setdefault(section, {})[change.key] = change.before
            after.setdefault(section, {})[change.key] = change.after
        if before or after:
            diffs.append({'before': before, 'after': after})
        return diffs
