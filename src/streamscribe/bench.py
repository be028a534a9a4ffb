"""Load generator: N concurrent real-time sessions; latency, lag, CPU and WER; sweeps for capacity.

Every system under test is driven the same way: ``N`` sessions, starts staggered, each streaming a
clip at real-time pace in 100 ms chunks, and each session's transcript recorded as *snapshots*
(the text a user would see, with its arrival time). From the snapshots:

- first delta: first text's arrival minus the time the first word's audio was sent;
- word lag: for each word of the offline transcript (faster-whisper word timestamps, same
  model), the first snapshot that shows it, minus the time the word's audio had been sent
  (p50/p95/max over every word of every session). For streamscribe snapshots are stable text
  only; a peer's snapshots include its unstable text, which favours the peer;
- final latency: end of audio sent -> final transcript received;
- real-time lag: the largest final latency of the run (how far behind real time the server ended);
- CPU: the server process' CPU seconds over the run, per audio second and as % of one core;
- WER: final transcripts against the reference texts (synthesized speech) or, for files, the
  offline transcript; ``offline_wer`` is the same model decoding each whole clip.

``--sweep`` raises N until p95 word lag passes ``--bound`` (default 2.0 s) or the server falls
behind real time, and prints the largest N that held: streams per machine.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from streamscribe.audio import SAMPLE_RATE, Samples, load_audio_file
from streamscribe.client import RealtimeClient, stream_audio

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
CHUNK_SECONDS = 0.1


@dataclass
class Clip:
    name: str
    samples: Samples
    reference: str | None
    offline_text: str
    words: list[tuple[str, float, float]]  # offline words with start/end seconds

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


@dataclass
class Trace:
    """One session as the client saw it; times in seconds since its first audio was sent."""

    snapshots: list[tuple[float, str]] = field(default_factory=list)
    final_text: str = ""
    end_sent_at: float = 0.0
    final_at: float = 0.0
    error: str | None = None

    @property
    def final_latency(self) -> float:
        return self.final_at - self.end_sent_at


Streamer = Callable[[str, Clip, float], Awaitable[Trace]]


def normalize(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def corpus_wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    import jiwer

    return float(jiwer.wer([" ".join(normalize(r)) for r in references], [" ".join(normalize(h)) for h in hypotheses]))


def load_clips(files: Sequence[str], model: str) -> list[Clip]:
    """The audio set, with offline transcripts and word timestamps from the same model."""
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
        segments = list(offline.transcribe(samples, beam_size=1, word_timestamps=True, language="en")[0])
        words = [(w.word, w.start, w.end) for s in segments for w in (s.words or [])]
        clips.append(Clip(name, samples, reference, "".join(s.text for s in segments).strip(), words))
    return clips


def word_arrivals(trace: Trace, clip: Clip) -> list[tuple[float, float]]:
    """(arrival, audio end) for each offline word some snapshot shows, matched in order."""
    offline = [(normalize(w) or [""])[0] for w, _, _ in clip.words]
    first_seen: dict[int, float] = {}
    for at, text in trace.snapshots:
        matcher = difflib.SequenceMatcher(a=normalize(text), b=offline, autojunk=False)
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                first_seen.setdefault(block.b + k, at)
    return [(at, clip.words[j][2]) for j, at in sorted(first_seen.items())]


async def stream_streamscribe(url: str, clip: Clip, speed: float) -> Trace:
    trace = Trace()
    text = ""
    async with RealtimeClient(url) as client:
        result = await stream_audio(client, clip.samples, speed=speed, chunk_seconds=CHUNK_SECONDS, timeout=900)
    for timed in result.events:
        if timed.event.get("type") == "transcription.delta":
            text += timed.event["delta"]
            trace.snapshots.append((timed.at, text))
    trace.final_text, trace.end_sent_at, trace.final_at = result.text, result.final_commit_at, result.done_at
    if result.errors:
        trace.error = str(result.errors[0])
    return trace


@dataclass
class System:
    """A server under test: how to start it and how to stream to it."""

    name: str
    start: Callable[[int], subprocess.Popen[bytes]]
    url: Callable[[int], str]
    stream: Streamer
    health: Callable[[int], bool]


def http_ok(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.HTTPError:
        return False


def streamscribe_system(model: str, extra: Sequence[str] = ()) -> System:
    def start(port: int) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "streamscribe", "serve", "--port", str(port), "--model", model]
        return subprocess.Popen([*command, "--log-level", "warning", *extra])

    return System(
        name="streamscribe",
        start=start,
        url=lambda port: f"ws://127.0.0.1:{port}/v1/realtime",
        stream=stream_streamscribe,
        health=lambda port: http_ok(f"http://127.0.0.1:{port}/health"),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RunningServer:
    """A system's server process on a free port, ready when its health check passes."""

    def __init__(self, system: System, timeout: float = 300.0) -> None:
        self.system = system
        self.port = free_port()
        self.process = system.start(self.port)
        deadline = time.monotonic() + timeout
        while not system.health(self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"{system.name} did not start (exit code {self.process.poll()})")
            time.sleep(0.5)

    @property
    def url(self) -> str:
        return self.system.url(self.port)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def run_sessions(
    system: System, url: str, clips: Sequence[Clip], sessions: int, speed: float, stagger: float
) -> list[tuple[Clip, Trace]]:
    async def one(index: int) -> tuple[Clip, Trace]:
        await asyncio.sleep(index * stagger)
        clip = clips[index % len(clips)]
        try:
            return clip, await system.stream(url, clip, speed)
        except Exception as exc:  # a refused or broken session is a result, not a crash of the bench
            return clip, Trace(error=f"{type(exc).__name__}: {exc}")

    return list(await asyncio.gather(*(one(i) for i in range(sessions))))


