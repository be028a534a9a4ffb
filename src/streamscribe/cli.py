"""``streamscribe serve | transcribe | bench | models``."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from typing import Any

from streamscribe import __version__
from streamscribe.audio import load_audio_file
from streamscribe.config import Settings
from streamscribe.engines import PACKAGED_MODELS


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from streamscribe.server import create_app

    overrides = {
        name: value for name, value in vars(args).items() if name in Settings.model_fields and value is not None
    }
    settings = Settings(**overrides)
    app = create_app(settings)
    # Frames above our own message limit are answered with an error event, not dropped by the
    # transport; only far larger ones are closed by uvicorn (1009).
    ws_max_size = max(16 * 1024 * 1024, 4 * settings.max_message_bytes)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level, ws_max_size=ws_max_size)
    return 0


def _transcribe(args: argparse.Namespace) -> int:
    from streamscribe.client import Event, RealtimeClient, microphone_chunks, paced_chunks, stream_chunks

    samples = None if args.mic else load_audio_file(args.file)

    def show(event: Event) -> None:
        if args.json:
            print(json.dumps(event), flush=True)
        elif event.get("type") == "transcription.delta":
            print(event["delta"], end="", flush=True)
        elif event.get("type") == "error":
            print(f"\n[error {event.get('code')}] {event.get('error')}", file=sys.stderr, flush=True)

    async def run() -> int:
        async with RealtimeClient(args.url) as client:
            if args.json:
                print(json.dumps(client.session), flush=True)
            if args.model:
                await client.update_session(model=args.model)
            if samples is None:
                stop = asyncio.Event()
                asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
                print("listening; Ctrl+C ends the utterance", file=sys.stderr, flush=True)
                chunks = microphone_chunks(stop=stop)
            else:
                chunks = paced_chunks(samples, speed=args.speed)
            result = await stream_chunks(client, chunks, on_event=show)
        if not args.json:
            print()
            print(result.text)
        return 0 if result.done_at and not any(e.get("code") == "processing_error" for e in result.errors) else 1

    return asyncio.run(run())


def _models(_: argparse.Namespace) -> int:
    for name in PACKAGED_MODELS:
        print(name)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamscribe", description=__doc__)
    parser.add_argument("--version", action="version", version=f"streamscribe {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the realtime server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--model", help="model name, local CTranslate2 folder or hub id (default whisper-tiny.en)")
    serve.add_argument("--log-level", dest="log_level")
    for name, field in Settings.model_fields.items():
        if name in {"host", "port", "model", "log_level"}:
            continue
        serve.add_argument(f"--{name.replace('_', '-')}", dest=name, type=type(field.default), help=field.description)
    serve.set_defaults(func=_serve)

    transcribe = commands.add_parser("transcribe", help="stream an audio file to a server, print text live")
    transcribe.add_argument("file", nargs="?", help="any common audio format, any sample rate")
    transcribe.add_argument(
        "--mic",
        action="store_true",
        help="stream the default microphone until Ctrl+C (pip install 'streamscribe[mic]')",
    )
    transcribe.add_argument("--url", default="ws://127.0.0.1:8000/v1/realtime")
    transcribe.add_argument("--model", help="model to ask for with session.update")
    transcribe.add_argument("--speed", type=float, default=1.0, help="x real time; 0 = as fast as possible")
    transcribe.add_argument("--json", action="store_true", help="print every server event as a JSON line")
    transcribe.set_defaults(func=_transcribe)

    models = commands.add_parser("models", help="list the models that load offline")
    models.set_defaults(func=_models)

    commands.add_parser("bench", help="N concurrent real-time streams: latency, CPU, WER (see bench --help)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:  # its own parser: every flag after "bench" is the benchmark's
        from streamscribe.bench import main as bench_main

        return bench_main(argv[1:])
    args: Any = build_parser().parse_args(argv)
    if args.command == "transcribe" and not args.file and not args.mic:
        build_parser().error("transcribe needs a FILE or --mic")
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
