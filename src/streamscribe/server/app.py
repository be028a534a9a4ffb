"""``create_app(settings)``: the ASGI app, its model loading at start and draining at stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from streamscribe import __version__
from streamscribe.config import Settings
from streamscribe.engines import Recognizer, WhisperOptions, load_recognizer
from streamscribe.load import LoadPolicy
from streamscribe.metrics import Metrics
from streamscribe.scheduler import Scheduler
from streamscribe.server.realtime import realtime_endpoint
from streamscribe.server.rest import router
from streamscribe.server.state import ServerState

log = logging.getLogger(__name__)


def engine_options(settings: Settings) -> WhisperOptions:
    return WhisperOptions(
        compute_type=settings.compute_type, cpu_threads=settings.cpu_threads, ct2_replicas=settings.workers
    )


def create_app(settings: Settings | None = None, recognizer: Recognizer | None = None) -> FastAPI:
    """Build the app. Pass ``recognizer`` to share an already loaded model (tests, embedding)."""
    settings = settings or Settings()
    state = ServerState(settings=settings, metrics=Metrics())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        model = recognizer
        if model is None:
            log.info("loading model %s", settings.model)
            model = await asyncio.to_thread(load_recognizer, settings.model, engine_options(settings))
            await asyncio.to_thread(model.warm_up)
        scheduler = Scheduler(
            model,
            policy=LoadPolicy(
                min_step=settings.step_seconds,
                max_step=max(settings.max_step_seconds, settings.step_seconds),
                max_delay=settings.max_step_delay_seconds,
            ),
            max_batch=settings.max_batch,
            workers=settings.workers,
            max_buffered_seconds=settings.max_buffered_seconds,
            metrics=state.metrics,
        )
        scheduler.start()
        state.schedulers[settings.model] = scheduler
        log.info("streamscribe ready: model %s", settings.model)
        try:
            yield
        finally:
            scheduler.stop()

    app = FastAPI(title="streamscribe", version=__version__, lifespan=lifespan)
    app.state.streamscribe = state
    app.include_router(router)
    app.add_api_websocket_route("/v1/realtime", realtime_endpoint)
    return app
