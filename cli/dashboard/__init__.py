"""`voisin dashboard`: a read-only operator view of a ledger, following it as it grows.

One data source (``LedgerFeed``) feeds a few widgets, each in its own module.
"""

from voisin.cli.dashboard.app import DashboardApp
from voisin.cli.dashboard.feed import LedgerFeed
from voisin.cli.dashboard.watch import OperatorWatch

__all__ = ["DashboardApp", "LedgerFeed", "OperatorWatch"]
