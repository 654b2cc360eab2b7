"""``handoff sentiment`` (one JSON object per input line) and ``handoff train-sentiment``."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import types
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from handoff import cli
from handoff.sentiment.reading import SentimentReading
from handoff.settings import get_settings

REPO = Path(__file__).resolve().parents[3]
READING_KEYS = {"label", "scores", "frustration", "irony"}

MESSAGES = (
    b"My card was blocked and nobody tells me why\n"
    + b"\n"  # empty
    + b"Thanks, that fixed it!\r\n"  # a Windows line ending
    + b"caf\xe9 au lait\n"  # Latin-1, not UTF-8
    + b"   \t\n"  # whitespace only
    + "Ça ne marche toujours pas 😡".encode()  # UTF-8, no final newline
)


class EchoScorer:
    """Labels each reading with its text, so order can be checked; records each call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def score(self, texts: Sequence[str]) -> list[SentimentReading]:
        self.calls.append(list(texts))
        return [SentimentReading(text, {"negative": 1.0}, 0.0) for text in texts]


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.upper().startswith("HANDOFF_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def output_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def check_messages_answers(answers: list[dict[str, object]]) -> None:
    assert len(answers) == 6
    for index in (0, 2, 5):
        assert set(answers[index]) <= READING_KEYS
        assert {"label", "scores", "frustration"} <= set(answers[index])
        scores = answers[index]["scores"]
        assert isinstance(scores, dict)
        assert list(scores) == ["negative", "neutral", "positive"]
        assert answers[index]["label"] in scores
    assert answers[1] == {"error": answers[1]["error"]}
    assert "line 2" in str(answers[1]["error"]) and "non-empty" in str(answers[1]["error"])
    assert "line 4" in str(answers[3]["error"]) and "UTF-8" in str(answers[3]["error"])
    assert "line 5" in str(answers[4]["error"])


def test_scores_a_file_one_json_object_per_line(
    tmp_path: Path, tiny_sentiment_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    messages = tmp_path / "messages.txt"
    messages.write_bytes(MESSAGES)

    code = cli.main(["sentiment", str(messages), "--model", str(tiny_sentiment_model)])

    assert code == 0
    check_messages_answers(output_lines(capsys))


def test_reads_stdin_as_bytes_without_a_file(
    monkeypatch: pytest.MonkeyPatch, tiny_sentiment_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HANDOFF_SENTIMENT__MODEL_DIR", str(tiny_sentiment_model))
    # A text stream whose .buffer holds bytes that are not valid UTF-8 on line 4.
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(MESSAGES), encoding="utf-8"))

    assert cli.main(["sentiment"]) == 0

    check_messages_answers(output_lines(capsys))


def test_answers_keep_input_order_across_chunks() -> None:
    lines = [f"message {i}\n".encode() if i % 4 else b"\n" for i in range(1, 11)]
    scorer = EchoScorer()
    output = io.StringIO()

    cli.write_sentiment_lines(scorer, lines, output, chunk_lines=3)

    answers = [json.loads(line) for line in output.getvalue().splitlines()]
    assert len(answers) == 10
    for number, answer in enumerate(answers, start=1):
        if number % 4:
            assert answer["label"] == f"message {number}"
        else:
            assert answer == {"error": answer["error"]}
            assert answer["error"].startswith(f"line {number}:")
    assert [len(call) for call in scorer.calls] == [3, 2, 2, 1]  # empty lines never scored


def test_output_is_streamed_chunk_by_chunk() -> None:
    output = io.StringIO()

    def source() -> Iterator[bytes]:
        for i in range(6):
            if i == 4:  # the first chunk of 2 is written before the third is read
                assert len(output.getvalue().splitlines()) >= 2
            yield f"line {i}\n".encode()

    cli.write_sentiment_lines(EchoScorer(), source(), output, chunk_lines=2)

    assert len(output.getvalue().splitlines()) == 6


def test_a_line_the_model_cannot_score_gets_an_error_and_the_run_goes_on() -> None:
    class PickyScorer(EchoScorer):
        def score(self, texts: Sequence[str]) -> list[SentimentReading]:
            if "poison" in texts:
                raise RuntimeError("cannot score poison")
            return super().score(texts)

    output = io.StringIO()
    cli.write_sentiment_lines(PickyScorer(), [b"a\n", b"poison\n", b"b\n"], output)

    answers = [json.loads(line) for line in output.getvalue().splitlines()]
    assert answers[0]["label"] == "a"
    assert "cannot score poison" in answers[1]["error"]
    assert answers[2]["label"] == "b"


def test_a_missing_model_exits_1_and_says_how_to_build_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "messages.txt").write_text("hello\n")

    code = cli.main(
        ["sentiment", str(tmp_path / "messages.txt"), "--model", str(tmp_path / "none")]
    )

    assert code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "make models" in captured.err


def test_a_folder_without_a_model_exits_1_and_says_how_to_rebuild_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "messages.txt").write_text("hello\n")
    (tmp_path / "half-built").mkdir()

    code = cli.main(
        ["sentiment", str(tmp_path / "messages.txt"), "--model", str(tmp_path / "half-built")]
    )

    assert code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "cannot load the sentiment model" in captured.err
    assert "make models" in captured.err


def test_python_dash_m_handoff_sentiment_reads_stdin(tiny_sentiment_model: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "handoff", "sentiment", "--model", str(tiny_sentiment_model)],
        input=b"hello\n\xff\nthank you\n",
        capture_output=True,
        cwd=REPO,
        check=False,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr.decode()
    answers = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [("error" in answer) for answer in answers] == [False, True, False]


# --- train-sentiment ------------------------------------------------------------------------


def test_train_sentiment_passes_every_argument_to_the_trainer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    received: list[list[str]] = []
    trainer = types.ModuleType(cli.TRAIN_SENTIMENT_MODULE)
    trainer.main = lambda args: received.append(args) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, cli.TRAIN_SENTIMENT_MODULE, trainer)

    assert cli.main(["train-sentiment", "--epochs", "3", "--out", "models/x"]) == 0
    assert received == [["--epochs", "3", "--out", "models/x"]]


def test_train_sentiment_without_the_trainer_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # None in sys.modules makes the import fail, as a missing module would.
    monkeypatch.setitem(sys.modules, cli.TRAIN_SENTIMENT_MODULE, None)

    assert cli.main(["train-sentiment"]) == 2
    assert cli.TRAIN_SENTIMENT_MODULE in capsys.readouterr().err


# --- the trained model ----------------------------------------------------------------------


@pytest.mark.integration
def test_cli_contract_with_the_trained_model(
    tmp_path: Path, trained_sentiment_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    messages = tmp_path / "messages.txt"
    messages.write_bytes(MESSAGES)

    assert cli.main(["sentiment", str(messages), "--model", str(trained_sentiment_model)]) == 0

    answers = output_lines(capsys)
    check_messages_answers(answers)
    assert answers[2]["label"] == "positive"
