# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Poll until a predicate holds or a deadline passes.  The clock and sleep are injectable."""

from __future__ import annotations

import time

from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import XlTimeoutError, XlValidationError


class Waiter(object):
    """``until(probe, predicate, timeout)`` calls ``probe()`` until ``predicate(value)`` is true.

    ``clock`` returns seconds (monotonic), ``sleep`` waits; tests pass a fake pair so that no
    time really passes.  Every probe is recorded in ``observations`` as (seconds since the
    start, value) so that a module can report what it saw (e.g. downtime during a migration).
    """

    def __init__(self, clock=time.monotonic, sleep=time.sleep):
        self.clock = clock
        self.sleep = sleep
        self.observations = []

    def until(self, probe, predicate, timeout, interval=1.0, what='the condition'):
        """Return (value, elapsed seconds) once ``predicate(probe())`` holds.

        The probe runs at least once, even with ``timeout=0``.  Raises XlTimeoutError (whose
        ``details['last']`` is the last value seen) when the deadline passes first.
        """
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise XlValidationError('timeout must be a number of seconds >= 0, got %r' % (timeout,))
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval <= 0:
            raise XlValidationError('interval must be a number of seconds > 0, got %r' % (interval,))
        start = self.clock()
        deadline = start + timeout
        self.observations = []
        while True:
            value = probe()
            now = self.clock()
            self.observations.append((now - start, value))
            if predicate(value):
                return value, now - start
            if now >= deadline:
                raise XlTimeoutError('timed out after %gs waiting for %s' % (timeout, what), last=value)
            self.sleep(max(0.0, min(interval, deadline - now)))
