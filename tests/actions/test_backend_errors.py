"""Bank failures become an apology, a failed step and a bot_error handoff, never a crash."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from actions import bank_session
from actions.cards import ActionCardDeliveryStatus, ActionFreezeCard
from actions.transfers import ActionTransferStatus
from demobank.db import create_bank_engine, create_schema, session_factory
from demobank.models import Card, CardStatus, Transfer
from demobank.seed import seed_demo_bank


def assert_bot_error(result, action: str, step: str) -> None:
    # Only the apology: nothing the action prepared before the failure reaches the customer.
    assert result.responses == ["utter_backend_error"]
    payload = result.handoff
    assert (payload["reason"], payload["category"], payload["severity"], payload["team"]) == (
        "bot_error",
        "technical",
        "sev3",
        "general",
    )
    [failed] = result.new_steps
    assert (failed["action"], failed["step"], failed["outcome"]) == (action, step, "failed")
    assert "bank systems unavailable" in failed["summary"]
    assert payload["attempted_steps"] == [failed]
    assert result.slot("handoff_reason") == "bot_error"


def test_dropped_table_escalates_bot_error(run, tracker_for, wired_bank):
    Transfer.__table__.drop(wired_bank)

    result = run(ActionTransferStatus(), tracker_for("pending_transfer", customer_id="cus_1001"))

    assert_bot_error(result, "action_transfer_status", "transfer_status")
    assert result.new_steps[0]["summary"] == (
        "transfer status failed: bank systems unavailable (BankUnavailable)"
    )


def test_unreachable_database_escalates_bot_error(run, tracker_for, tmp_path):
    bank_session.configure(create_bank_engine(f"sqlite:///{tmp_path}/missing/dir/bank.sqlite"))

    result = run(ActionCardDeliveryStatus(), tracker_for("card_arrival", customer_id="cus_1001"))

    assert_bot_error(result, "action_card_delivery_status", "card_delivery_status")


def test_escalating_intent_on_backend_error_hands_over_once(run, tracker_for, wired_bank):
    with wired_bank.begin() as connection:
        connection.exec_driver_sql("DROP TABLE transactions")
        connection.exec_driver_sql("DROP TABLE cards")

    result = run(ActionFreezeCard(), tracker_for("compromised_card", customer_id="cus_1002"))

    # The intent is still in the payload, so the handoff service can raise the priority.
    assert_bot_error(result, "action_freeze_card", "freeze_card")
    assert result.handoff["intent"] == "compromised_card"


def test_failed_commit_rolls_back_and_reports_no_freeze(run, tracker_for, wired_bank, monkeypatch):
    def failing_commit(self: Session) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(Session, "commit", failing_commit)

    result = run(ActionFreezeCard(), tracker_for("lost_or_stolen_card", customer_id="cus_1002"))

    monkeypatch.undo()
    assert_bot_error(result, "action_freeze_card", "freeze_card")
    with session_factory(wired_bank)() as session:
        assert session.get(Card, "card_1002_1").status is CardStatus.ACTIVE


def test_bad_database_url_escalates_bot_error(run, tracker_for, monkeypatch):
    bank_session.reset()
    monkeypatch.setenv(bank_session.URL_ENV_VAR, "this is not a url")

    result = run(ActionTransferStatus(), tracker_for("pending_transfer", customer_id="cus_1001"))

    assert_bot_error(result, "action_transfer_status", "transfer_status")
    assert "BankConfigurationError" in result.new_steps[0]["summary"]


def test_database_url_is_read_from_the_environment_on_first_use(
    run, tracker_for, monkeypatch, tmp_path, now
):
    url = f"sqlite:///{tmp_path}/bank.sqlite"
    engine = create_bank_engine(url)
    create_schema(engine)
    with session_factory(engine)() as session:
        seed_demo_bank(session, now)
        session.commit()
    engine.dispose()
    bank_session.reset()
    monkeypatch.setenv(bank_session.URL_ENV_VAR, url)

    result = run(ActionTransferStatus(), tracker_for("pending_transfer", customer_id="cus_1001"))

    assert result.responses == ["utter_transfer_pending"]
    assert bank_session.database_url() == url


def test_default_database_is_the_repository_var_folder(monkeypatch):
    monkeypatch.delenv(bank_session.URL_ENV_VAR, raising=False)

    url = bank_session.database_url()

    assert url.startswith("sqlite:///")
    assert url.endswith("/var/demobank.sqlite")
    assert url.removeprefix("sqlite:///") == str(bank_session.REPO_ROOT / "var" / "demobank.sqlite")


def test_loading_the_action_package_reads_no_environment_and_builds_no_engine():
    # rasa-sdk imports every module of actions/ at start-up; with an unusable URL in the
    # environment that must still work, because nothing may read it before an action runs.
    code = (
        "from rasa_sdk.executor import ActionExecutor\n"
        "executor = ActionExecutor()\n"
        "executor.register_package('actions')\n"
        "from actions import bank_session\n"
        "assert bank_session._factory is None and bank_session._owned_engine is None\n"
        "print(len(executor.actions))\n"
    )
    env = {**os.environ, bank_session.URL_ENV_VAR: "this is not a url"}
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=bank_session.REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "17"
