"""A SOQL subset: SELECT fields FROM object [WHERE ...] [ORDER BY ...] [LIMIT n].

WHERE takes comparisons (=, !=, <>, <, <=, >, >=, IN, NOT IN, LIKE) of a field with a
literal (string, number, true/false, null, date, datetime), combined with AND/OR/NOT and
parentheses; like Salesforce, AND and OR may not be mixed without parentheses. Anything
else (relationship fields, functions, date literals such as TODAY, GROUP BY, OFFSET...) is a
MALFORMED_QUERY; unknown fields and objects are INVALID_FIELD and INVALID_TYPE.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from dealcast.crm.sfdc_emulator.data import OrgData, SObjectTable, parse_datetime


class SoqlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<str>'(?:[^'\\]|\\.)*')
  | (?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})(?![\dT])
  | (?P<num>-?\d+(?:\.\d+)?)(?![\w.])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)
KEYWORDS = {
    "select",
    "from",
    "where",
    "and",
    "or",
    "not",
    "in",
    "like",
    "order",
    "by",
    "asc",
    "desc",
    "nulls",
    "first",
    "last",
    "limit",
    "null",
    "true",
    "false",
}


@dataclass(frozen=True)
class Token:
    kind: str  # str | dt | date | num | name | kw | op | punct | end
    text: str
    value: Any = None


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise _malformed(f"unexpected token at character {pos + 1}: {text[pos : pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup or ""
        raw = match.group(kind)
        if kind == "str":
            value: Any = re.sub(r"\\(.)", r"\1", raw[1:-1])
        elif kind == "dt":
            value = parse_datetime(raw)
        elif kind == "date":
            value = date.fromisoformat(raw)
        elif kind == "num":
            value = float(raw)
        elif kind == "name" and raw.lower() in KEYWORDS:
            kind, value = "kw", raw.lower()
        else:
            value = raw
        tokens.append(Token(kind, raw, value))
    tokens.append(Token("end", "", None))
    return tokens


def _malformed(message: str) -> SoqlError:
    return SoqlError("MALFORMED_QUERY", message)


Predicate = Callable[[dict[str, Any]], bool]


@dataclass
class Query:
    object: str
    fields: list[str]
    where: Predicate | None
    order: list[tuple[str, bool, bool]]  # field, descending, nulls_last
    limit: int | None
    table: SObjectTable

    def run(self, include_deleted: bool) -> list[dict[str, Any]]:
        floor = getattr(self.where, "modstamp_floor", None)
        candidates = (
            self.table.records.values() if floor is None else self.table.modified_since(floor)
        )
        rows = [
            r
            for r in candidates
            if (include_deleted or not r.get("IsDeleted")) and (self.where is None or self.where(r))
        ]
        for fld, desc, nulls_last in reversed(self.order):
            present = [r for r in rows if r.get(fld) is not None]
            missing = [r for r in rows if r.get(fld) is None]
            present.sort(key=_key_of(fld), reverse=desc)
            rows = present + missing if nulls_last else missing + present
        return rows[: self.limit] if self.limit is not None else rows


def _key_of(fld: str) -> Callable[[dict[str, Any]], Any]:
    def key(rec: dict[str, Any]) -> Any:
        value = rec[fld]
        return value.lower() if isinstance(value, str) else value

    return key


class _Parser:
    def __init__(self, text: str, data: OrgData) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.data = data
        self.table: SObjectTable | None = None

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok.kind == "kw" and tok.value == word:
            self.i += 1
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.keyword(word):
            found = self.peek().text or "end of query"
            raise _malformed(f"expecting {word.upper()}, found {found!r}")

    def parse(self) -> Query:
        self.expect("select")
        names = [self.name()]
        while self.peek().text == ",":
            self.take()
            names.append(self.name())
        self.expect("from")
        obj_token = self.take()
        if obj_token.kind != "name":
            raise _malformed(f"expecting an object name, found {obj_token.text!r}")
        table = self.data.table(obj_token.text)
        if table is None:
            raise SoqlError(
                "INVALID_TYPE",
                f"sObject type '{obj_token.text}' is not supported. If you are attempting to "
                "use a custom object, be sure to append the '__c' after the entity name. "
                "Please reference your WSDL or the describe call for the appropriate names.",
            )
        self.table = table
        fields = [self.field(n) for n in names]
        if len({f.lower() for f in fields}) != len(fields):
            raise _malformed("duplicate field selected")
        where = self.condition() if self.keyword("where") else None
        order: list[tuple[str, bool, bool]] = []
        if self.keyword("order"):
            self.expect("by")
            order.append(self.order_item())
            while self.peek().text == ",":
                self.take()
                order.append(self.order_item())
        limit = None
        if self.keyword("limit"):
            tok = self.take()
            if tok.kind != "num" or not float(tok.value).is_integer() or tok.value < 0:
                raise _malformed(f"LIMIT must be a non-negative integer, found {tok.text!r}")
            limit = int(tok.value)
        if self.peek().kind != "end":
            raise _malformed(f"unexpected token: {self.peek().text!r}")
        return Query(table.name, fields, where, order, limit, table)

    def name(self) -> str:
        tok = self.take()
        if tok.kind != "name":
            raise _malformed(f"expecting a field name, found {tok.text or 'end of query'!r}")
        if self.peek().text == "(" or "." in tok.text:
            raise _malformed(f"unsupported expression at {tok.text!r}")
        return tok.text

    def field(self, name: str) -> str:
        assert self.table is not None
        found = self.table.field_named(name)
        if found is None:
            raise SoqlError(
                "INVALID_FIELD",
                f"No such column '{name}' on entity '{self.table.name}'. If you are attempting "
                "to use a custom field, be sure to append the '__c' after the custom field "
                "name. Please reference your WSDL or the describe call for the appropriate "
                "names.",
            )
        return found

    def order_item(self) -> tuple[str, bool, bool]:
        fld = self.field(self.name())
        desc = False
        if self.keyword("desc"):
            desc = True
        else:
            self.keyword("asc")
        nulls_last = desc
        if self.keyword("nulls"):
            if self.keyword("last"):
                nulls_last = True
            else:
                self.expect("first")
                nulls_last = False
        return fld, desc, nulls_last

    def condition(self) -> Predicate:
        parts = [self.unary()]
        joiner: str | None = None
        while self.peek().kind == "kw" and self.peek().value in ("and", "or"):
            word = self.take().value
            if joiner and word != joiner:
                raise _malformed("unexpected token: mixing AND and OR needs parentheses")
            joiner = word
            parts.append(self.unary())
        if len(parts) == 1:
            return parts[0]
        floors = [getattr(p, "modstamp_floor", None) for p in parts]
        if joiner == "and":
            known = [f for f in floors if f is not None]
            return _with_floor(lambda r: all(p(r) for p in parts), max(known, default=None))
        bound = min(floors) if None not in floors else None  # type: ignore[type-var]
        return _with_floor(lambda r: any(p(r) for p in parts), bound)

    def unary(self) -> Predicate:
        if self.keyword("not"):
            inner = self.unary()
            return lambda r: not inner(r)
        if self.peek().text == "(":
            self.take()
            inner = self.condition()
            if self.take().text != ")":
                raise _malformed("expecting ')'")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        assert self.table is not None
        fld = self.field(self.name())
        kind = self.table.kinds[fld]
        tok = self.take()
        if tok.kind == "kw" and tok.value in ("in", "not"):
            negate = tok.value == "not"
            if negate:
                self.expect("in")
            if self.take().text != "(":
                raise _malformed("expecting '(' after IN")
            values = [self.literal(fld, kind)]
            while self.peek().text == ",":
                self.take()
                values.append(self.literal(fld, kind))
            if self.take().text != ")":
                raise _malformed("expecting ')'")
            keys = {_cmp_key(kind, v) for v in values}
            if negate:
                return lambda r: _cmp_key(kind, r.get(fld)) not in keys
            return lambda r: _cmp_key(kind, r.get(fld)) in keys
        if tok.kind == "kw" and tok.value == "like":
            pattern = self.take()
            if pattern.kind != "str" or kind not in ("string", "id"):
                raise _malformed(f"LIKE needs a string field and a string pattern at {fld}")
            regex = re.compile(
                "^"
                + "".join(
                    ".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern.value
                )
                + "$",
                re.IGNORECASE | re.DOTALL,
            )
            return lambda r: r.get(fld) is not None and bool(regex.match(str(r[fld])))
        if tok.kind != "op":
            raise _malformed(f"expecting a comparison operator after {fld}, found {tok.text!r}")
        op = "!=" if tok.text == "<>" else tok.text
        value = self.literal(fld, kind)
        if value is None:
            if op not in ("=", "!="):
                raise _malformed(f"null can only be compared with = or != ({fld})")
            return (
                (lambda r: r.get(fld) is None) if op == "=" else (lambda r: r.get(fld) is not None)
            )
        key = _cmp_key(kind, value)
        compare = _OPS[op]
        # SystemModstamp > / >= / = X: answered from the SystemModstamp index
        indexed = fld == "SystemModstamp" and op in (">", ">=", "=")
        return _with_floor(
            lambda r: r.get(fld) is not None and compare(_cmp_key(kind, r[fld]), key),
            key if indexed else None,
        )

    def literal(self, fld: str, kind: str) -> Any:
        tok = self.take()
        if tok.kind == "kw" and tok.value == "null":
            return None
        expected = {
            "datetime": ("dt",),
            "date": ("date",),
            "bool": ("kw",),
            "int": ("num",),
            "float": ("num",),
            "string": ("str",),
            "id": ("str",),
        }[kind]
        if tok.kind not in expected or (kind == "bool" and tok.value not in ("true", "false")):
            type_name = {"datetime": "dateTime", "float": "double"}.get(kind, kind)
            raise _malformed(
                f"value of filter criterion for field '{fld}' must be of type {type_name}"
                + (" and should not be enclosed in quotes" if tok.kind == "str" else "")
            )
        if kind == "bool":
            return tok.value == "true"
        return tok.value


def _with_floor(pred: Predicate, floor: Any) -> Predicate:
    """Mark a predicate true only for records with SystemModstamp >= `floor` (None: no
    bound), so `Query.run` reads them from the index instead of scanning the object."""
    if floor is not None:
        pred.modstamp_floor = floor  # type: ignore[attr-defined]
    return pred


def _cmp_key(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "string":
        return str(value).lower()
    if kind == "id":
        return str(value)[:15]  # a 15-character Id equals its 18-character form
    if kind in ("int", "float"):
        return float(value)
    return value


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def parse(text: str, data: OrgData) -> Query:
    """Parse `text` against the org's objects and fields; raises SoqlError."""
    if not text or not text.strip():
        raise _malformed("empty query")
    return _Parser(text, data).parse()


__all__ = ["Query", "SoqlError", "parse"]
