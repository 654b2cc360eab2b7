"""Numbers changed in the policy file's text, every comment and layout kept."""

from __future__ import annotations

import pytest
import yaml
from fakes import POLICY_FILE

from handoff.tuning.policy_diff import PolicyEditError, edit_numbers, format_number, unified_diff

TEXT = """\
# the lead's comment
escalate_score: 1.0   # hand over at this
thresholds:
  # nested comment
  frustration:
    standard: 0.75
triggers:
  low_confidence: {weight: 0.25, hard: false, severity: sev4}
"""


def test_only_the_numbers_change() -> None:
    changes = {
        ("escalate_score",): 0.9,
        ("thresholds", "frustration", "standard"): 0.7000000001,
        ("triggers", "low_confidence", "weight"): 0.5,
    }
    edited = edit_numbers(TEXT, changes)
    assert edited == (
        TEXT.replace("1.0   #", "0.9   #").replace("0.75", "0.7").replace("0.25", "0.5")
    )
    assert yaml.safe_load(edited)["triggers"]["low_confidence"]["weight"] == 0.5


def test_the_diff_of_the_shipped_file_touches_only_the_changed_lines() -> None:
    text = POLICY_FILE.read_text()
    edited = edit_numbers(text, {("triggers", "negative_polarity", "weight"): 0.5})
    diff = unified_diff(text, edited, "data/escalation.yml")
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in "+++---"]
    assert changed == [
        "-  negative_polarity: {weight: 0.25, hard: false, severity: sev4}",
        "+  negative_polarity: {weight: 0.5, hard: false, severity: sev4}",
    ]
    assert diff.startswith("--- data/escalation.yml\n+++ data/escalation.yml\n")
    assert edited.count("#") == text.count("#")


def test_no_change_no_diff() -> None:
    assert unified_diff(TEXT, edit_numbers(TEXT, {}), "x.yml") == ""


@pytest.mark.parametrize(
    "path", [("nope",), ("thresholds", "frustration"), ("escalate_score", "deeper")]
)
def test_a_path_that_names_no_number_is_refused(path: tuple[str, ...]) -> None:
    with pytest.raises(PolicyEditError):
        edit_numbers(TEXT, {path: 1.0})


def test_number_formats() -> None:
    assert format_number(3) == "3"
    assert format_number(0.30000000000000004) == "0.3"
    assert format_number(1.0) == "1.0"
    with pytest.raises(PolicyEditError):
        format_number(True)