def _pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def summarize(runs: Sequence[tuple[Clip, Trace]], speed: float, cpu: float, wall: float) -> dict[str, float]:
    lags, firsts, finals = [], [], []
    for clip, trace in runs:
        arrivals = word_arrivals(trace, clip)
        lags += [at - end / speed for at, end in arrivals]
        shown = [at for at, text in trace.snapshots if normalize(text)]
        if shown and clip.words:
            firsts.append(shown[0] - clip.words[0][1] / speed)
        if trace.final_at:
            finals.append(trace.final_latency)
    ok = [(clip, trace) for clip, trace in runs if trace.error is None and trace.final_at]
    audio = sum(clip.seconds for clip, _ in runs)
    references = [clip.reference or clip.offline_text for clip, _ in runs]
    return {
        "sessions": len(runs),
        "failed": len(runs) - len(ok),
        "first_delta_p50": _pct(firsts, 50),
        "lag_p50": _pct(lags, 50),
        "lag_p95": _pct(lags, 95),
        "lag_max": max(lags, default=float("nan")),
        "final_p50": _pct(finals, 50),
        "final_p95": _pct(finals, 95),
        "rt_lag": max(finals, default=float("nan")),
        "cpu_per_audio_s": cpu / audio,
        "cpu_pct": 100 * cpu / wall,
        "wer": corpus_wer(references, [trace.final_text for _, trace in runs]),
        "offline_wer": corpus_wer(references, [clip.offline_text for clip, _ in runs]),
    }


COLUMNS = [
    "sessions", "failed", "first_delta_p50", "lag_p50", "lag_p95", "lag_max",
    "final_p50", "final_p95", "rt_lag", "cpu_per_audio_s", "cpu_pct", "wer", "offline_wer",
]  # fmt: skip


def measure(
    server: RunningServer, clips: Sequence[Clip], sessions: int, speed: float, stagger: float, repeat: int
) -> dict[str, float]:
    """Median of ``repeat`` runs at ``sessions`` concurrent streams."""
    rows = []
    for _ in range(repeat):
        before, started = cpu_seconds(server.process.pid), time.monotonic()
        runs = asyncio.run(run_sessions(server.system, server.url, clips, sessions, speed, stagger))
        rows.append(summarize(runs, speed, cpu_seconds(server.process.pid) - before, time.monotonic() - started))
    return {key: float(np.median([r[key] for r in rows])) for key in COLUMNS}


def held(row: dict[str, float], bound: float) -> bool:
    """Timely: no failed session, p95 word lag within the bound, and the server ended on time."""
    return row["failed"] == 0 and row["lag_p95"] <= bound and row["rt_lag"] <= bound


def sweep(
    server: RunningServer, clips: Sequence[Clip], levels: Sequence[int], speed: float, stagger: float,
    repeat: int, bound: float, report: Callable[[dict[str, float]], None],
) -> tuple[int, list[dict[str, float]]]:  # fmt: skip
    """Raise N through ``levels`` until the bound breaks; the largest N that held, and every row."""
    best, rows = 0, []
    for sessions in levels:
        row = measure(server, clips, sessions, speed, stagger, repeat)
        rows.append(row)
        report(row)
        if not held(row, bound):
            break
        best = sessions
    return best, rows


def format_row(row: dict[str, float], system: str | None = None) -> str:
    cells = [system] if system else []
    cells += [f"{row[k]:.0f}" if k in ("sessions", "failed") else f"{row[k]:.3f}" for k in COLUMNS]
    return "| " + " | ".join(cells) + " |"


def header(with_system: bool = False) -> str:
    columns = (["system"] if with_system else []) + COLUMNS
    return "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns)


SWEEP_LEVELS = (1, 2, 4, 6, 8, 10, 12, 16, 20, 24, 32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="streamscribe bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="whisper-tiny.en")
    parser.add_argument("--audio", nargs="*", default=[], help="audio files (default: synthesized Harvard sentences)")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--sweep", action="store_true", help=f"raise N through {SWEEP_LEVELS} until the bound breaks")
    parser.add_argument("--bound", type=float, default=2.0, help="p95 word lag bound for --sweep, seconds")
    parser.add_argument("--speed", type=float, default=1.0, help="x real time")
    parser.add_argument("--stagger", type=float, default=0.37, help="seconds between session starts")
    parser.add_argument("--repeat", type=int, default=1, help="runs per N (medians are reported)")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--server-arg", action="append", default=[], help="extra flag for the started server")
    args = parser.parse_args(argv)

    clips = load_clips(args.audio, args.model)
    server = RunningServer(streamscribe_system(args.model, args.server_arg))
    print(header(), flush=True)
    try:
        if args.sweep:
            best, rows = sweep(server, clips, SWEEP_LEVELS, args.speed, args.stagger, args.repeat, args.bound,
                               lambda row: print(format_row(row), flush=True))  # fmt: skip
            print(f"\nstreams per machine (p95 word lag <= {args.bound:g} s, on time): {best}")
        else:
            rows = []
            for sessions in args.sessions:
                rows.append(measure(server, clips, sessions, args.speed, args.stagger, args.repeat))
                print(format_row(rows[-1]), flush=True)
    finally:
        server.stop()
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
