"""One typed settings object, built once from CLI flags and ``STREAMSCRIBE_*`` variables.

Every limit of the server lives here with its default, so that each is explicit, documented
in ``--help`` and the README, and covered by a test.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Server settings; ``Settings(port=9000)`` in code, ``STREAMSCRIBE_PORT=9000`` in the shell."""

    model_config = SettingsConfigDict(env_prefix="STREAMSCRIBE_", frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    model: str = Field(default="whisper-tiny.en", description="model loaded at start and used by default")
    log_level: str = "info"

    # Limits. Values follow the peers where they have one: uvicorn/vLLM take 16 MiB frames, which
    # is far more than realtime needs and lets one client pin a lot of memory; 4 MiB still allows
    # a 2-minute append.
    max_message_bytes: int = Field(default=4 * 1024 * 1024, gt=0, description="largest text frame accepted")
    max_append_seconds: float = Field(default=60.0, gt=0, description="most audio in one append event")
    max_buffered_seconds: float = Field(
        default=300.0, gt=0, description="most audio a session may hold that the engine has not consumed yet"
    )
    max_sessions: int = Field(default=64, gt=0, description="concurrent realtime sessions; more are refused")
    idle_timeout_seconds: float = Field(default=60.0, gt=0, description="close a session silent this long")
    max_pending_events: int = Field(
        default=1024, gt=0, description="events queued for a client that does not read; past it the session closes"
    )

    # Streaming engine and scheduler.
    step_seconds: float = Field(
        default=0.5, gt=0, description="new audio needed before a stream is re-decoded, when the server is idle"
    )
    max_step_seconds: float = Field(default=1.0, gt=0, description="the step interval under full load")
    max_step_delay_seconds: float = Field(
        default=1.0, gt=0, description="steps later than this mean overload: new sessions are refused"
    )
    compute_type: str = "int8"
    # Measured on 2 cores (`streamscribe bench --sessions 4 8`, same step policy): two workers of
    # one thread each held p95 word lag at 1.30 / 2.30 s for 4 / 8 streams, one worker of two
    # threads at 3.32 / 4.21 s: while one worker is in Python (features, agreement), the other
    # keeps a core busy in CTranslate2.
    cpu_threads: int = Field(default=1, gt=0, description="CTranslate2 intra-op threads per worker")
    workers: int = Field(
        default=2, gt=0, description="inference worker threads per loaded model, each with its own model replica"
    )
    max_batch: int = Field(default=16, gt=0, description="streams decoded together in one model call")
