"""Plain HTTP routes: health, models, metrics."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streamscribe.server.state import ServerState

router = APIRouter()
_STARTED = int(time.time())


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.streamscribe
    return state


@router.get("/health")
async def health(request: Request) -> dict[str, object]:
    """Liveness plus the counts a load balancer (and the leak tests) care about."""
    state = _state(request)
    return {
        "status": "ok",
        "sessions": state.sessions,
        "streams": sum(s.active_streams for s in state.schedulers.values()),
        "models": sorted(state.schedulers),
    }


@router.get("/v1/models")
async def models(request: Request) -> dict[str, object]:
    """OpenAI's model list shape."""
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": _STARTED, "owned_by": "streamscribe"}
            for name in sorted(_state(request).schedulers)
        ],
    }


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    return Response(generate_latest(_state(request).metrics.registry), media_type=CONTENT_TYPE_LATEST)
