"""HiGHS's statuses as the market reads them: Ctrl-C is the user's stop, not a failure."""

from __future__ import annotations

import highspy
import pytest

from voisin.market.lp import SolveStatus
from voisin.market.lp_highs import status_of

KIND = highspy.HighsModelStatus


@pytest.mark.parametrize(
    "interrupted", [KIND.kInterrupt, getattr(KIND, "kHighsInterrupt", KIND.kInterrupt)]
)
def test_an_interrupted_solve_is_a_keyboard_interrupt(
    interrupted: highspy.HighsModelStatus,
) -> None:
    with pytest.raises(KeyboardInterrupt):
        status_of(interrupted)


def test_the_other_statuses() -> None:
    assert status_of(KIND.kOptimal) is SolveStatus.OPTIMAL
    assert status_of(KIND.kInfeasible) is SolveStatus.INFEASIBLE
    assert status_of(KIND.kUnboundedOrInfeasible) is SolveStatus.UNBOUNDED
    assert status_of(KIND.kTimeLimit) is SolveStatus.FAILED
