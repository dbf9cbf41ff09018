"""Fixtures for the results tests; the record factories live in results_records.py."""

from __future__ import annotations

import pytest
from results_records import KINDS, del_path, make_record, set_path, slower


@pytest.fixture
def records():
    """The factory functions, for tests: records.make(...), records.slower(...)."""

    class _Records:
        make = staticmethod(make_record)
        slower = staticmethod(slower)
        set_path = staticmethod(set_path)
        del_path = staticmethod(del_path)
        kinds = tuple(KINDS)

    return _Records
