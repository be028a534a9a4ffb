"""The ASGI server: routes, the WebSocket driver, shared state."""

from streamscribe.server.app import create_app

__all__ = ["create_app"]
