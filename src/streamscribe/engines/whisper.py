"""Streaming Whisper on CTranslate2: re-decode a sliding window, commit by local agreement.

Each step, for every stream in the batch:

1. move new audio from the stream's backlog into its window (more than one step's worth when
   the stream is behind, so a fast client catches up in fewer, larger steps);
2. encode the window, padded with silence to ``max(min_window, window * pad_ratio)``: Whisper
   trained on 30 s windows loops when speech runs to the very end of a short window, and
   measured here (tiny.en, int8) a window at least 1.6x the audio held no loops while costing
   a third of a 30 s window;
3. decode with the committed words forced as the decoder prefix, so only the unstable tail is
   generated (decoding, not encoding, dominates once windows are short);
4. cut the hypothesis where it loops or re-reads a recent phrase, then commit the words two
   consecutive hypotheses agree on (``stability``);
5. when the window grows past ``trim_seconds`` (4 s), align the committed words to the audio
   (reusing this step's encoder output) and cut the window after a committed sentence or word, so
   windows, prefixes and cost stay bounded however long the utterance.

Streams of one batch share one ``encode`` and one ``generate`` call. CTranslate2 requires the
start-of-transcript token at the same position in every batch item, so no previous-text
prompt is used: the forced prefix carries the context instead.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamscribe.audio import SAMPLE_RATE, Samples
from streamscribe.engines.base import Hypothesis, Recognizer, Stream
from streamscribe.stability import (
    LocalAgreement,
    Word,
    cut_at_repeat,
    group_words,
    strip_repeated_prefix,
    truncate_repetition,
)

FRAMES_PER_SECOND = 100  # mel frames
ENCODER_POSITIONS_PER_SECOND = 50
MAX_WINDOW_SECONDS = 30.0  # Whisper's encoder positional range
MAX_DECODER_LENGTH = 448  # Whisper's decoder positional range
SENTENCE_END = (".", "?", "!")
HISTORY_WORDS = 32  # committed words remembered across trims, to catch re-read phrases


@dataclass(frozen=True)
class WhisperOptions:
    """Knobs of the streaming policy; defaults chosen by measurement on 2 CPU cores.

    Attributes:
        compute_type: CTranslate2 quantisation (``int8`` is fastest on CPU with no WER cost seen).
        cpu_threads: CTranslate2 intra-op threads.
        ct2_replicas: CTranslate2 model replicas (inter-op threads): steps that run in parallel.
        catch_up_seconds: most new audio moved into the window in one step when behind.
        min_window_seconds: shortest encoder window (padding with silence).
        pad_ratio: encoder window length as a multiple of the audio held.
        trim_seconds: window length above which committed audio is cut away.
        max_window_seconds: hard cap; past it the hypothesis is committed and the window reset.
        tokens_per_second: generous bound on tokens per second of uncommitted audio (loop guard).
        no_speech_threshold: above this no-speech probability an empty window yields no text.
        beam_size: 1 (greedy) in streaming; batched greedy decoding is what scales.
    """

    compute_type: str = "int8"
    cpu_threads: int = 1
    ct2_replicas: int = 1
    catch_up_seconds: float = 2.0
    min_window_seconds: float = 6.0
    pad_ratio: float = 1.6
    trim_seconds: float = 4.0
    max_window_seconds: float = 18.0
    tokens_per_second: float = 8.0
    no_speech_threshold: float = 0.6
    beam_size: int = 1


class WhisperStream(Stream):
    """One utterance: the audio window and the words committed inside it."""

    def __init__(self, max_buffered_seconds: float, language: str | None) -> None:
        super().__init__(max_buffered_seconds)
        self.language = language
        self.window: Samples = np.zeros(0, dtype=np.float32)
        self.committed: list[Word] = []  # committed words whose audio is still in the window
        self.history: list[Word] = []  # the last committed words, trimmed or not
        self.agreement = LocalAgreement()


@dataclass
class _Work:
    """Per-stream scratch of one batched step."""

    stream: WhisperStream
    final: bool
    prompt: list[int]
    max_new: int


class WhisperRecognizer(Recognizer):
    """Whisper (CTranslate2 weights) with batched streaming steps."""

    def __init__(self, name: str, model_path: str | Path, options: WhisperOptions | None = None) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise RuntimeError("Whisper models need faster-whisper: pip install faster-whisper") from exc
        from faster_whisper.tokenizer import Tokenizer

        self.name = name
        self.options = options or WhisperOptions()
        self._model = WhisperModel(
            str(model_path),
            device="cpu",
            compute_type=self.options.compute_type,
            cpu_threads=self.options.cpu_threads,
            num_workers=self.options.ct2_replicas,
        )
        self._ct2 = self._model.model
        self._features = self._model.feature_extractor
        self.multilingual = bool(self._ct2.is_multilingual)
        self._tokenizers: dict[str | None, Tokenizer] = {}
        self._tokenizer_lock = threading.Lock()
        base = self._tokenizer(None)
        self._eot = base.eot
        self._special_start = base.eot  # every id from end-of-text upwards is a control token
        vocabulary = self._model.hf_tokenizer
        self._starts_word = np.zeros(vocabulary.get_vocab_size(), dtype=bool)
        for token_id in range(min(self._special_start, len(self._starts_word))):
            text = base.decode([token_id])
            self._starts_word[token_id] = text.startswith(" ") or not text or text[0] in "-\"'("

    # -- tokenizer -----------------------------------------------------------------------------

    def _tokenizer(self, language: str | None):  # noqa: ANN202 - faster_whisper's Tokenizer
        from faster_whisper.tokenizer import Tokenizer

        language = language if self.multilingual else "en"
        with self._tokenizer_lock:
            if language not in self._tokenizers:
                self._tokenizers[language] = Tokenizer(
                    self._model.hf_tokenizer, self.multilingual, task="transcribe", language=language or "en"
                )
            return self._tokenizers[language]

    def _decode(self, words: Sequence[Word]) -> str:
        return str(self._tokenizer(None).decode([t for word in words for t in word]))

    def _words(self, tokens: Sequence[int]) -> list[Word]:
        return group_words(tokens, lambda t: bool(t >= len(self._starts_word) or self._starts_word[t]))

    # -- Recognizer ----------------------------------------------------------------------------

    def open_stream(self, max_buffered_seconds: float, language: str | None = None) -> WhisperStream:
        return WhisperStream(max_buffered_seconds, language)

    def transcribe(self, samples: Samples, language: str | None = None) -> str:
        segments, _ = self._model.transcribe(
            samples, language=language if self.multilingual else "en", beam_size=self.options.beam_size
        )
        return "".join(segment.text for segment in segments).strip()

    def step(self, streams: Sequence[Stream]) -> list[Hypothesis]:
        work = [self._prepare(stream) for stream in streams]  # type: ignore[arg-type]
        active = [w for w in work if len(w.stream.window)]
        results: dict[int, Hypothesis] = {}
        if active:
            encoded = self._encode([w.stream.window for w in active])
            generated = self._generate(encoded, active)
            for index, (w, (tokens, no_speech)) in enumerate(zip(active, generated, strict=True)):
                results[id(w)] = self._commit(w, tokens, no_speech, encoded, index)
        return [results.get(id(w)) or Hypothesis("", final=w.final, audio_seconds=w.stream.audio_seconds) for w in work]

    # -- the steps -----------------------------------------------------------------------------

    def _prepare(self, stream: WhisperStream) -> _Work:
        options = self.options
        take = max(int(options.catch_up_seconds * SAMPLE_RATE), 1)
        room = int(options.max_window_seconds * SAMPLE_RATE) - len(stream.window)
        new = stream.backlog.take(max(min(take, room), 0))
        if len(new):
            stream.window = np.concatenate([stream.window, new])
        final = stream.finishing and len(stream.backlog) == 0
        tokenizer = self._tokenizer(stream.language)
        prefix = [t for word in stream.committed for t in word]
        # Bound the tokens to generate (the batch decodes until its longest item stops): the
        # unstable tail of the last step plus what the new audio can hold, or the whole window
        # for the final flush. A hypothesis cut short here just commits later.
        if final:
            max_new = int(len(stream.window) / SAMPLE_RATE * options.tokens_per_second) + 8
        else:
            tentative = sum(len(word) for word in stream.agreement.tentative)
            max_new = tentative + int(len(new) / SAMPLE_RATE * options.tokens_per_second) + 4
        prompt = list(tokenizer.sot_sequence) + [tokenizer.no_timestamps] + prefix
        return _Work(stream, final, prompt, max_new)

    def _window_frames(self, samples: int) -> int:
        seconds = max(self.options.min_window_seconds, samples / SAMPLE_RATE * self.options.pad_ratio)
        return int(min(seconds, MAX_WINDOW_SECONDS) * FRAMES_PER_SECOND)

    def _encode(self, windows: Sequence[Samples]):  # noqa: ANN202 - ctranslate2.StorageView
        import ctranslate2

        frames = max(self._window_frames(len(w)) for w in windows)
        samples = frames * SAMPLE_RATE // FRAMES_PER_SECOND
        mels = []
        for window in windows:
            padded = np.zeros(samples, dtype=np.float32)
            padded[: min(len(window), samples)] = window[:samples]
            mels.append(self._features(padded, padding=0)[:, :frames])
        batch = np.ascontiguousarray(np.stack(mels).astype(np.float32))
        return self._ct2.encode(ctranslate2.StorageView.from_array(batch), to_cpu=True)

    def _generate(self, encoded, work: Sequence[_Work]) -> list[tuple[list[int], float]]:  # noqa: ANN001
        # Measured with CTranslate2 4.x: Whisper's generate stops once the returned sequence (the
        # forced prefix included, the start tokens not) reaches max_length // 2, so a budget of
        # ``max_new`` new tokens after a prefix of P tokens needs max_length = 2 * (P + max_new).
        max_length = min(MAX_DECODER_LENGTH, max(2 * (len(w.prompt) + w.max_new) for w in work))
        results = self._ct2.generate(
            encoded,
            [w.prompt for w in work],
            beam_size=self.options.beam_size,
            max_length=max_length,
            return_no_speech_prob=True,
            suppress_blank=False,
        )
        out = []
        for w, result in zip(work, results, strict=True):
            sequence = list(result.sequences_ids[0])
            forced = w.prompt[len(w.prompt) - sum(len(word) for word in w.stream.committed) :]
            if sequence[: len(forced)] == forced:  # CTranslate2 returns the forced prefix too
                sequence = sequence[len(forced) :]
            tokens = [t for t in sequence if t < self._special_start][: w.max_new]
            out.append((tokens, float(result.no_speech_prob)))
        return out

    def _commit(self, w: _Work, tokens: list[int], no_speech: float, encoded, index: int) -> Hypothesis:  # noqa: ANN001
        stream = w.stream
        words = strip_repeated_prefix(stream.history, truncate_repetition(self._words(tokens)))
        words = cut_at_repeat(stream.history, words)
        if not stream.committed and no_speech > self.options.no_speech_threshold:
            words = []
        window_full = len(stream.window) >= int(self.options.max_window_seconds * SAMPLE_RATE)
        if w.final or window_full:
            stable = stream.agreement.flush(words)
        else:
            stable = stream.agreement.update(words)
        stream.committed.extend(stable)
        stream.history = (stream.history + stable)[-HISTORY_WORDS:]
        hypothesis = Hypothesis(
            stable=self._decode(stable),
            tentative=self._decode(stream.agreement.tentative),
            final=w.final,
            tokens=sum(len(word) for word in stable),
            audio_seconds=stream.audio_seconds if w.final else 0.0,
        )
        if w.final:
            stream.window = np.zeros(0, dtype=np.float32)
            stream.committed = []
        elif window_full:
            # Nothing agreed for a whole window (noise, or a model in a rut): start afresh.
            stream.window = np.zeros(0, dtype=np.float32)
            stream.committed = []
            stream.agreement.reset()
        elif len(stream.window) > self.options.trim_seconds * SAMPLE_RATE:
            self._trim(stream, encoded, index)
        return hypothesis

    def _trim(self, stream: WhisperStream, encoded, index: int) -> None:  # noqa: ANN001
        """Cut the window after a committed word, found by aligning committed tokens to audio."""
        if not stream.committed:
            if not stream.agreement.tentative:  # silence: keep only the last second
                stream.window = stream.window[-SAMPLE_RATE:]
            return
        times = self._word_times(stream, encoded, index)
        if times is None:
            return
        ends = [end for _, end in times]
        window_seconds = len(stream.window) / SAMPLE_RATE
        if ends[-1] <= 0 or ends[-1] > window_seconds or any(b < a for a, b in zip(ends, ends[1:], strict=False)):
            return  # an implausible alignment: keep the window rather than cut in the wrong place
        # Keep at least the last two committed words in the window: their alignment is the least
        # certain and they give the next decode its context.
        candidates = range(len(stream.committed) - 2)
        sentence = [i for i in candidates if self._decode([stream.committed[i]]).rstrip().endswith(SENTENCE_END)]
        if sentence:
            cut_word = sentence[-1]
        elif len(stream.committed) > 2:
            cut_word = len(stream.committed) - 3
        else:
            return
        next_start = times[cut_word + 1][0]
        cut_seconds = (ends[cut_word] + next_start) / 2 if next_start > ends[cut_word] else ends[cut_word]
        cut = int(cut_seconds * SAMPLE_RATE)
        if cut <= 0 or cut >= len(stream.window):
            return
        stream.window = stream.window[cut:]
        del stream.committed[: cut_word + 1]

    def _word_times(self, stream: WhisperStream, encoded, index: int) -> list[tuple[float, float]] | None:  # noqa: ANN001
        """Start and end (seconds into the window) of each committed word, from cross-attention."""
        import ctranslate2

        tokenizer = self._tokenizer(stream.language)
        text_tokens = [t for word in stream.committed for t in word]
        features = np.asarray(encoded)[index : index + 1]
        result = self._ct2.align(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features)),
            list(tokenizer.sot_sequence),
            [text_tokens + [self._eot]],
            len(stream.window) * FRAMES_PER_SECOND // SAMPLE_RATE,
        )[0]
        if not result.alignments:
            return None
        pairs = np.array(result.alignments)
        text_index, time_index = pairs[:, 0], pairs[:, 1]
        # The time at which the alignment path first reaches each token is that token's start.
        first = np.concatenate([[True], np.diff(text_index) > 0]) & (text_index <= len(text_tokens))
        token_start = np.full(len(text_tokens) + 1, np.nan)
        token_start[text_index[first]] = time_index[first] / ENCODER_POSITIONS_PER_SECOND
        token_start = _fill_forward(token_start)
        boundaries = np.cumsum([0] + [len(word) for word in stream.committed])
        return [
            (float(token_start[a]), float(token_start[b]))
            for a, b in zip(boundaries[:-1], boundaries[1:], strict=False)
        ]


def _fill_forward(values: np.ndarray) -> np.ndarray:
    out = values.copy()
    last = 0.0
    for i, value in enumerate(out):
        if np.isnan(value):
            out[i] = last
        else:
            last = value
    return out
