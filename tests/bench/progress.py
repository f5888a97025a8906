# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared by the benchmarks: run one ansible-playbook with its output in a log, and say every minute where it is
(the task it runs now), so that a step of 40 minutes is never a silent wait."""

from __future__ import annotations

import subprocess
import threading
import time

EVERY = 60


def last_task(log):
    """The task a playbook's log is in now (its last ``TASK [...]`` line)."""
    task = 'start'
    with open(log) as f:
        for line in f:
            line = line.split('] ', 1)[1] if line.startswith('[') and ' s] ' in line[:14] else line
            if line.startswith('TASK ['):
                task = line.split('[', 1)[1].rsplit(']', 1)[0]
    return task


def call_logged(argv, log, label, cwd, say=print):
    """subprocess.call(argv) with stdout+stderr into log, each line stamped with the seconds since the start (so
    that the log tells where a step's time went, task by task); a progress line every EVERY seconds. Returns the
    rc."""
    start = time.monotonic()
    with open(log, 'w') as out:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd,
                                universal_newlines=True, errors='replace')

        def copy():
            for line in proc.stdout:
                out.write('[%7.1f s] %s' % (time.monotonic() - start, line))
                out.flush()

        reader = threading.Thread(target=copy, daemon=True)
        reader.start()
        while True:
            try:
                rc = proc.wait(timeout=EVERY)
            except subprocess.TimeoutExpired:
                say('  ... %s: %d s, at %s' % (label, time.monotonic() - start, last_task(log)))
                continue
            reader.join()
            return rc
