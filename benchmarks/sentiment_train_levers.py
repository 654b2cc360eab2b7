"""Cost of one training example under each speed lever of the sentiment training.

Runs a few real steps of ``training.sentiment`` on the first TweetEval val tweets (the texts
only: nothing here learns anything worth keeping) and prints CPU milliseconds per example,
for: caching the frozen bottom once (per frozen layer count), a training step of the layers
above it, the full fine-tune as the baseline, the maximum length and the batch size. CPU time
of the process, not wall time: on a shared machine the wall clock measures the neighbours.

    python -m benchmarks.sentiment_train_levers --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence

import torch
from transformers import AutoTokenizer

from handoff.sentiment.model import CustomerSentimentModel
from handoff.settings import get_settings
from training.sentiment import data, layer_cache, train


def cpu_ms_per_example(run: Callable[[], int], repeats: int) -> float:
    """Median over ``repeats`` of CPU milliseconds per example (``run`` returns its count)."""
    samples = []
    for _ in range(repeats):
        started = time.process_time()
        n = run()
        samples.append(1000 * (time.process_time() - started) / n)
    return statistics.median(samples)


def fresh_model(frozen: int) -> CustomerSentimentModel:
    """MiniLM with its heads, the embeddings table and ``frozen`` bottom layers frozen."""
    model = CustomerSentimentModel.from_pretrained(train.minilm_path())
    train.freeze_word_embeddings(model)
    train.freeze_lower_layers(model, frozen)
    return model


def measure(texts: Sequence[str], frozen: int, max_length: int, batch_size: int) -> dict:
    """Caching and step costs of one configuration."""
    tokenizer = AutoTokenizer.from_pretrained(train.minilm_path())
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    batches = train.length_buckets([len(e) for e in encoded], batch_size, seed=1)
    examples = [data.SentimentExample(t, polarity=i % 3) for i, t in enumerate(texts)]
    model = fresh_model(frozen)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    cached: list[layer_cache.CachedBatch] = []

    def cache() -> int:
        cached[:] = layer_cache.cache_batches(model, encoded, batches, tokenizer.pad_token_id,
                                              frozen)  # fmt: skip
        return len(encoded)

    def steps() -> int:
        model.train()
        for item in cached:
            out = layer_cache.upper_forward(model, item.states, item.attention_mask, frozen)
            labels = train.targets([examples[i] for i in item.indices])
            loss, _ = train.multitask_loss(out.logits, out.auxiliary_logits, labels)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        return len(encoded)

    cache_ms = cpu_ms_per_example(cache, 1) if frozen else 0.0
    if not frozen:
        cache()  # layer 0's "cache" is the embeddings' input: cheap, not a lever
    return {"cache_ms": cache_ms, "step_ms": cpu_ms_per_example(steps, 2)}


def main(argv: Sequence[str] | None = None) -> int:
    """Print one row per lever."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--examples", type=int, default=512)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sentiment = data.load_tweeteval_sentiment(get_settings().paths.data_dir, "val")
    texts = [e.text for e in sentiment[: args.examples]]
    rows = [("full fine-tune (embeddings table frozen), max_length 64, batch 32", 0, 64, 32)]
    rows += [(f"bottom {k} layers frozen and cached", k, 64, 32) for k in (2, 3, 4, 5)]
    rows += [
        ("bottom 4 cached, max_length 48", 4, 48, 32),
        ("bottom 4 cached, batch 64", 4, 64, 64),
    ]
    print(f"{'lever':70s} {'cache ms/ex':>12s} {'step ms/ex':>11s}  (CPU, {args.threads} thr)")
    for name, frozen, max_length, batch_size in rows:
        result = measure(texts, frozen, max_length, batch_size)
        print(f"{name:70s} {result['cache_ms']:12.2f} {result['step_ms']:11.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
