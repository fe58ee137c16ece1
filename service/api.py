"""Every API router, registered once under the one ``/api/v1`` prefix (``API_PREFIX``).

Feature routers carry only their own path (``/turbines``, ``/alarms``, ...); the dashboard's
pages are not part of the API and are mounted beside it by ``service.main``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from service.alarms.router import router as alarms_router
from service.auth.deps import api_access
from service.auth.router import router as auth_router
from service.baselines.router import router as baselines_router
from service.batches.router import router as batches_router
from service.components.router import router as components_router
from service.jobs.router import router as jobs_router
from service.predictions.router import router as predictions_router
from service.registry.router import router as registry_router
from service.settings import API_PREFIX
from service.turbines.router import router as turbines_router

# Authenticated everywhere; reads need "read", each state-changing route names its own scope.
api_router = APIRouter(prefix=API_PREFIX, dependencies=[Depends(api_access)])
for _router in (batches_router, turbines_router, predictions_router, registry_router,
                alarms_router, components_router, baselines_router, auth_router, jobs_router):
    api_router.include_router(_router)
