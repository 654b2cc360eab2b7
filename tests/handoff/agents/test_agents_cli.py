"""``handoff agents create|list|seed-demo``, ``make run``'s seeding and its log-in line."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from handoff import cli, stack
from handoff.agents.accounts import AgentStore
from handoff.agents.demo import DEMO_AGENTS, DEMO_LOGIN, DEMO_PASSWORD, DEMO_SUPERVISOR
from handoff.settings import Settings, get_settings
from handoff.store.database import create_database_engine
from handoff.store.states import AgentRole

REPO = Path(__file__).resolve().parents[3]
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def database_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """Only this test's HANDOFF_* variables; the service database under ``tmp_path``."""
    for name in list(os.environ):
        if name.upper().startswith("HANDOFF_"):
            monkeypatch.delenv(name)
    url = f"sqlite:///{tmp_path}/var/handoff.sqlite"  # var/ does not exist yet
    monkeypatch.setenv("HANDOFF_DATABASE__URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


@pytest.fixture
def store(database_url: str) -> Iterator[AgentStore]:
    engine = create_database_engine(database_url)
    yield AgentStore(engine)
    engine.dispose()


def run(
    capsys: pytest.CaptureFixture[str], *argv: str, stdin: str | None = None
) -> tuple[int, str, str]:
    if stdin is not None:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("sys.stdin", io.StringIO(stdin))
            code = cli.main(list(argv))
    else:
        code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def create_args(*extra: str, teams: str = "security, general") -> list[str]:
    return [
        "agents", "create", "--username", "Zoe.Fraud", "--name", "Zoe Martin",
        "--teams", teams, *extra,
    ]  # fmt: skip


@pytest.fixture
def demo_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_DEMO_MODE", "true")


def test_seed_demo_is_refused_outside_demo_mode(
    capsys: pytest.CaptureFixture[str], store: AgentStore
) -> None:
    code, _, err = run(capsys, "agents", "seed-demo")

    assert code == 2 and "demo mode only" in err and "HANDOFF_DEMO_MODE=true" in err
    assert store.list_agents() == []


@pytest.mark.usefixtures("demo_mode")
def test_seed_demo_creates_the_demo_agents_once(
    capsys: pytest.CaptureFixture[str], store: AgentStore
) -> None:
    code, out, _ = run(capsys, "agents", "seed-demo")

    assert code == 0
    assert out.count("created ") == len(DEMO_AGENTS)
    assert f"password: {DEMO_PASSWORD}" in out and DEMO_LOGIN in out
    agents = store.list_agents()
    assert len(agents) == len(DEMO_AGENTS)
    assert len({team for agent in agents for team in agent.teams}) >= 4
    assert {agent.role.value for agent in agents} == {"agent", "supervisor"}
    assert store.authenticate(DEMO_LOGIN, DEMO_PASSWORD) is not None

    code, out, _ = run(capsys, "agents", "seed-demo")

    assert code == 0
    assert "created" not in out and out.count("exists ") == len(DEMO_AGENTS)
    assert store.list_agents() == agents


@pytest.mark.usefixtures("demo_mode")
def test_list_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "agents", "list")
    assert (code, out.strip()) == (0, "no agents yet: handoff agents create ... (or handoff "
                                      "agents seed-demo)")  # fmt: skip

    run(capsys, "agents", "seed-demo")
    code, out, _ = run(capsys, "agents", "list")

    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["USERNAME", "NAME", "ROLE", "TEAMS", "CAPACITY", "ACTIVE"]
    assert [line.split()[0] for line in lines[1:]] == sorted(d.username for d in DEMO_AGENTS)
    supervisor = next(line for line in lines if line.startswith("sam.supervisor"))
    assert "supervisor" in supervisor.split() and supervisor.endswith("yes")
    role_column = lines[0].index("ROLE")  # aligned: every role starts under the header
    assert {line[role_column:].split()[0] for line in lines[1:]} == {"agent", "supervisor"}


def test_create_reads_the_password_from_stdin(
    capsys: pytest.CaptureFixture[str], store: AgentStore
) -> None:
    code, out, _ = run(capsys, *create_args("--password-stdin"), stdin=PASSWORD + "\n")

    assert code == 0
    assert out.startswith("created agent zoe.fraud (Zoe Martin; teams security, general")
    agent = store.authenticate("zoe.fraud", PASSWORD)
    assert agent is not None
    assert (agent.teams, agent.capacity, agent.role.value) == (("security", "general"), 3, "agent")


