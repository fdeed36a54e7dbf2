"""Edits of the keys file's text that leave every line they do not change as it was.

`keys add/set/revoke/rotate` and `keys team` change one entry or one team at a time; a
YAML round trip would drop the comments a platform team keeps in that file (who a key is
for, why a budget was raised). So each edit is made on the text, at the positions PyYAML's
composer reports for the nodes: a value is replaced where it stands, a field is appended
after the last line of its mapping, an entry's or a team's lines are cut out. Comments
outside the changed lines stay where they are.

Every function returns the new text, or raises UnsupportedLayout; the caller also checks
that the text parses to the intended data (developer_keys.KeysFileDocument) and falls back
to a plain dump when a layout is one these edits do not handle (a flow mapping with a `#`
inside, anchors).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import yaml
from yaml.nodes import CollectionNode, MappingNode, Node, ScalarNode, SequenceNode

WIDE = 1 << 20  # never fold a rendered line


class UnsupportedLayout(ValueError):
    """The text is not laid out as these edits expect; the caller dumps the file whole."""


Locate = Callable[[Node | None], Node]  # finds the mapping to edit in a freshly composed tree


def _compose(text: str) -> Node | None:
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _inline(value: Any) -> str:
    """`value` as YAML on one line: a plain scalar, or a flow list or mapping."""
    out = yaml.safe_dump(value, default_flow_style=True, width=WIDE, sort_keys=False).strip()
    return out[: -len("...")].rstrip() if out.endswith("\n...") else out


def _block(value: Any, indent: int) -> str:
    """`value` in block style, each line indented by `indent`, ending with a newline."""
    out = yaml.safe_dump(value, default_flow_style=False, width=WIDE, sort_keys=False)
    return "".join(" " * indent + line + "\n" for line in out.splitlines())


def _end(node: Node) -> int:
    """Where the node's own text ends: before any comment or blank line after it."""
    if isinstance(node, CollectionNode) and not node.flow_style and node.value:
        last = node.value[-1]
        return _end(last[1] if isinstance(node, MappingNode) else last)
    return node.end_mark.index


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    """The newline ending the line `index` is on (or the end of the text)."""
    if index > 0 and text[index - 1] == "\n":  # a block scalar ends after its newline
        return index - 1
    found = text.find("\n", index)
    return len(text) if found < 0 else found


