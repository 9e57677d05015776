"""Every table of every package in one `Base.metadata`: what Alembic and the tests compare against.

It sits above the packages (beside app.py), since it imports each one's models."""

from vcorch.access import models as access_models
from vcorch.attendance import models as attendance_models
from vcorch.auth import models as auth_models
from vcorch.booking import models as booking_models
from vcorch.bridge_events import models as bridge_events_models
from vcorch.calendars import models as calendars_models
from vcorch.db.base import Base
from vcorch.mail import models as mail_models
from vcorch.monitoring import models as monitoring_models
from vcorch.orchestration import models as orchestration_models
from vcorch.rooms import models as rooms_models
from vcorch.scheduler import models as scheduler_models
from vcorch.stats import models as stats_models

__all__ = [
    "Base",
    "access_models",
    "attendance_models",
    "auth_models",
    "booking_models",
    "bridge_events_models",
    "calendars_models",
    "mail_models",
    "monitoring_models",
    "orchestration_models",
    "rooms_models",
    "scheduler_models",
    "stats_models",
]
