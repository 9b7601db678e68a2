"""vigil.audit: the append-only, hash-chained record of every decision and action (docs/audit.md)."""

from vigil.audit.chain import GENESIS, AuditRecord, ChainBreak, first_break
from vigil.audit.log import AuditLog, masked

__all__ = ["GENESIS", "AuditLog", "AuditRecord", "ChainBreak", "first_break", "masked"]
