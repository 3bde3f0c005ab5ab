"""YAML text of a config, read without surprises: the safe loader plus three guards.

* **Bounded aliases**: a document is composed into its node graph first, and refused when the
  graph, with every alias expanded, has more than :data:`MAX_NODES` nodes (a 1 KB file of nested
  aliases, the "billion laughs", would otherwise expand to billions of values when the config is
  validated or printed); a recursive alias is refused too. The count walks the graph once
  (shared nodes counted by memo), so the refusal takes milliseconds.
* **No duplicate keys**: ``steps: 5`` then ``steps: 7`` in one mapping is an error naming the key
  and both lines (YAML's "last one wins" would silently drop one); ``<<`` merge keys still work.
* **UTF-8 only**: other bytes are an error naming the offset, never a ``UnicodeDecodeError``.

:func:`short_repr` is the bounded ``repr`` every config error message uses for a value.
"""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any

import yaml

MAX_NODES = 100_000  # a real config has a few hundred
_MERGE = "tag:yaml.org,2002:merge"
_REPR = reprlib.Repr()
for _name, _value in dict(maxlevel=3, maxlist=4, maxtuple=4, maxdict=4, maxset=4, maxstring=60, maxother=60).items():
    setattr(_REPR, _name, _value)


def short_repr(value: Any, limit: int = 100) -> str:
    """``repr(value)`` cut to about ``limit`` characters without walking all of a huge value."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (checked as each mapping
    is composed, before ``<<`` merges are flattened into it)."""

    def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:
        node = super().compose_mapping_node(anchor)
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE:
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"duplicate key {short_repr(key_node.value)} (lines {seen[key_node.value]} and {line}); "
                    "keep one of them",
                    key_node.start_mark,
                )
            seen[key_node.value] = line
        return node


def _expanded_size(node: yaml.Node, memo: dict[int, int], active: set[int]) -> int:
    """Nodes in ``node``'s tree with every alias expanded (stops counting past MAX_NODES)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise yaml.YAMLError("a recursive alias (an anchor used inside itself); configs cannot be recursive")
    active.add(key)
    children: list = []
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    total = 1
    for child in children:
        total += _expanded_size(child, memo, active)
        if total > MAX_NODES:
            break
    active.discard(key)
    memo[key] = total
    return total


def load_yaml(text: str) -> Any:
    """Parse one YAML document with the guards above.

    Raises:
        yaml.YAMLError: invalid YAML, a duplicate key, a recursive alias, or more than
            :data:`MAX_NODES` nodes once aliases are expanded.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, {}, set())
        if size > MAX_NODES:
            raise yaml.YAMLError(
                f"more than {MAX_NODES} values once its aliases (*name) are expanded; a config "
                "needs a few hundred, so this looks like a nested-alias bomb; write the values out"
            )
        return loader.construct_document(node)
    except RecursionError:
        raise yaml.YAMLError("nested too deeply") from None
    finally:
        loader.dispose()


def read_yaml_text(path: Path) -> str:
    """The file's text as UTF-8 (a byte-order mark is dropped).

    Raises:
        ValueError: the bytes are not UTF-8 (the message names the offset and what to do).
    """
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8 (most editors offer it under 'Save with encoding')"
        ) from None
