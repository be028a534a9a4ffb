"""The real server over real sockets: every client flow, the invariant, every bad input, limits."""

from __future__ import annotations

import asyncio
import base64
import json

import numpy as np
import pytest
import websockets
from conftest import LiveServer
from speech import PARAGRAPHS, normalize, synthesize, wer

from streamscribe.audio import SAMPLE_RATE, encode_pcm16_base64
from streamscribe.client import RealtimeClient, stream_audio

FAST = 4.0  # x real time, for tests about protocol rather than latency


def deltas_of(events: list[dict]) -> list[str]:
    return [e["delta"] for e in events if e["type"] == "transcription.delta"]


def assert_invariant(events: list[dict]) -> dict:
    done = events[-1]
    assert done["type"] == "transcription.done"
    deltas = deltas_of(events)
    assert all(deltas), "empty deltas are never sent"
    assert "".join(deltas) == done["text"]
    return done


async def send_audio(client: RealtimeClient, samples: np.ndarray, chunk: float = 0.128) -> None:
    step = int(chunk * SAMPLE_RATE)
    for offset in range(0, len(samples), step):
        await client.append(samples[offset : offset + step])


async def test_session_created_first(live_server: LiveServer) -> None:
    async with RealtimeClient(live_server.url) as client:
        assert client.session["type"] == "session.created"
        assert client.session["id"].startswith("sess-")
        assert isinstance(client.session["created"], int)


async def test_flow_a_commit_appends_final(live_server: LiveServer) -> None:
    audio = synthesize(PARAGRAPHS[0])
    async with RealtimeClient(live_server.url) as client:
        result = await stream_audio(client, audio, speed=FAST)
    done = assert_invariant([t.event for t in result.events])
    assert wer(PARAGRAPHS[0], done["text"]) <= 0.15
    assert done["usage"]["completion_tokens"] > 0
    assert done["usage"]["total_tokens"] == done["usage"]["prompt_tokens"] + done["usage"]["completion_tokens"]
    assert done["usage"]["audio_seconds"] == pytest.approx(len(audio) / SAMPLE_RATE, abs=0.01)


async def test_flow_b_appends_then_final_without_opening_commit(live_server: LiveServer) -> None:
    audio = synthesize(PARAGRAPHS[1])
    async with RealtimeClient(live_server.url) as client:
        await send_audio(client, audio)
        await client.commit(final=True)
        events = await client.receive_until("transcription.done")
    done = assert_invariant(events)
    assert wer(PARAGRAPHS[1], done["text"]) <= 0.15


async def test_flow_c_session_update_then_two_utterances(live_server: LiveServer) -> None:
    async with RealtimeClient(live_server.url) as client:
        await client.update_session(model="whisper-tiny.en")
        updated = await client.receive(timeout=5)
        assert updated == {
            "type": "session.updated",
            "id": client.session["id"],
            "model": "whisper-tiny.en",
            "language": None,
        }
        texts = []
        for paragraph in PARAGRAPHS[2:4]:
            await client.commit()
            await send_audio(client, synthesize(paragraph))
            await client.commit(final=True)
            texts.append(assert_invariant(await client.receive_until("transcription.done"))["text"])
    for paragraph, text in zip(PARAGRAPHS[2:4], texts, strict=True):
        assert wer(paragraph, text) <= 0.15


async def test_flow_d_empty_commit_gives_empty_done_and_server_stays_healthy(live_server: LiveServer) -> None:
    async with RealtimeClient(live_server.url) as client:
        await client.commit()
        await client.commit(final=True)
        events = await client.receive_until("transcription.done", timeout=10)
        assert events[-1]["text"] == "" and deltas_of(events) == []
    audio = synthesize(PARAGRAPHS[0])
    async with RealtimeClient(live_server.url) as client:
        result = await stream_audio(client, audio, speed=0)
    assert wer(PARAGRAPHS[0], result.text) <= 0.15


async def test_vllm_example_client_sequence(live_server: LiveServer) -> None:
    """What vLLM's openai_realtime_client.py sends: update + commit back to back, 4096-byte appends."""
    audio = synthesize(PARAGRAPHS[3])
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    async with websockets.connect(live_server.url) as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"
        await ws.send(json.dumps({"type": "session.update", "model": "whisper-tiny.en"}))
        await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        for offset in range(0, len(pcm), 4096):
            chunk = base64.b64encode(pcm[offset : offset + 4096]).decode()
            await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
        await ws.send(json.dumps({"type": "input_audio_buffer.commit", "final": True}))
        events = []
        while not events or events[-1]["type"] != "transcription.done":
            events.append(json.loads(await asyncio.wait_for(ws.recv(), 60)))
    done = assert_invariant([e for e in events if e["type"] != "session.updated"])
    assert wer(PARAGRAPHS[3], done["text"]) <= 0.15


async def test_text_arrives_while_the_speaker_is_still_talking(live_server: LiveServer) -> None:
    audio = np.concatenate([synthesize(PARAGRAPHS[0]), synthesize(PARAGRAPHS[1])])
    async with RealtimeClient(live_server.url) as client:
        result = await stream_audio(client, audio, speed=1.0)
    first = result.deltas[0].at
    assert first < result.final_commit_at / 2, f"first delta at {first:.2f}s of {result.final_commit_at:.2f}s"
    early = "".join(t.event["delta"] for t in result.deltas if t.at < result.final_commit_at)
    assert len(normalize(early)) > 0.7 * len(normalize(result.text))
    assert_invariant([t.event for t in result.events])


