"""JSON text for spans and digests: orjson where it can, valid JSON for any value."""

from __future__ import annotations

import json

from callbacks.jsontext import decode, encode, encode_plain, encode_sorted


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
