"""The suite's xdist groups hold: tests that share an expensive fixture run on one worker.

``scripts/test`` runs pytest with ``--dist loadgroup``; pytest-xdist groups the tests by a
``@<group>`` suffix it gives their node ids. pytest 9.2 stopped honouring that suffix, which
silently spread every group over all workers (the promotion world was built four times); this
test fails when the grouping does not take effect.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.xdist_group("probe")


def test_marked_tests_carry_their_group_under_loadgroup(request: pytest.FixtureRequest) -> None:
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not a --dist loadgroup worker: nothing is grouped")
    assert request.node.nodeid.endswith("@probe"), request.node.nodeid
