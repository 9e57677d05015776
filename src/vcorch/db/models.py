"""Imports every model module so that ``Base.metadata`` is complete (for Alembic and tests)."""

from vcorch.auth import models as auth_models
from vcorch.conference import models as conference_models
from vcorch.conference.attendance import models as attendance_models
from vcorch.conference.stats import models as stats_models
from vcorch.db.base import Base
from vcorch.monitoring import models as monitoring_models
from vcorch.rooms import models as rooms_models

__all__ = [
    "Base",
    "attendance_models",
    "auth_models",
    "conference_models",
    "monitoring_models",
    "rooms_models",
    "stats_models",
]
