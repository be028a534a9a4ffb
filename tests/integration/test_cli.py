"""``streamscribe transcribe`` as a user runs it: a real process against a real server."""

from __future__ import annotations

import json
import subprocess
import sys

import soundfile
from conftest import LiveServer
from speech import PARAGRAPHS, synthesize, wer

from streamscribe.audio import resample


def test_transcribe_a_44k_stereo_file(live_server: LiveServer, tmp_path) -> None:  # noqa: ANN001
    import numpy as np

    audio = resample(synthesize(PARAGRAPHS[1]), 16_000, 44_100)
    path = tmp_path / "speech.wav"
    soundfile.write(path, np.stack([audio, audio], axis=1), 44_100)
    run = subprocess.run(
        [sys.executable, "-m", "streamscribe", "transcribe", str(path), "--url", live_server.url, "--speed", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    final = run.stdout.strip().splitlines()[-1]
    assert wer(PARAGRAPHS[1], final) <= 0.15


def test_transcribe_json_prints_every_event(live_server: LiveServer, tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "speech.flac"
    soundfile.write(path, synthesize(PARAGRAPHS[2]), 16_000)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamscribe",
            "transcribe",
            str(path),
            "--url",
            live_server.url,
            "--speed",
            "4",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    events = [json.loads(line) for line in run.stdout.splitlines()]
    assert events[0]["type"] == "session.created"
    assert events[-1]["type"] == "transcription.done"
    assert "".join(e["delta"] for e in events if e["type"] == "transcription.delta") == events[-1]["text"]
