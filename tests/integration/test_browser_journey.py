"""The whole journey in Chromium: the customer in the chat widget, the agent in the console.

A demo customer asks a tier-1 question and gets the answer; grows frustrated and asks for a
person; is told which team takes over and how long it will take. An agent signs in to the
console, sees the brief with what the assistant already tried, takes the conversation and
replies; the customer sees the agent's name and reply. The agent resolves with the form; the
conversation returns to the assistant, which welcomes the customer back and asks for a rating;
the customer's rating is kept with the handoff. A screenshot of each page at each step goes to
``reports/browser/`` (the README shows them).
"""

# ruff: noqa: F811 - shared helpers are imported from the widget and console tests
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from test_browser_console import (  # noqa: F401 - patient_expect is an autouse fixture
    held_item,
    patient_expect,
    queue_item,
    sign_in,
    stored,
)
from test_browser_widget import AUTHORED, TURN_MS, ask, open_demo, say, wait_for_message

pytestmark = pytest.mark.integration

CUSTOMER = "cus_1001"  # Alice Moreau, standard tier
AGENT = "carla.relationship"  # Carla Nunes: relationship and general, where Alice is sent
AGENT_TEAMS = ("relationship", "general")
TIER1 = "my card still hasn't arrived"
FRUSTRATED = "This is the third time I'm asking, this is ridiculous. I want to speak to a person."
REPLY = "Hi Alice, I'm sorry about the wait. I've put a trace on the card and will stay with you."


def shot(page: Page, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"journey-{name}.png"))


def newest(page: Page, author: str):
    return page.locator(AUTHORED.format(author)).last


def test_customer_to_agent_and_back_to_the_bot(
    stack, demo_agents, new_page, screenshots: Path
) -> None:
    # The customer: a tier-1 answer from the assistant.
    customer = open_demo(new_page(), stack, CUSTOMER)
    ask(customer, TIER1)
    expect(newest(customer, "bot")).to_contain_text(re.compile(r"card", re.I))
    shot(customer, screenshots, "1-customer-tier1-answer")

    # Frustrated: told which team takes over and how long it will take.
    seq = say(customer, FRUSTRATED)
    wait_for_message(customer, "system", seq)
    expect(customer.get_by_test_id("panel")).to_have_attribute("data-owner", "queued")
    notice = customer.locator(AUTHORED.format("system"), has_text="colleague from our").last
    expect(notice).to_contain_text(re.compile(r"wait|expect a reply|within", re.I))
    team = re.search(r"colleague from our (\w+) team", notice.inner_text())
    assert team is not None and team[1] in AGENT_TEAMS, notice.inner_text()
    expect(customer.get_by_test_id("queue-status")).to_be_visible()
    conversation_id = customer.get_by_test_id("panel").get_attribute("data-conversation-id")
    assert conversation_id
    shot(customer, screenshots, "2-customer-told-who-and-when")

    # The agent: the queue, the brief with the attempted steps, take it, reply.
    agent = new_page()
    sign_in(agent, stack, AGENT)
    item = queue_item(agent, conversation_id)
    expect(item).to_be_visible()
    expect(item.get_by_test_id("sla")).to_have_attribute("data-sla-state", "active")
    shot(agent, screenshots, "3-agent-queue")
    item.get_by_test_id("queue-open").click()
    brief = agent.get_by_test_id("brief")
    expect(brief.get_by_test_id("brief-summary")).to_contain_text(re.compile(r"\w"))
    expect(brief.get_by_test_id("attempted-step").first).to_be_visible()
    expect(brief.get_by_test_id("sentiment-chart")).to_be_visible()
    expect(brief.get_by_test_id("brief-transcript")).to_contain_text(FRUSTRATED)
    shot(agent, screenshots, "4-agent-brief")
    agent.get_by_test_id("claim-button").click()
    expect(held_item(agent, conversation_id)).to_be_visible()
    conversation = agent.get_by_test_id("conversation")
    if conversation.get_attribute("data-mode") == "warm":
        agent.get_by_test_id("acknowledge-button").click()
    expect(conversation).to_have_attribute("data-acknowledged", "true")
    agent.get_by_test_id("chat-input").fill(REPLY)
    agent.get_by_test_id("send-button").click()

    # The customer sees who is helping and what they wrote.
    banner = customer.get_by_test_id("agent-banner")
    expect(banner.get_by_test_id("agent-name")).to_have_text("Carla Nunes", timeout=TURN_MS)
    expect(banner.get_by_test_id("agent-team")).to_contain_text(team[1])
    expect(newest(customer, "agent")).to_contain_text(REPLY)
    shot(customer, screenshots, "5-customer-agent-replied")

    # Resolved with the form: back to the assistant, which asks for a rating.
    agent.get_by_test_id("resolve-open").click()
    expect(agent.get_by_test_id("resolve-trigger")).not_to_have_value("")
    agent.get_by_test_id("resolve-avoidable-no").check()
    agent.get_by_test_id("resolve-root-cause").select_option("process_failure")
    agent.get_by_test_id("resolve-note").fill("Card lost in the post; trace opened.")
    shot(agent, screenshots, "6-agent-resolve-form")
    agent.get_by_test_id("resolve-submit").click()
    expect(held_item(agent, conversation_id)).to_have_count(0)

    expect(customer.get_by_test_id("panel")).to_have_attribute("data-owner", "bot")
    expect(banner).to_be_hidden()
    expect(newest(customer, "bot")).to_contain_text("from 1 (poor) to 5 (excellent)")
    rated = ask(customer, "5")
    expect(newest(customer, "bot")).to_contain_text("5 out of 5")
    shot(customer, screenshots, "7-customer-back-with-the-bot")

    with stored(stack) as (store, work):
        handoff = store.latest_handoff(conversation_id)
        assert handoff is not None and handoff.satisfaction_rating == 5
        resolution = work.get_resolution(handoff.id)
        assert resolution is not None and resolution.root_cause == "process_failure"
    assert rated > seq
