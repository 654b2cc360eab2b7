"""The supervisor view in headless Chromium against the real stack.

An agent is online over ``/ws/agent`` and a customer escalates over ``/ws/customer``; the
supervisor's page shows the handoff in its team's queue with an SLA countdown, the agent online,
and the escalation counted under its reason. An agent's account is turned away from the page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from agent_desk import agent_socket, queued_for
from customer_chat import Chat, identity_token
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.integration


def log_in(page: Page, service_url: str, username: str) -> None:
    page.goto(f"{service_url}/supervisor")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill("demo-password")
    page.get_by_test_id("login-submit").click()


def test_an_agent_account_is_turned_away(stack, demo_agents, new_page) -> None:
    page = new_page()
    log_in(page, stack.service_url, "dev.support")

    expect(page.get_by_test_id("login-error")).to_contain_text("for supervisors")
    expect(page.get_by_test_id("teams")).to_be_hidden()


def test_the_supervisor_sees_the_queue_the_agents_and_todays_escalations(
    stack, demo_agents, new_page, screenshots: Path
) -> None:
    page = new_page()
    log_in(page, stack.service_url, "sam.supervisor")
    expect(page.get_by_test_id("connection-status")).to_contain_text("Live")

    with (
        agent_socket(stack.service_url, "dev.support") as (desk, _),
        Chat.open(stack.service_url) as chat,
    ):
        started = chat.start(identity_token(stack.service_url, "cus_1001"))
        chat.queued(chat.say("I want to talk to a person"))
        handoff = desk.wait_for(queued_for(started["conversation_id"]))["handoff"]

        general = page.locator("[data-testid=team][data-team=general]")
        item = general.locator(f"[data-testid=queue-item][data-handoff-id='{handoff['id']}']")
        expect(item).to_be_visible()
        expect(item).to_have_attribute("data-severity", handoff["severity"])
        expect(item).to_contain_text("request_human")
        expect(item.get_by_test_id("sla")).to_have_attribute("data-sla-state", "active")
        expect(item.get_by_test_id("sla")).to_contain_text(re.compile(r"ack in \d+"))

        dev = page.locator("[data-testid=agent-row][data-username='dev.support']")
        expect(dev.get_by_test_id("presence")).to_have_attribute("data-presence", "online")
        nobody = page.locator("[data-testid=agent-row][data-username='femi.compliance']")
        expect(nobody.get_by_test_id("presence")).to_have_attribute("data-presence", "offline")

        reason = page.locator("[data-testid=reason-count][data-reason=request_human]")
        expect(reason).to_contain_text(re.compile(r"request_human\s*[1-9]"))
        expect(page.get_by_test_id("escalations-total")).to_contain_text(re.compile(r"[1-9]"))
        page.screenshot(path=screenshots / "supervisor-view.png", full_page=True)
