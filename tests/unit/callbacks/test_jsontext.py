"""JSON text for spans and digests: orjson where it can, valid JSON for any value."""

from __future__ import annotations

import json
from dataclasses import dataclass

from callbacks.jsontext import MAX_DEPTH, TRUNCATED, decode, encode, encode_plain, encode_sorted


def test_values_orjson_refuses_are_still_encoded_as_valid_json() -> None:
    value = {"big": 2**70, "text": "half a pair \ud800"}

    text = encode(value)

    assert json.loads(text.decode("utf-8")) == {"big": 2**70, "text": "half a pair \ud800"}


def test_unknown_objects_become_their_string_form() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque"

    assert decode(encode({"value": Opaque()})) == {"value": "opaque"}


def test_not_a_number_becomes_null() -> None:
    assert decode(encode([float("nan"), float("inf")])) == [None, None]


def test_sorted_encoding_does_not_depend_on_key_order() -> None:
    assert encode_sorted({"b": 1, "a": [{"d": 2, "c": 3}]}) == encode_sorted(
        {"a": [{"c": 3, "d": 2}], "b": 1}
    )


def test_only_plain_json_data_has_a_plain_encoding() -> None:
    class Text(str):
        pass

    assert encode_plain({"role": "user", "content": ["a", 1, 2.5, None, True]}) is not None
    assert encode_plain({"content": Text("subclass")}) is None
    assert encode_plain({1: "non-string key"}) is None


def nested(depth: int, inner: object = "bottom") -> object:
    value = inner
    for _ in range(depth):
        value = [value]
    return value


def depth_of(value: object) -> int:
    depth = 0
    while isinstance(value, list):
        value, depth = value[0], depth + 1
    return depth


@dataclass(frozen=True)
class Message:
    role: str
    content: object


def test_a_dataclass_orjson_refuses_is_still_encoded_as_its_fields() -> None:
    message = Message("user", ["half a pair \ud800", 2**70])

    assert decode(encode({"Event": message})) == {
        "Event": {"role": "user", "content": ["half a pair \ud800", 2**70]}
    }


def test_nesting_past_orjsons_limit_is_truncated_and_says_so() -> None:
    message = Message("user", nested(5_000))

    decoded = decode(encode({"Event": message}))

    content = decoded["Event"]["content"]
    assert depth_of(content) == MAX_DEPTH - 2
    truncated = content
    while isinstance(truncated, list):
        truncated = truncated[0]
    assert truncated == TRUNCATED == "[truncated: nested deeper than 200 levels]"
    assert encode_plain(decoded) is not None  # orjson takes the decoded value again


def test_nesting_orjson_takes_is_kept_whole() -> None:
    value = nested(250)

    assert decode(encode(value)) == value


def test_not_a_number_becomes_null_in_the_fallback_too() -> None:
    assert decode(encode([float("nan"), 2**70])) == [None, 2**70]


def test_keys_that_are_not_strings_are_written_as_strings() -> None:
    value = {1: "one", "nested": {2.5: True, None: [{3: "three"}]}}

    assert encode(value) == b'{"1":"one","nested":{"2.5":true,"null":[{"3":"three"}]}}'
    assert encode_sorted({"b": {2: 0, 1: 0}, "a": 0}) == b'{"a":0,"b":{"1":0,"2":0}}'
