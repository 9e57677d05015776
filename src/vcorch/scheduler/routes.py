"""HTTP edge of the scheduler: who leads, when it last ran, what comes next."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from vcorch.access import Role
from vcorch.scheduler.leader import Leadership
from vcorch.scheduler.service import SchedulerService
from vcorch.web import ApiRoutes

SCHEDULER = web.AppKey("scheduler", SchedulerService)
LEADERSHIP = web.AppKey("leadership", Leadership)

routes = ApiRoutes(tag="Scheduler")


class PlannedJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str
    kind: str
    meeting_id: int
    run_at: datetime
    late: bool


class SchedulerStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")

    this_process: str
    this_process_leads: bool
    leader: str | None
    last_alive: datetime | None
    next_jobs: list[PlannedJob]


@routes.get(
    "/api/scheduler",
    summary="Which process leads the scheduler, when it last ran, its next jobs",
    response=SchedulerStatus,
    roles=(Role.ADMIN, Role.OPERATOR),
)
async def scheduler_status(app: web.Application) -> SchedulerStatus:
    scheduler = app[SCHEDULER]
    leader, last_alive = await scheduler.leader()
    jobs = await scheduler.plan(scheduler.now())
    return SchedulerStatus(
        this_process=scheduler.identity,
        this_process_leads=app[LEADERSHIP].is_leader,
        leader=leader,
        last_alive=last_alive,
        next_jobs=[
            PlannedJob(
                job_id=job.job_id,
                kind=job.kind.value,
                meeting_id=int(job.meeting_id),
                run_at=job.run_at,
                late=job.late,
            )
            for job in jobs[:50]
        ],
    )
