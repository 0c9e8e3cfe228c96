"""The feeder's physics: power flows that check what the market cleared.

``lindistflow`` is the linearised branch-flow reference the clearing LP is tested
against; ``ac_check`` runs pandapower's AC power flow on the same grid and injections
and reports voltages, loadings, losses, violations and the linearisation error;
``simbench_feeder`` turns a SimBench LV grid and its profiles into voisin data.
"""

from voisin.grid.ac_check import AcCheck, AcModel, Violation, VoltageError, ac_check
from voisin.grid.branch_list import grid_from_branch_list
from voisin.grid.injections import Injections
from voisin.grid.lindistflow import FlowState, lindistflow, source_vm_pu
from voisin.grid.pandapower_net import pandapower_net
from voisin.grid.simbench_grids import SimbenchFeeder, SimbenchUnit, simbench_feeder

__all__ = [
    "AcCheck",
    "AcModel",
    "FlowState",
    "Injections",
    "SimbenchFeeder",
    "SimbenchUnit",
    "Violation",
    "VoltageError",
    "ac_check",
    "grid_from_branch_list",
    "lindistflow",
    "pandapower_net",
    "simbench_feeder",
    "source_vm_pu",
]
