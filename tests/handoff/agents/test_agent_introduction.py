"""What the customer reads when an agent takes over: pure functions, exact sentences."""

from __future__ import annotations

from handoff.agents.introduction import agent_introduction, agent_joined, first_name, team_phrase


def step(summary: str) -> dict[str, str]:
    return {"action": "a", "step": "s", "outcome": "done", "summary": summary, "at": "x"}


def test_the_introduction_names_the_agent_the_team_and_what_was_tried() -> None:
    brief = {"attempted_steps": [step("froze card ending 4242"), step("listed recent payments.")]}
    assert agent_introduction("Ana Souza", "security", brief) == (
        "Hi, I'm Ana from our security team. I can see what's been done so far: froze card "
        "ending 4242 and listed recent payments. I'll take it from here, so there's no need to "
        "repeat anything."
    )


def test_only_the_three_latest_distinct_steps_are_named() -> None:
    steps = [step(s) for s in ["one", "two", "three", "two", "four"]]
    text = agent_introduction("Bo", "technical_support", {"attempted_steps": steps})
    assert text.startswith("Hi, I'm Bo from our technical support team. ")
    assert "done so far: three, two and four." in text


def test_without_steps_the_introduction_says_the_conversation_was_read() -> None:
    assert agent_introduction("Carl Mensah", "general", {"attempted_steps": []}) == (
        "Hi, I'm Carl from our general team. I've read your conversation so far, so there's no "
        "need to repeat anything. How can I help?"
    )


def test_the_cold_line_and_the_names() -> None:
    assert agent_joined("Ana Souza", "security") == "Ana from our security team has joined."
    assert first_name("  ") == "A colleague"
    assert team_phrase("support_team") == "support team"
