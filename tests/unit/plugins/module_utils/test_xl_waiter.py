# -*- coding: utf-8 -*-
# Copyright: xenfleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The waiter, on a fake clock: no real time passes."""

from __future__ import annotations

import pytest

from ansible_collections.xenfleet.xen.plugins.module_utils.xl_errors import XlTimeoutError, XlValidationError
from ansible_collections.xenfleet.xen.plugins.module_utils.xl_waiter import Waiter
from ansible_collections.xenfleet.xen.tests.unit.plugins.module_utils.xen_fixtures import FakeClock


def counter(values):
    values = list(values)

    def probe():
        return values.pop(0) if len(values) > 1 else values[0]
    return probe


@pytest.mark.parametrize('values, timeout, interval, value, elapsed, sleeps', [
    ([True], 10, 1, True, 0, []),
    ([False, False, True], 10, 1, True, 2, [1, 1]),
    ([False, True], 10, 3, True, 3, [3]),
    ([False, False, False, True], 5, 2, True, 5, [2, 2, 1]),   # the last sleep stops at the deadline
])
def test_until(values, timeout, interval, value, elapsed, sleeps):
    clock = FakeClock()
    waiter = Waiter(clock=clock, sleep=clock.sleep)
    got, took = waiter.until(counter(values), bool, timeout=timeout, interval=interval)
    assert (got, took) == (value, elapsed)
    assert clock.sleeps == sleeps
    assert [v for dummy, v in waiter.observations][-1] is value


def test_until_times_out_with_the_last_value():
    clock = FakeClock()
    waiter = Waiter(clock=clock, sleep=clock.sleep)
    with pytest.raises(XlTimeoutError) as exc:
        waiter.until(lambda: 'running', lambda v: v == 'gone', timeout=3, interval=1, what='web1 to stop')
    assert exc.value.details['last'] == 'running'
    assert 'web1 to stop' in exc.value.message
    assert clock.now - 1000.0 == 3
    assert len(waiter.observations) == 4


def test_zero_timeout_probes_once():
    clock = FakeClock()
    waiter = Waiter(clock=clock, sleep=clock.sleep)
    assert waiter.until(lambda: 1, bool, timeout=0) == (1, 0)
    with pytest.raises(XlTimeoutError):
        waiter.until(lambda: 0, bool, timeout=0)
    assert clock.sleeps == []


@pytest.mark.parametrize('timeout, interval', [(-1, 1), ('5', 1), (True, 1), (5, 0), (5, None)])
def test_bad_arguments(timeout, interval):
    with pytest.raises(XlValidationError):
        Waiter().until(lambda: True, bool, timeout=timeout, interval=interval)
