"""The policy file with some of its numbers changed, as new text and as a unified diff. Pure.

Only the characters of each changed number are replaced, at the place YAML says the value
stands (PyYAML's node marks), so comments, order, quoting and flow mappings such as
``{weight: 0.25, hard: false}`` stay exactly as the support lead wrote them.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

import yaml

Path = tuple[str, ...]
"""A dotted place in the policy file, as a tuple: ``("triggers", "low_confidence", "weight")``."""


class PolicyEditError(ValueError):
    """A path that names no number of the file."""


def dotted(path: Path) -> str:
    """``path`` as ``a.b.c``."""
    return ".".join(path)


def format_number(value: float | int) -> str:
    """How a number is written into the file: ints as ints, floats rounded to 4 places."""
    if isinstance(value, bool):
        raise PolicyEditError(f"not a number: {value!r}")
    if isinstance(value, int):
        return str(value)
    return repr(round(float(value), 4))


def _scalar(root: yaml.Node, path: Path) -> yaml.ScalarNode:
    node = root
    for key in path:
        if not isinstance(node, yaml.MappingNode):
            raise PolicyEditError(f"{dotted(path)}: {key!r} is under something not a mapping")
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                node = value_node
                break
        else:
            raise PolicyEditError(f"{dotted(path)}: no key {key!r} in the file")
    if not isinstance(node, yaml.ScalarNode):
        raise PolicyEditError(f"{dotted(path)} is not a single value")
    return node


def edit_numbers(text: str, changes: Mapping[Path, float | int]) -> str:
    """``text`` with the number at each path of ``changes`` replaced; nothing else moves."""
    root = yaml.compose(text)
    if root is None:
        raise PolicyEditError("the policy file is empty")
    spans = []
    for path, value in changes.items():
        node = _scalar(root, path)
        spans.append((node.start_mark.index, node.end_mark.index, format_number(value)))
    edited = text
    for start, end, replacement in sorted(spans, reverse=True):  # from the end: indexes hold
        edited = edited[:start] + replacement + edited[end:]
    return edited


def unified_diff(before: str, after: str, name: str) -> str:
    """The unified diff from ``before`` to ``after`` of the file ``name`` (``patch -p0``)."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=name,
            tofile=name,
        )
    )
