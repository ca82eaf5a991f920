"""DiffLM's codec layer: the VAE, the diffusion prior and the decoder only ever see texts. A codec turns a
modality's training data into texts, reads decoded texts back into records (or says why one is invalid),
and gives the grammar that constrained decoding follows.

- `TableCodec`: a row is a JSON object in column order, or a JSON array of its values (`row_format`,
  `table.py`); the grammar spells exactly that, with
  the training vocabulary and each numeric column's shape, so it also bounds a row's length.
- `TextCodec` (text, code): a record is its own text; any non-empty decoded string is a record. There is no
  grammar: constrained decoding falls back to free decoding, and the run record's sampling section says so.
- `JSONCodec`: a record is a dict, written with json.dumps(ensure_ascii=False); a decoded text must be a
  JSON object with the schema's top-level required keys. Grammar: the metadata's JSON schema through
  xgrammar (its strict mode when the schema lists properties: no keys it does not name), or any JSON object.

`codec_for(metadata)` picks the codec from the metadata's modality.
"""
from __future__ import annotations

import json

import pandas as pd

from harness.api import Metadata, TableMetadata
from methods.difflm.table import (NumberFormat, Parsed, check_format, frame_to_texts, number_formats, parse_record,
                                  row_grammar, row_max_bytes)


class Codec:
    modality = ""
    has_grammar = False

    def fit(self, texts: list[str]) -> "Codec":
        """Learn what the grammar needs from all training texts (before any subsampling)."""
        return self

    def encode(self, data) -> list[str]:
        raise NotImplementedError

    def parse(self, text: str) -> Parsed:
        raise NotImplementedError

    def grammar(self, max_digits: int):
        """EBNF text or an xgrammar.Grammar for constrained decoding; None: decode free."""
        return None

    def max_bytes(self, max_digits: int) -> int | None:
        """The longest text the grammar admits, in UTF-8 bytes, if it is bounded."""
        return None

    def collect(self, records: list):
        """Parsed records as what `sample` returns: a DataFrame for tables, else the list itself."""
        return list(records)


class TableCodec(Codec):
    modality = "table"
    has_grammar = True

    def __init__(self, meta: TableMetadata, formats: dict[str, NumberFormat] | None = None,
                 row_format: str = "json-object"):
        self.meta, self.formats, self.row_format = meta, formats, check_format(row_format)

    def fit(self, texts: list[str]) -> "TableCodec":
        self.formats = number_formats(texts, self.meta, self.row_format)     # the number shapes the grammar allows
        return self

    def encode(self, data: pd.DataFrame) -> list[str]:
        return frame_to_texts(data, self.meta, self.row_format)

    def parse(self, text: str) -> Parsed:
        return parse_record(text, self.meta, self.row_format)

    def grammar(self, max_digits: int) -> str:
        return row_grammar(self.meta, max_digits, self.formats, self.row_format)

    def max_bytes(self, max_digits: int) -> int:
        return row_max_bytes(self.meta, max_digits, self.formats, self.row_format)

    def collect(self, records: list) -> pd.DataFrame:
        return pd.DataFrame(records, columns=self.meta.columns)


class TextCodec(Codec):
    def __init__(self, modality: str = "text"):
        self.modality = modality

    def encode(self, data: list[str]) -> list[str]:
        return list(data)

    def parse(self, text: str) -> Parsed:
        return Parsed(text) if text.strip() else Parsed(None, "empty text")


class JSONCodec(Codec):
    modality = "json"
    has_grammar = True

    def __init__(self, schema: dict | None = None):
        self.schema = schema
        self.required = list((schema or {}).get("required", []))

    def encode(self, data: list[dict]) -> list[str]:
        return [json.dumps(r, ensure_ascii=False) for r in data]

    def parse(self, text: str) -> Parsed:
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            return Parsed(None, f"invalid JSON: {e.msg}")
        if not isinstance(obj, dict):
            return Parsed(None, "not a JSON object")
        missing = [k for k in self.required if k not in obj]
        if missing:
            return Parsed(None, f"missing key {missing[0]!r}")
        return Parsed(obj)

    def grammar(self, max_digits: int):
        import xgrammar as xgr

        schema = self.schema if self.schema is not None else {"type": "object"}
        # json.dumps' default separators, so the grammar spells records as the VAE saw them in training
        return xgr.Grammar.from_json_schema(json.dumps(schema), any_whitespace=False, separators=(", ", ": "),
                                            strict_mode=bool(schema.get("properties")))


def codec_for(metadata: Metadata, row_format: str = "json-object") -> Codec:
    """The codec for the data's modality; `row_format` is how a table row is written (table.ROW_FORMATS)."""
    if metadata.modality == "table":
        return TableCodec(metadata, row_format=row_format)
    if metadata.modality == "json":
        return JSONCodec(metadata.schema)
    return TextCodec(metadata.modality)
