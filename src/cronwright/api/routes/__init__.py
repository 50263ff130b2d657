"""One module per resource; ``all_endpoints()`` collects them for the app and the OpenAPI document."""

from __future__ import annotations

from cronwright.api.registry import Endpoint


def all_endpoints() -> list[Endpoint]:
    from cronwright.api.routes import (
        entities,
        events,
        files,
        jobs,
        runs,
        satellite,
        schedule,
        servers,
        system,
        ui_events,
        ui_jobs,
        ui_misc,
        users,
    )

    endpoints: list[Endpoint] = []
    for router in (
        events.router,
        runs.router,
        schedule.router,
        jobs.router,
        files.router,
        *entities.ROUTERS,
        entities.test_router,
        servers.router,
        system.router,
        users.router,
        satellite.router,
        ui_events.router,
        ui_jobs.router,
        ui_misc.router,
    ):
        endpoints.extend(router.endpoints)
    return endpoints
