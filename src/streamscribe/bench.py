"""Load generator: N concurrent real-time sessions; prints latency, CPU per audio second and WER.

Definitions (all client-side, against a server started by the bench unless ``--url`` is given):

- first delta: from the moment the first word's audio was sent (offline word timestamps) to the
  arrival of the session's first delta;
- word lag: for each word of the streamed text matched to the offline transcript, its arrival
  time minus the time its audio ended was sent (p50/p95 over all words of all sessions);
- final latency: final commit sent -> ``transcription.done`` received;
- CPU: server process CPU seconds / audio seconds streamed (needs the server's pid);
- WER: against the reference texts of synthesized speech (lower-cased, punctuation stripped), and
  the same model decoding each whole file offline, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamscribe.audio import SAMPLE_RATE, Samples, load_audio_file
from streamscribe.client import RealtimeClient, StreamResult, stream_audio

#: Harvard sentences (public domain) for synthesized default audio.
DEFAULT_TEXTS = (
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. "
    "It is easy to tell the depth of a well. These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls. The juice of lemons makes fine punch. "
    "The box was thrown beside the parked truck. The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us. A large size in stockings is hard to sell. "
    "The boy was there when the sun rose. A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring. Kick the ball straight and follow through. "
    "Help the woman get back to her feet. A pot of tea helps to pass the evening.",
)


@dataclass
class Clip:
    name: str
    samples: Samples
    reference: str | None
    offline_text: str
    words: list[tuple[str, float, float]]  # offline words with start/end seconds


def _normalize(text: str) -> list[str]:
    import re

    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def _wer(references: list[str], hypotheses: list[str]) -> float:
    import jiwer

    return float(
        jiwer.wer([" ".join(_normalize(r)) for r in references], [" ".join(_normalize(h)) for h in hypotheses])
    )


def load_clips(files: list[str], model: str) -> list[Clip]:
    from faster_whisper import WhisperModel

    from streamscribe.engines import resolve_model_path

    if files:
        sources = [(Path(f).name, load_audio_file(f), None) for f in files]
    else:
        from hibari import Hibari

        from streamscribe.audio import resample

        voice = Hibari()
        sources = [
            (f"harvard-{i}", resample(np.asarray(voice(text, seed=0), dtype=np.float32), 24_000), text)
            for i, text in enumerate(DEFAULT_TEXTS)
        ]
    offline = WhisperModel(resolve_model_path(model), device="cpu", compute_type="int8", cpu_threads=2)
    clips = []
    for name, samples, reference in sources:
        segments, _ = offline.transcribe(samples, beam_size=1, word_timestamps=True, language="en")
        segments = list(segments)
        words = [(w.word, w.start, w.end) for s in segments for w in (s.words or [])]
        clips.append(Clip(name, samples, reference, "".join(s.text for s in segments).strip(), words))
    return clips


def word_lags(result: StreamResult, clip: Clip, speed: float, offset: float) -> list[float]:
    """Arrival minus audio-sent time for each streamed word matched to an offline word."""
    arrivals: list[tuple[str, float]] = []
    for timed in result.deltas:
        for word in _normalize(timed.event["delta"]):
            arrivals.append((word, timed.at))
    offline = [(_normalize(w)[0] if _normalize(w) else "", end) for w, _, end in clip.words]
    matcher = difflib.SequenceMatcher(a=[w for w, _ in arrivals], b=[w for w, _ in offline], autojunk=False)
    lags = []
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            _, arrived = arrivals[block.a + k]
            _, end = offline[block.b + k]
            lags.append(arrived - (offset + end / speed))
    return lags


def _cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


async def run_load(
    url: str, clips: list[Clip], sessions: int, speed: float, stagger: float
) -> list[tuple[Clip, StreamResult]]:
    async def one(index: int) -> tuple[Clip, StreamResult]:
        await asyncio.sleep(index * stagger)
        clip = clips[index % len(clips)]
        async with RealtimeClient(url) as client:
            return clip, await stream_audio(client, clip.samples, speed=speed, chunk_seconds=0.1, timeout=600)

    return list(await asyncio.gather(*(one(i) for i in range(sessions))))


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def summarize(runs: list[tuple[Clip, StreamResult]], speed: float, cpu: float) -> dict[str, float]:
    lags: list[float] = []
    firsts: list[float] = []
    finals: list[float] = []
    for clip, result in runs:
        lags += word_lags(result, clip, speed, 0.0)
        if result.deltas and clip.words:
            firsts.append(result.deltas[0].at - clip.words[0][1] / speed)
        finals.append(result.final_latency)
    audio = sum(len(clip.samples) for clip, _ in runs) / SAMPLE_RATE
    refs = [clip.reference or clip.offline_text for clip, _ in runs]
    return {
        "sessions": len(runs),
        "first_delta_p50": _pct(firsts, 50),
        "lag_p50": _pct(lags, 50),
        "lag_p95": _pct(lags, 95),
        "lag_max": max(lags, default=float("nan")),
        "final_p50": _pct(finals, 50),
        "final_p95": _pct(finals, 95),
        "cpu_per_audio_s": cpu / audio,
        "wer": _wer(refs, [r.text for _, r in runs]),
        "offline_wer": _wer(refs, [clip.offline_text for clip, _ in runs]),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(model: str, extra: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamscribe",
            "serve",
            "--port",
            str(port),
            "--model",
            model,
            "--log-level",
            "warning",
            *extra,
        ]
    )
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process, f"ws://127.0.0.1:{port}/v1/realtime"
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("server did not start")


COLUMNS = [
    "sessions",
    "first_delta_p50",
    "lag_p50",
    "lag_p95",
    "lag_max",
    "final_p50",
    "final_p95",
    "cpu_per_audio_s",
    "wer",
    "offline_wer",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="streamscribe bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="an already running server (default: start one)")
    parser.add_argument("--server-pid", type=int, help="pid of --url's server, for CPU accounting")
    parser.add_argument("--model", default="whisper-tiny.en")
    parser.add_argument("--audio", nargs="*", default=[], help="audio files (default: synthesized Harvard sentences)")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--speed", type=float, default=1.0, help="x real time")
    parser.add_argument("--stagger", type=float, default=0.37, help="seconds between session starts")
    parser.add_argument("--repeat", type=int, default=1, help="runs per N (medians are reported)")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--server-arg", action="append", default=[], help="extra flag for the started server")
    args = parser.parse_args(argv)

    clips = load_clips(args.audio, args.model)
    process = None
    url, pid = args.url, args.server_pid
    if url is None:
        process, url = start_server(args.model, args.server_arg)
        pid = process.pid
    rows = []
    try:
        print("| " + " | ".join(COLUMNS) + " |")
        print("|" + "---|" * len(COLUMNS))
        for sessions in args.sessions:
            repeats = []
            for _ in range(args.repeat):
                before = _cpu_seconds(pid)
                runs = asyncio.run(run_load(url, clips, sessions, args.speed, args.stagger))
                repeats.append(summarize(runs, args.speed, _cpu_seconds(pid) - before))
            row = {key: float(np.median([r[key] for r in repeats])) for key in COLUMNS}
            rows.append(row)
            print(
                "| " + " | ".join(f"{row[k]:.0f}" if k == "sessions" else f"{row[k]:.3f}" for k in COLUMNS) + " |",
                flush=True,
            )
    finally:
        if process:
            process.terminate()
            process.wait(10)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
