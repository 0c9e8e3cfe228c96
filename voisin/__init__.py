"""Voisin: a neighbourhood peer-to-peer energy marketplace.

The user's folders (agents/, market/, ledger/, meters/, cli/) and protocol/ install as
sub-packages of this one import package; see pyproject.toml.
"""

__version__ = "0.1.0"