def _splice(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def _with_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _insert_after_line(text: str, index: int, rendered: str) -> str:
    """`rendered` (whole lines) after the line `index` is on."""
    at = _line_end(text, index)
    if at == len(text):
        return _with_newline(text) + rendered
    return text[: at + 1] + rendered + text[at + 1 :]


def _value(node: Node) -> Any:
    """The data a node stands for, as yaml.safe_load builds it."""
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _pair(mapping: Node, key: str) -> tuple[int, Node, Node] | None:
    if isinstance(mapping, MappingNode):
        for index, (k, v) in enumerate(mapping.value):
            if isinstance(k, ScalarNode) and k.value == key:
                return index, k, v
    return None


def _replace_value(text: str, key_node: Node, value_node: Node, value: Any) -> str:
    """`key: new` where `key: old` was; a comment after the old value stays."""
    if isinstance(value, dict) and value:  # a new team: block style, as a person writes it
        new = ":\n" + _block(value, key_node.start_mark.column + 2)[:-1]
    else:
        new = ": " + _inline(value)
    return _splice(text, key_node.end_mark.index, _end(value_node), new)


def _append_pair(text: str, mapping: MappingNode, key: str, value: Any) -> str:
    """A new `key: value` after the mapping's last line, at its keys' indentation."""
    indent = mapping.value[0][0].start_mark.column
    return _insert_after_line(text, _end(mapping), _block({key: value}, indent))


def _remove_pair(text: str, mapping: MappingNode, index: int) -> str:
    """Cut one `key: value` out, with the comment on its last line."""
    pairs = mapping.value
    if len(pairs) == 1:
        return _splice(text, mapping.start_mark.index, _end(mapping), "{}")
    key, value = pairs[index]
    if index + 1 < len(pairs):
        return _splice(text, key.start_mark.index, pairs[index + 1][0].start_mark.index, "")
    return _splice(text, _end(pairs[index - 1][1]), _line_end(text, _end(value)), "")


def _set_pair(text: str, mapping: MappingNode, key: str, value: Any) -> str:
    found = _pair(mapping, key)
    if found is None:
        return _append_pair(text, mapping, key, value)
    return _replace_value(text, found[1], found[2], value)


def _edit_mapping(text: str, locate: Locate, new: Mapping[str, Any]) -> str:
    """Make the mapping `locate(root)` finds equal to `new`, one field at a time."""
    node = locate(_compose(text))
    if isinstance(node, MappingNode) and node.flow_style:
        span = text[node.start_mark.index : node.end_mark.index]
        if "#" in span:  # perhaps a comment inside, which the rewrite would drop
            raise UnsupportedLayout
        return _splice(text, node.start_mark.index, node.end_mark.index, _inline(dict(new)))
    if not isinstance(node, MappingNode) or not node.value:
        raise UnsupportedLayout
    old = _value(node)
    for gone in [k for k in old if k not in new]:
        node = locate(_compose(text))
        found = _pair(node, gone)
        if found is not None:
            text = _remove_pair(text, node, found[0])
    for key, value in new.items():
        if key not in old or old[key] != value:
            text = _set_pair(text, locate(_compose(text)), key, value)
    return text


def _section(root: Node | None, name: str) -> Node | None:
    found = _pair(root, name) if root is not None else None
    return found[2] if found else None


def _keys(root: Node | None) -> Node | None:
    return root if isinstance(root, SequenceNode) else _section(root, "keys")


def append_key(text: str, entry: Mapping[str, Any]) -> str:
    """The entry added after the last one."""
    root = _compose(text)
    if root is None:
        return _with_newline(text) + _block([dict(entry)], 0)
    items = _keys(root)
    if isinstance(items, SequenceNode) and not items.flow_style and items.value:
        rendered = _block([dict(entry)], items.start_mark.column)
        return _insert_after_line(text, _end(items.value[-1]), rendered)
    if items is root:  # an empty flow list: `[]`
        return _splice(text, root.start_mark.index, _end(root), _block([dict(entry)], 0)[:-1])
    found = _pair(root, "keys")
    if found is None:
        return _with_newline(text) + "keys:\n" + _block([dict(entry)], 2)
    _, key_node, value_node = found
    block = _block([dict(entry)], key_node.start_mark.column + 2)[:-1]
    return _splice(text, key_node.end_mark.index, _end(value_node), ":\n" + block)


def remove_key(text: str, index: int) -> str:
    """The entry's lines cut out; the last entry leaves `[]` behind."""
    items = _keys(_compose(text))
    if not isinstance(items, SequenceNode):
        raise UnsupportedLayout
    item = items.value[index]
    start = _line_start(text, item.start_mark.index)
    end = min(_line_end(text, _end(item)) + 1, len(text))
    if text[start - 2 : start] == "\n\n" and text[end : end + 1] == "\n":
        end += 1  # between two blank lines: leave one
    empty = " " * items.start_mark.column + "[]\n" if len(items.value) == 1 else ""
    return _splice(text, start, end, empty)


def replace_key(text: str, index: int, entry: Mapping[str, Any]) -> str:
    """The entry's fields changed, added or removed in place."""

    def locate(root: Node | None) -> Node:
        items = _keys(root)
        if not isinstance(items, SequenceNode):
            raise UnsupportedLayout
        return items.value[index]

    return _edit_mapping(text, locate, entry)


def set_team(text: str, name: str, limits: Mapping[str, Any]) -> str:
    """The team's limits set in place; a new team is added to `teams:` (created if absent)."""
    root = _compose(text)
    team = {name: dict(limits)}
    if root is None:
        return _with_newline(text) + _block({"teams": team, "keys": []}, 0)
    if isinstance(root, SequenceNode):  # a plain list becomes `teams:` and `keys:`
        start = _line_start(text, root.start_mark.index)
        keys_line = "keys: " if root.flow_style else "keys:\n"
        return text[:start] + _block({"teams": team}, 0) + keys_line + text[start:]
    teams = _section(root, "teams")
    if teams is None:
        start = _line_start(text, root.start_mark.index)
        return text[:start] + _block({"teams": team}, root.start_mark.column) + text[start:]
    if not isinstance(teams, MappingNode) or teams.flow_style or not teams.value:
        found = _pair(root, "teams")
        if found is None:
            raise UnsupportedLayout
        return _replace_value(text, found[1], found[2], team)
    existing = _pair(teams, name)
    if existing is None:
        return _append_pair(text, teams, name, dict(limits))
    if not limits or not isinstance(existing[2], MappingNode):
        return _replace_value(text, existing[1], existing[2], dict(limits))

    def locate(root: Node | None) -> Node:
        found = _pair(_section(root, "teams"), name)
        if found is None:
            raise UnsupportedLayout
        return found[2]

    return _edit_mapping(text, locate, limits)


def remove_team(text: str, name: str) -> str:
    """The team's lines cut out of `teams:`."""
    teams = _section(_compose(text), "teams")
    found = _pair(teams, name)
    if not isinstance(teams, MappingNode) or found is None:
        raise UnsupportedLayout
    return _remove_pair(text, teams, found[0])
