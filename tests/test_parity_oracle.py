"""Random TF.js models from the oracle match TF.js's outputs (see tests/oracle.py)."""

from __future__ import annotations

import pytest

from oracle import oracle_cases
from corpus import check_case

_CASES = oracle_cases()


@pytest.mark.skipif(not _CASES, reason="node/npm or ../shared/tools/tfjs-oracle not available")
@pytest.mark.parametrize("case", _CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_oracle_case(case):
    check_case(case)
