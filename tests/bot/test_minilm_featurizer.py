"""Tests of the word-piece to Rasa-token alignment in bot/nlu/minilm_featurizer.py.

The encoder itself is not needed: ``_align_to_tokens`` only reads ``offsets`` and
``special_tokens_mask`` of a tokenizers ``Encoding``, so a stand-in with those two fields is
enough, and the hidden states are small hand-made arrays whose means are easy to check.
"""

from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np
import pytest
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.exceptions import InvalidConfigException

from bot.nlu.minilm_featurizer import MiniLMFeaturizer, _align_to_tokens

DIM = 4
FALLBACK = np.full(DIM, -1.0)


def encoding(pieces: Sequence[tuple[int, int, int]]) -> SimpleNamespace:
    """A stand-in ``Encoding`` from ``(start, end, special)`` triples, one per word piece."""
    return SimpleNamespace(
        offsets=[(start, end) for start, end, _ in pieces],
        special_tokens_mask=[special for _, _, special in pieces],
    )


def states(count: int) -> np.ndarray:
    """Hidden states whose row ``i`` is filled with ``i`` (so a mean is easy to recognise)."""
    return np.repeat(np.arange(count, dtype=np.float64)[:, None], DIM, axis=1)


def tokens(text: str) -> list[Token]:
    """Whitespace tokens with character offsets, as Rasa's WhitespaceTokenizer makes them."""
    result, position = [], 0
    for word in text.split():
        start = text.index(word, position)
        result.append(Token(word, start))
        position = start + len(word)
    return result


def test_one_row_per_token_with_word_pieces_averaged() -> None:
    # "unblock my card": [CLS] un ##block my card [SEP] [PAD]
    enc = encoding([(0, 0, 1), (0, 2, 0), (2, 7, 0), (8, 10, 0), (11, 15, 0), (0, 0, 1), (0, 0, 1)])

    rows = _align_to_tokens(states(7), enc, tokens("unblock my card"), FALLBACK)

    assert rows.shape == (3, DIM)
    np.testing.assert_allclose(rows[0], np.full(DIM, 1.5))  # mean of pieces 1 and 2
    np.testing.assert_allclose(rows[1], np.full(DIM, 3.0))
    np.testing.assert_allclose(rows[2], np.full(DIM, 4.0))


def test_tokens_beyond_truncation_get_the_fallback() -> None:
    # "card lost abroad yesterday", truncated after "lost": [CLS] card lost [SEP]
    enc = encoding([(0, 0, 1), (0, 4, 0), (5, 9, 0), (0, 0, 1)])

    rows = _align_to_tokens(states(4), enc, tokens("card lost abroad yesterday"), FALLBACK)

    assert rows.shape == (4, DIM)
    np.testing.assert_allclose(rows[0], np.full(DIM, 1.0))
    np.testing.assert_allclose(rows[1], np.full(DIM, 2.0))
    np.testing.assert_allclose(rows[2], FALLBACK)
    np.testing.assert_allclose(rows[3], FALLBACK)


def test_special_and_empty_pieces_are_ignored() -> None:
    # A special piece and a zero-width piece both overlapping "hello": neither may count.
    enc = encoding([(0, 5, 1), (0, 5, 0), (3, 3, 0), (6, 11, 0)])

    rows = _align_to_tokens(states(4), enc, tokens("hello world"), FALLBACK)

    np.testing.assert_allclose(rows[0], np.full(DIM, 1.0))
    np.testing.assert_allclose(rows[1], np.full(DIM, 3.0))


def test_piece_spanning_two_tokens_counts_for_both() -> None:
    # "e-mail" split by Rasa into "e-" "mail" but kept as one piece ending inside "mail".
    text_tokens = [Token("e-", 0), Token("mail", 2)]
    enc = encoding([(0, 0, 1), (0, 3, 0), (3, 6, 0), (0, 0, 1)])

    rows = _align_to_tokens(states(4), enc, text_tokens, FALLBACK)

    np.testing.assert_allclose(rows[0], np.full(DIM, 1.0))
    np.testing.assert_allclose(rows[1], np.full(DIM, 1.5))  # pieces 1 and 2


def test_message_with_no_pieces_at_all_gets_fallback_for_every_token() -> None:
    enc = encoding([(0, 0, 1), (0, 0, 1)])

    rows = _align_to_tokens(states(2), enc, tokens("?? !!"), FALLBACK)

    np.testing.assert_allclose(rows, np.stack([FALLBACK, FALLBACK]))


def test_validate_config_names_missing_files_and_the_fix(tmp_path) -> None:
    (tmp_path / "tokenizer.json").write_text("{}")

    with pytest.raises(InvalidConfigException) as caught:
        MiniLMFeaturizer.validate_config({"model_dir": str(tmp_path)})

    assert "model.onnx" in str(caught.value)
    assert "tokenizer.json" not in str(caught.value)
    assert "make models" in str(caught.value)
