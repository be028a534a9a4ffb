from streamscribe.stability import LocalAgreement, agreed_prefix, group_words, truncate_repetition

# Token ids stand for words: even ids start a word, odd ids continue one.
starts = lambda t: t % 2 == 0  # noqa: E731


def words(*ids: int) -> list[tuple[int, ...]]:
    return group_words(ids, starts)


def test_group_words() -> None:
    assert group_words([2, 3, 4, 6, 7, 7], starts) == [(2, 3), (4,), (6, 7, 7)]
    assert group_words([3, 4], starts) == [(3,), (4,)]  # a leading continuation is its own word
    assert group_words([], starts) == []


def test_agreed_prefix() -> None:
    assert agreed_prefix(words(2, 4, 6), words(2, 4, 8)) == 2
    assert agreed_prefix(words(2, 3, 4), words(2, 4)) == 0  # a word is compared whole
    assert agreed_prefix([], words(2)) == 0


def test_local_agreement_commits_what_two_hypotheses_share() -> None:
    policy = LocalAgreement()
    assert policy.update(words(2, 4)) == []  # nothing to compare with yet
    assert policy.tentative == words(2, 4)
    assert policy.update(words(2, 4, 6)) == words(2, 4)
    # The next hypothesis is the continuation after the committed prefix.
    assert policy.update(words(8)) == []
    assert policy.update(words(8, 10)) == words(8)
    assert policy.tentative == words(10)
    assert policy.flush(words(10, 12)) == words(10, 12)
    assert policy.tentative == []


def test_a_changed_hypothesis_commits_nothing() -> None:
    policy = LocalAgreement()
    policy.update(words(2, 4))
    assert policy.update(words(6, 4)) == []
    assert policy.tentative == words(6, 4)


def test_truncate_repetition_cuts_runaway_loops_only() -> None:
    loop = words(2, 4, 6, 8, 6, 8, 6, 8, 6)
    assert truncate_repetition(loop) == words(2, 4, 6, 8)
    assert truncate_repetition(words(2, 2, 4)) == words(2, 2, 4)  # "very very good" stays
    assert truncate_repetition(words(2, 2, 2, 2)) == words(2)
    assert truncate_repetition([]) == []


def test_strip_repeated_prefix() -> None:
    from streamscribe.stability import strip_repeated_prefix

    history = words(2, 4, 6, 8, 10)
    assert strip_repeated_prefix(history, words(6, 8, 10, 12)) == words(12)  # re-read phrase dropped
    assert strip_repeated_prefix(history, words(8, 10, 12)) == words(8, 10, 12)  # two words: kept
    assert strip_repeated_prefix(history, words(12, 14)) == words(12, 14)
    assert strip_repeated_prefix([], words(2, 4, 6)) == words(2, 4, 6)


def test_cut_at_repeat() -> None:
    from streamscribe.stability import cut_at_repeat

    history = words(2, 4, 6, 8, 10)  # e.g. "glue the sheet to the"
    # The hypothesis finishes the phrase, then reads it again from its start.
    assert cut_at_repeat(history, words(12, 14, 4, 6, 8, 10, 12)) == words(12, 14)
    # A loop inside the hypothesis alone is cut too.
    assert cut_at_repeat([], words(20, 22, 24, 26, 28, 20, 22, 24, 26)) == words(20, 22, 24, 26, 28)
    # Repeats shorter than the n-gram are ordinary speech.
    assert cut_at_repeat(history, words(2, 4, 6, 30)) == words(2, 4, 6, 30)
    assert cut_at_repeat(history, []) == []
