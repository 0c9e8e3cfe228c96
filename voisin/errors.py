"""One exception hierarchy: every error carries a short code and a human message.

The CLI prints ``message`` on one line and exits with status 2; it never shows a
traceback for a ``VoisinError``.
"""

from __future__ import annotations


class VoisinError(Exception):
    """Base of every error voisin raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidInput(VoisinError):
    """Bad data from a file, a flag or the network (a bid with NaN price, a broken grid)."""

    code = "invalid-input"


class ClearingError(VoisinError):
    """The market could not produce a result (solver failure, not bad input)."""

    code = "clearing-failed"


class LedgerError(VoisinError):
    """The ledger could not store or read a block."""

    code = "ledger-error"


class VerificationError(LedgerError):
    """The ledger failed verification; ``height`` names the first bad block, ``index``
    the transaction in it (None for the header) and ``rule`` the rule it broke."""

    code = "verification-failed"

    def __init__(
        self,
        message: str,
        *,
        height: int | None = None,
        code: str | None = None,
        index: int | None = None,
        rule: str = "",
        detail: str = "",
    ) -> None:
        super().__init__(message, code=code)
        self.height = height
        self.index = index
        self.rule = rule
        self.detail = detail or message
        """What is wrong, without the block, transaction and rule in front."""
