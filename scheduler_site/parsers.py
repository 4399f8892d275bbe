"""JSON request bodies: DRF's parser, with a 400 (not a 500) for bodies nested too deep to parse, and
numbers with a fraction or an exponent kept as written beside their float value (`JsonNumber`), so
exact readers (`formats.parse_cores`) see `1.0000000000000000000000000001`, not the float 1.0."""

from __future__ import annotations

import codecs
import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils.json import strict_constant


class JsonNumber(float):
    """A float that remembers the JSON text it was read from (`.text`); a float everywhere else."""

    __slots__ = ("text",)

    def __new__(cls, text: str) -> JsonNumber:
        number = super().__new__(cls, text)
        number.text = text
        return number


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = get_encoding(parser_context or {})
        try:
            decoded = codecs.getreader(encoding)(stream)
            return json.load(decoded, parse_constant=strict_constant, parse_float=JsonNumber)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
