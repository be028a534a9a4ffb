"""The local-agreement policy: which part of a re-decoded hypothesis is stable.

Whisper is not a streaming model, so each step re-decodes a sliding window and gets a fresh
hypothesis for the text after what is already committed. A word is committed once two
consecutive hypotheses agree on it and on everything before it (LocalAgreement-2, as in
whisper_streaming). Committed words are never revised: the engine forces them as the decoder
prefix of every later step, so the stream of deltas only ever appends.

Words here are tuples of token ids (a word starts at a token whose text begins with a space),
so agreement never splits a multi-token word and never compares decoded strings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Word = tuple[int, ...]


def group_words(tokens: Sequence[int], starts_word: Callable[[int], bool]) -> list[Word]:
    """Split a token sequence into words; a token that does not start a word joins the previous."""
    words: list[list[int]] = []
    for token in tokens:
        if not words or starts_word(token):
            words.append([token])
        else:
            words[-1].append(token)
    return [tuple(word) for word in words]


def agreed_prefix(previous: Sequence[Word], current: Sequence[Word]) -> int:
    """Number of leading words two hypotheses share."""
    n = 0
    for a, b in zip(previous, current, strict=False):
        if a != b:
            break
        n += 1
    return n


def truncate_repetition(words: Sequence[Word], min_repeats: int = 3, max_period: int = 8) -> list[Word]:
    """Cut a hypothesis at the start of a runaway loop.

    Whisper decoding a window that ends mid-speech can loop ("she sells she sells she sells").
    When a block of 1..``max_period`` words repeats ``min_repeats`` times back to back, keep the
    text up to the end of its first occurrence. Ordinary repetition ("very very") survives.
    """
    for start in range(len(words)):
        for period in range(1, max_period + 1):
            end = start + period * min_repeats
            if end > len(words):
                break
            block = words[start : start + period]
            if all(words[start + k * period : start + (k + 1) * period] == block for k in range(1, min_repeats)):
                return list(words[: start + period])
    return list(words)


def strip_repeated_prefix(history: Sequence[Word], words: Sequence[Word], min_words: int = 3) -> list[Word]:
    """Drop a hypothesis' opening words when they repeat the end of what is already committed.

    After the window is trimmed (or when the decoder loses its place), Whisper may read the
    last committed phrase again. Only repeats of ``min_words`` or more are removed, so a short
    natural repetition ("no, no") survives.
    """
    for n in range(min(len(history), len(words)), min_words - 1, -1):
        if list(words[:n]) == list(history[-n:]):
            return list(words[n:])
    return list(words)


def cut_at_repeat(history: Sequence[Word], words: Sequence[Word], ngram: int = 4) -> list[Word]:
    """Cut a hypothesis where it starts repeating a phrase of ``ngram`` words said just before.

    The other loop Whisper falls into on a window that ends mid-speech: it finishes the phrase,
    then reads an earlier phrase of the window again ("... dark blue background. Glue the sheet
    to the dark blue background."). Agreement alone would commit that when two steps loop
    alike. The search covers the recent history and the hypothesis itself.
    """
    sequence = list(history) + list(words)
    seen: set[tuple[Word, ...]] = set()
    for start in range(len(sequence) - ngram + 1):
        gram = tuple(sequence[start : start + ngram])
        if gram in seen and start >= len(history):
            return list(words[: start - len(history)])
        seen.add(gram)
    return list(words)


class LocalAgreement:
    """Remembers the unstable tail of the last hypothesis and commits what the next one confirms."""

    def __init__(self) -> None:
        self._tail: list[Word] = []

    @property
    def tentative(self) -> list[Word]:
        """The last hypothesis' words that are not committed yet."""
        return list(self._tail)

    def update(self, hypothesis: Sequence[Word]) -> list[Word]:
        """Feed the words decoded after the committed prefix; return the newly stable ones."""
        n = agreed_prefix(self._tail, hypothesis)
        self._tail = list(hypothesis[n:])
        return list(hypothesis[:n])

    def flush(self, hypothesis: Sequence[Word]) -> list[Word]:
        """End of audio: the final hypothesis is stable as a whole."""
        self._tail = []
        return list(hypothesis)

    def reset(self) -> None:
        self._tail = []
