"""Imports every model module so that ``Base.metadata`` is complete (for Alembic and tests)."""

from vcorch.auth import models as auth_models
from vcorch.conference import models as conference_models
from vcorch.db.base import Base
from vcorch.rooms import models as rooms_models

__all__ = ["Base", "auth_models", "conference_models", "rooms_models"]