def test_create_prompts_twice_for_the_password(
    capsys: pytest.CaptureFixture[str], store: AgentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts: list[str] = []
    monkeypatch.setattr("getpass.getpass", lambda prompt="": prompts.append(prompt) or PASSWORD)

    code, _, _ = run(capsys, *create_args("--role", "supervisor", "--capacity", "4"))

    assert code == 0
    assert prompts == ["Password: ", "Password again: "]
    agent = store.authenticate("zoe.fraud", PASSWORD)
    assert agent is not None and agent.role.value == "supervisor" and agent.capacity == 4


def test_two_different_passwords_create_nothing(
    capsys: pytest.CaptureFixture[str], store: AgentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter([PASSWORD, PASSWORD + "!"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))

    code, _, err = run(capsys, *create_args())

    assert (code, err.strip()) == (2, "handoff: the two passwords differ")
    assert store.list_agents() == []


def test_the_password_is_never_an_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        cli.main([*create_args(), "--password", PASSWORD])

    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    assert "use --password-stdin, or leave it out to be prompted" in err
    assert PASSWORD not in err


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (create_args("--password-stdin"), "short\n", "password: use at least 8 characters"),
        (create_args("--password-stdin"), "", "password: use at least 8 characters"),
        (
            create_args("--password-stdin", teams="security,fraud"),
            PASSWORD,
            "unknown team(s) fraud; the escalation matrix routes to: compliance, disputes, "
            "general, relationship, security, technical_support",
        ),
        (
            create_args("--password-stdin", teams=" , "),
            PASSWORD,
            "teams: an agent needs at least one team",
        ),
        (create_args("--capacity", "0", "--password-stdin"), PASSWORD, "capacity 0"),
    ],
)
def test_invalid_accounts_exit_2_and_create_nothing(
    capsys: pytest.CaptureFixture[str],
    store: AgentStore,
    argv: list[str],
    stdin: str,
    message: str,
) -> None:
    code, _, err = run(capsys, *argv, stdin=stdin)

    assert code == 2
    assert err.startswith(f"handoff: {message}")
    assert store.list_agents() == []


def test_a_taken_username_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, *create_args("--password-stdin"), stdin=PASSWORD)[0] == 0

    code, _, err = run(capsys, *create_args("--password-stdin"), stdin=PASSWORD)

    assert (code, err.strip()) == (2, "handoff: an agent named 'zoe.fraud' exists already")


def test_the_default_capacity_comes_from_the_settings(
    capsys: pytest.CaptureFixture[str], store: AgentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HANDOFF_AGENTS__DEFAULT_CAPACITY", "6")
    get_settings.cache_clear()

    assert run(capsys, *create_args("--password-stdin"), stdin=PASSWORD)[0] == 0

    agent = store.find_agent("zoe.fraud")
    assert agent is not None and agent.capacity == 6


def test_make_run_seeds_the_demo_agents_before_the_stack_in_demo_mode() -> None:
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile.split("\nrun: models", 1)[1].split("\n\n", 1)[0]
    commands = [
        line.strip() for line in recipe.splitlines()[1:] if not line.strip().startswith("@#")
    ]

    assert commands == ["$(PY) -m handoff agents seed-demo", "$(PY) -m handoff stack"]
    # `make run`, and nothing else, turns demo mode on.
    assert "\nrun: export HANDOFF_DEMO_MODE := true\n" in makefile
    assert makefile.count("HANDOFF_DEMO_MODE") == 1


def test_the_stack_banner_says_where_the_pages_are_and_how_to_log_in(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack._print_urls(Settings(demo_mode=True), "http://127.0.0.1:8000", [])

    lines = {
        line.split()[0] + " " + line.split()[1]: line.split()[2:]
        for line in capsys.readouterr().out.splitlines()
        if len(line.split()) > 2
    }
    assert lines["demo chat"][0] == "http://127.0.0.1:8000/"
    assert lines["agent console"][:4] == [
        "http://127.0.0.1:8000/agent", "as", DEMO_LOGIN, "/"
    ]  # fmt: skip
    assert lines["agent console"][4] == DEMO_PASSWORD
    assert lines["supervisor view"] == [
        "http://127.0.0.1:8000/supervisor", "as", DEMO_SUPERVISOR, "/", DEMO_PASSWORD
    ]  # fmt: skip
    by_name = {demo.username: demo for demo in DEMO_AGENTS}
    assert {"general", "relationship"} <= set(by_name[DEMO_LOGIN].teams)  # where "a person" goes
    assert by_name[DEMO_SUPERVISOR].role is AgentRole.SUPERVISOR


def test_the_banner_says_demo_mode_in_demo_mode_alone(capsys: pytest.CaptureFixture[str]) -> None:
    stack._print_urls(Settings(demo_mode=True), "http://127.0.0.1:8000", [])
    demo = capsys.readouterr().out
    stack._print_urls(Settings(), "http://127.0.0.1:8000", [])
    deployed = capsys.readouterr().out

    assert "DEMO MODE" in demo and DEMO_PASSWORD in demo
    assert "DEMO MODE" not in deployed and DEMO_PASSWORD not in deployed
