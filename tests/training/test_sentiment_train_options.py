"""``python -m training.sentiment.train``'s options: the defaults are the shipped model's."""

from __future__ import annotations

import pytest

from training.sentiment.train import parse_args


def test_help_prints_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(["--help"])

    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "--in-domain-repeat" in out
    assert "19 % more steps" in out


def test_the_defaults_are_fixed_steps_without_a_time_limit() -> None:
    options = parse_args([])

    assert options.epochs == 1
    assert options.max_steps == 0
    assert options.seed == 13
    assert not hasattr(options, "max_train_seconds")
