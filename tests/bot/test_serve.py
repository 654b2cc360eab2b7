"""``python -m bot.serve``: Rasa's HTTP API behind a token that never reaches a command line."""

from __future__ import annotations

import pytest

from bot.serve import TOKEN_VARIABLE, main, rasa_argv

TOKEN = "rasa-api-test-token-0123456789abcdefgh"


def test_the_api_is_enabled_behind_the_token_and_the_options_follow() -> None:
    argv = rasa_argv(["--interface", "127.0.0.1", "--port", "5005"], TOKEN)

    assert argv[:2] == ["rasa", "run"]
    assert f"--auth-token={TOKEN}" in argv
    assert "--enable-api" in argv
    assert argv[-4:] == ["--interface", "127.0.0.1", "--port", "5005"]


@pytest.mark.parametrize("token", [TOKEN, "-" + TOKEN, "--" + TOKEN])
def test_rasa_reads_the_token_whatever_its_first_character(token: str) -> None:
    # secrets.token_urlsafe() begins with "-" one time in 64.
    from rasa.__main__ import create_argument_parser

    options = create_argument_parser().parse_args(rasa_argv(["--port", "5005"], token)[1:])

    assert options.auth_token == token
    assert options.enable_api is True
    assert options.port == 5005


@pytest.mark.parametrize("token", [None, "", "short"])
def test_rasa_never_starts_without_a_strong_token(
    token: str | None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if token is None:
        monkeypatch.delenv(TOKEN_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(TOKEN_VARIABLE, token)

    assert main(["--port", "1"]) == 2
    assert TOKEN_VARIABLE in capsys.readouterr().err
