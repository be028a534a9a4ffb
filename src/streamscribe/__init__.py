"""streamscribe: a realtime speech-to-text server speaking vLLM's /v1/realtime protocol."""

__version__ = "0.1.0"
