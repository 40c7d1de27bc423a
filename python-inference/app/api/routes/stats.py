from __future__ import annotations

from fastapi import APIRouter, Depends

from app.api.deps import get_messaging, get_settings
from app.core.config import Settings
from app.messaging.analytics import AnalyticsSnapshot
from app.messaging.lifecycle import Messaging
from app.schemas.stats import ConsumerStatus, ModelStats, Stats

router = APIRouter(prefix="/v1/stats", tags=["stats"])


@router.get(
    "",
    response_model=Stats,
    summary="Counts from the events exchange: predictions per model, label and version, jobs, events per type",
)
async def stats(
    messaging: Messaging | None = Depends(get_messaging),
    settings: Settings = Depends(get_settings),
) -> Stats:
    # Without a broker nothing is consumed: the counts are empty and the consumer is not connected.
    snapshot = await messaging.analytics() if messaging else AnalyticsSnapshot()
    return Stats(
        models={
            name: ModelStats(
                predictions=counts.predictions,
                labels=counts.labels,
                versions=counts.versions,
                jobs_completed=counts.jobs_completed,
                jobs_failed=counts.jobs_failed,
            )
            for name, counts in snapshot.models.items()
        },
        events=snapshot.events,
        consumer=ConsumerStatus(
            connected=messaging.consumer_connected if messaging else False,
            queue=settings.ANALYTICS_QUEUE,
        ),
    )