@pytest.mark.parametrize(
    "message, code",
    [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_event"),
        ('{"audio": "AAAA"}', "unknown_event"),
        ('{"type": "input_audio_buffer.clear"}', "unknown_event"),
        ('{"type": "input_audio_buffer.append"}', "invalid_event"),
        ('{"type": "input_audio_buffer.append", "audio": 5}', "invalid_event"),
        ('{"type": "input_audio_buffer.append", "audio": "!!not base64!!"}', "invalid_audio"),
        ('{"type": "input_audio_buffer.append", "audio": "AA=="}', "invalid_audio"),  # 1 byte: odd PCM
        ('{"type": "input_audio_buffer.commit", "final": true}', "invalid_state"),
        ('{"type": "session.update", "model": "no-such-model"}', "model_not_found"),
    ],
)
async def test_bad_input_gets_an_error_and_the_session_goes_on(
    live_server: LiveServer, message: str, code: str
) -> None:
    async with websockets.connect(live_server.url) as ws:
        await ws.recv()
        await ws.send(message)
        error = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert error["type"] == "error" and error["code"] == code and error["error"]
        assert set(error) == {"type", "error", "code"}
        if code == "model_not_found":
            assert "no-such-model" in error["error"]
        # Still usable: a full utterance afterwards.
        await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        await ws.send(json.dumps({"type": "input_audio_buffer.commit", "final": True}))
        done = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert done["type"] == "transcription.done"


async def test_binary_frame_gets_an_error_and_the_session_goes_on(live_server: LiveServer) -> None:
    async with websockets.connect(live_server.url) as ws:
        await ws.recv()
        await ws.send(b"\x00\x01\x02\x03")
        error = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert error["code"] == "invalid_frame"
        await ws.send(json.dumps({"type": "session.update", "model": "whisper-tiny.en"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "session.updated"


async def test_errors_do_not_lose_text_already_streaming(live_server: LiveServer) -> None:
    audio = synthesize(PARAGRAPHS[2])
    async with websockets.connect(live_server.url) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        half = len(audio) // 2
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": encode_pcm16_base64(audio[:half])}))
        await ws.send("garbage")
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": encode_pcm16_base64(audio[half:])}))
        await ws.send(json.dumps({"type": "input_audio_buffer.commit", "final": True}))
        events = []
        while not events or events[-1]["type"] != "transcription.done":
            events.append(json.loads(await asyncio.wait_for(ws.recv(), 60)))
    assert [e["code"] for e in events if e["type"] == "error"] == ["invalid_json"]
    done = assert_invariant([e for e in events if e["type"] != "error"])
    assert wer(PARAGRAPHS[2], done["text"]) <= 0.15


@pytest.mark.parametrize("sessions", [2, 4])
async def test_concurrent_sessions_are_each_transcribed(live_server: LiveServer, sessions: int) -> None:
    async def one(paragraph: str) -> str:
        async with RealtimeClient(live_server.url) as client:
            result = await stream_audio(client, synthesize(paragraph), speed=2.0)
        assert_invariant([t.event for t in result.events])
        return result.text

    texts = await asyncio.gather(*(one(PARAGRAPHS[i % len(PARAGRAPHS)]) for i in range(sessions)))
    for i, text in enumerate(texts):
        assert wer(PARAGRAPHS[i % len(PARAGRAPHS)], text) <= 0.15, text


async def wait_until_idle(server: LiveServer, timeout: float = 10.0) -> dict[str, object]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        health = await asyncio.to_thread(server.health)
        if (health["sessions"], health["streams"]) == (0, 0) or asyncio.get_running_loop().time() > deadline:
            return health
        await asyncio.sleep(0.1)


async def test_disconnect_mid_utterance_leaves_nothing_behind(live_server: LiveServer) -> None:
    audio = synthesize(PARAGRAPHS[0])
    for _ in range(3):
        ws = await websockets.connect(live_server.url)
        await ws.recv()
        await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": encode_pcm16_base64(audio)}))
        await asyncio.sleep(0.3)
        await ws.close()
    health = await wait_until_idle(live_server)
    assert health["sessions"] == 0 and health["streams"] == 0
    scheduler = live_server.state.schedulers["whisper-tiny.en"]
    assert scheduler.active_streams == 0


async def test_health_models_metrics(live_server: LiveServer) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=live_server.http) as http:
        assert (await http.get("/health")).json()["status"] == "ok"
        models = (await http.get("/v1/models")).json()
        assert [m["id"] for m in models["data"]] == ["whisper-tiny.en"]
        metrics = (await http.get("/metrics")).text
        assert "streamscribe_sessions_total" in metrics and "streamscribe_step_seconds_bucket" in metrics


async def test_a_live_source_of_irregular_chunks(live_server: LiveServer) -> None:
    """What ``transcribe --mic`` does: chunks of whatever size the device delivers, as they come."""
    from streamscribe.client import stream_chunks

    audio = synthesize(PARAGRAPHS[3])
    sizes = np.random.default_rng(0).integers(160, 4000, size=len(audio) // 160)
    edges = np.cumsum(sizes)

    async def device():  # noqa: ANN202
        start = 0
        for end in edges:
            if start >= len(audio):
                return
            yield audio[start:end]
            await asyncio.sleep((end - start) / SAMPLE_RATE / 4)  # 4x real time
            start = end

    async with RealtimeClient(live_server.url) as client:
        result = await stream_chunks(client, device())
    assert result.audio_seconds == pytest.approx(len(audio) / SAMPLE_RATE)
    assert_invariant([t.event for t in result.events])
    assert wer(PARAGRAPHS[3], result.text) <= 0.15
