"""Errors of the rooms package (all derive from the shared roots in :mod:`vcorch.errors`).

- :class:`~vcorch.errors.NotFound`: no such unit/room/endpoint in the caller's scope.
- :class:`UnitTreeError`: the change would break the unit tree (cycle, unknown parent, level order).
- :class:`~vcorch.errors.InvalidInput`: other rule breaks (address not dialable, unknown level).
- :class:`DuplicateCode`: a unit code already in use.
- :class:`~vcorch.errors.StillReferenced`: delete refused, with what refers to the thing.
- :class:`~vcorch.errors.PermissionDenied`: the target lies outside the caller's unit scope.
"""

from __future__ import annotations

from vcorch.errors import Conflict, InvalidInput


class UnitTreeError(InvalidInput):
    code = "unit-tree"


class DuplicateCode(Conflict):
    code = "duplicate-code"
