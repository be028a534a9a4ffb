"""Word error rate of real-time streaming against the same model decoding whole files offline."""

from __future__ import annotations

import asyncio

from conftest import LiveServer
from speech import PARAGRAPHS, normalize, synthesize

from streamscribe.client import RealtimeClient, stream_audio
from streamscribe.engines import Recognizer


def corpus_wer(references: list[str], hypotheses: list[str]) -> float:
    import jiwer

    return float(jiwer.wer([normalize(r) for r in references], [normalize(h) for h in hypotheses]))


async def test_streaming_wer_is_close_to_offline(live_server: LiveServer, recognizer: Recognizer) -> None:
    async def stream(paragraph: str) -> str:
        async with RealtimeClient(live_server.url) as client:
            result = await stream_audio(client, synthesize(paragraph), speed=1.0)
        return result.text

    streamed = await asyncio.gather(*(stream(p) for p in PARAGRAPHS))
    offline = [await asyncio.to_thread(recognizer.transcribe, synthesize(p)) for p in PARAGRAPHS]
    streaming_wer = corpus_wer(list(PARAGRAPHS), list(streamed))
    offline_wer = corpus_wer(list(PARAGRAPHS), offline)
    print(f"\nstreaming WER {streaming_wer:.3f}, offline WER {offline_wer:.3f}")
    assert streaming_wer <= 0.10, streamed
    assert streaming_wer <= offline_wer + 0.03, (streamed, offline)
