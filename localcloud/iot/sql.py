"""The AWS IoT SQL language (version 2016-03-23): a lark LALR grammar and an evaluator.

The reference (AWS IoT Developer Guide, "AWS IoT SQL reference") defines eight value types: Int,
Decimal, Boolean, String, Array, Object, Null and Undefined.  Here they are Python ``int``,
``float``, ``bool``, ``str``, ``list``, ``dict``, ``None`` and :data:`UNDEFINED`; a payload that is not
JSON is ``bytes``.  Undefined is what a missing attribute, a failed conversion or a function given
the wrong types yields; a SELECT item that is Undefined is left out of the output, and a WHERE
clause passes only when it is Boolean true.

:func:`compile_sql` parses a rule's statement once (raising :class:`SqlParseError` with the
construct it cannot evaluate); :meth:`Query.evaluate` runs it against one message.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lark import Lark, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

SQL_VERSIONS = ("2015-10-08", "2016-03-23", "beta")
DEFAULT_SQL_VERSION = "2015-10-08"  # what CreateTopicRule uses when awsIotSqlVersion is omitted


class _Undefined:
    """The SQL ``Undefined``: not a value, left out when serialised."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "Undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED = _Undefined()


class SqlParseError(ValueError):
    """The statement is not IoT SQL, or uses something localcloud cannot evaluate."""


class FunctionFailed(RuntimeError):
    """An external function (``aws_lambda``) failed; the rule does not act on this message."""


GRAMMAR = r"""
?start: query

query: _SELECT select_clause _FROM expr [_WHERE expr]

select_clause: _VALUE expr                       -> select_value
             | select_item ("," select_item)*    -> select_items
select_item: expr [_AS alias]
alias: NAME ("." NAME)*

?expr: or_expr
?or_expr: and_expr | or_expr _OR and_expr          -> or_
?and_expr: not_expr | and_expr _AND not_expr       -> and_
?not_expr: comparison | _NOT not_expr              -> not_
?comparison: sum | sum COMPARE sum                 -> compare
           | sum _IS [_NOT] (_NULL | NAME)         -> is_operator
?sum: product | sum ADD product                    -> arithmetic
?product: unary | product MULTIPLY unary           -> arithmetic
?unary: postfix | "-" unary                        -> negate
?postfix: primary
        | postfix "." NAME                         -> attribute
        | postfix "[" expr "]"                     -> index
?primary: INT                                      -> integer
        | DECIMAL                                  -> decimal
        | STRING                                   -> string
        | _TRUE                                    -> true
        | _FALSE                                   -> false
        | _NULL                                    -> null
        | NAME                                     -> reference
        | MULTIPLY                                 -> star
        | NAME "(" [expr ("," expr)*] ")"          -> call
        | _CAST "(" expr _AS NAME ")"              -> cast
        | _CASE expr (_WHEN expr _THEN expr)+ [_ELSE expr] _END -> case
        | "{" [pair ("," pair)*] "}"               -> object_literal
        | "[" [expr ("," expr)*] "]"               -> array_literal
        | "(" query ")"                            -> subquery
        | "(" expr ")"
pair: STRING ":" expr

_SELECT: /select\b/i
_FROM: /from\b/i
_WHERE: /where\b/i
_VALUE: /value\b/i
_AS: /as\b/i
_OR: /or\b/i
_AND: /and\b/i
_NOT: /not\b/i
_IS: /is\b/i
_TRUE: /true\b/i
_FALSE: /false\b/i
_NULL: /null\b/i
_CAST: /cast\b/i
_CASE: /case\b/i
_WHEN: /when\b/i
_THEN: /then\b/i
_ELSE: /else\b/i
_END: /end\b/i
COMPARE: "<>" | "<=" | ">=" | "=" | "<" | ">"
ADD: "+" | "-"
MULTIPLY: "*" | "/" | "%"
NAME: /[A-Za-z_][A-Za-z0-9_]*/
INT: /\d+/
DECIMAL: /\d+\.\d+([eE][+-]?\d+)?|\d+[eE][+-]?\d+/
STRING: /'(?:[^'\\]|\\.)*'/ | /"(?:[^"\\]|\\.)*"/

%import common.WS
%ignore WS
"""

_KEYWORD_PRIORITY = {name: 2 for name in ("_SELECT", "_FROM", "_WHERE", "_VALUE", "_AS", "_OR", "_AND", "_NOT",
                                            "_IS", "_TRUE", "_FALSE", "_NULL", "_CAST", "_CASE", "_WHEN", "_THEN",
                                            "_ELSE", "_END")}


@functools.cache
def _parser() -> Lark:
    grammar = GRAMMAR
    for name, priority in _KEYWORD_PRIORITY.items():
        grammar = grammar.replace(f"\n{name}: ", f"\n{name}.{priority}: ")
    return Lark(grammar, parser="lalr", maybe_placeholders=True, propagate_positions=False)


# -- the syntax tree: each node is a function (context) -> value ---------------------------------

Node = Callable[["Context"], Any]


@dataclass
class Context:
    """What an expression can see: the message and what the rules engine knows about it."""

    payload: Any                     # the parsed JSON, or bytes when the payload is not JSON
    raw: bytes
    topic: str
    client_id: str = "n/a"
    account_id: str = "000000000000"
    rule_arn: str = ""
    sql_version: str = "2016-03-23"
    principal: str = ""
    trace_id: str | None = None
    timestamp_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    invoke_lambda: Callable[[str, Any], Any] | None = None

    def with_payload(self, payload: Any) -> Context:
        clone = Context(**{**self.__dict__})
        clone.payload = payload
        return clone


@dataclass
class SelectItem:
    node: Node
    alias: tuple[str, ...] | None
    star: bool = False
    name: str | None = None          # a bare attribute reference keeps its name in the output


@dataclass
class Query:
    """A compiled statement: ``evaluate`` gives ``(passed, output)`` for one message."""

    items: list[SelectItem]
    value: Node | None
    source: Node
    where: Node | None
    topic_filter: str | None = None
    uses_lambda: bool = False

    def passes(self, context: Context) -> bool:
        return self.where is None or self.where(context) is True

    def select(self, context: Context) -> Any:
        if self.value is not None:
            return self.value(context)
        output: dict[str, Any] = {}
        for item in self.items:
            if item.star:
                if isinstance(context.payload, dict):
                    output.update(context.payload)
                elif len(self.items) == 1:
                    return context.payload   # SELECT * of a non-object payload passes it through
                continue
            value = item.node(context)
            if value is UNDEFINED:
                continue
            path = item.alias or ((item.name,) if item.name else None)
            if path is None:
                continue
            _set_path(output, path, value)
        return output

    def evaluate(self, context: Context) -> tuple[bool, Any]:
        if not self.passes(context):
            return False, UNDEFINED
        return True, self.select(context)


def _set_path(output: dict, path: tuple[str, ...], value: Any) -> None:
    target = output
    for part in path[:-1]:
        nested = target.get(part)
        if not isinstance(nested, dict):
            nested = target[part] = {}
        target = nested
    target[path[-1]] = value


def _unquote(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), body)


@v_args(inline=True)
class _Builder(Transformer):
    """Turns the parse tree into closures; checks function names and arities as it goes."""

    def __init__(self, sql_version: str):
        super().__init__()
        self.sql_version = sql_version
        self.uses_lambda = False

    def _v2_only(self, construct: str) -> None:
        if self.sql_version == "2015-10-08":
            raise SqlParseError(f"{construct} requires SQL version 2016-03-23; set awsIotSqlVersion to 2016-03-23.")

    # literals
    def integer(self, token):
        value = int(token)
        return lambda c: value

    def decimal(self, token):
        value = _normalise(float(token))
        return lambda c: value

    def string(self, token):
        value = _unquote(str(token))
        node = lambda c: value  # noqa: E731
        node.literal = value
        return node

    def true(self):
        return lambda c: True

    def false(self):
        return lambda c: False

    def null(self):
        return lambda c: None

    def star(self, token):
        if str(token) != "*":
            raise SqlParseError(f"Unexpected '{token}'.")
        node = lambda c: c.payload  # noqa: E731
        node.star = True
        return node

    def reference(self, token):
        name = str(token)
        node = lambda c: _member(c.payload, name)  # noqa: E731
        node.name = name
        return node

    def object_literal(self, *pairs):
        self._v2_only("An object literal")
        pairs = [p for p in pairs if p is not None]
        return lambda c: {key: v for key, node in pairs if (v := node(c)) is not UNDEFINED}

    def pair(self, key, node):
        return _unquote(str(key)), node

    def array_literal(self, *items):
        self._v2_only("An array literal")
        items = [i for i in items if i is not None]
        return lambda c: [v for node in items if (v := node(c)) is not UNDEFINED]

    # access
    def attribute(self, target, name):
        key = str(name)
        node = lambda c: _member(target(c), key)  # noqa: E731
        node.name = key
        return node

    def index(self, target, position):
        return lambda c: get_value(target(c), position(c))

    # operators
    def or_(self, left, right):
        return lambda c: _logical(left(c), right(c), lambda a, b: a or b)

    def and_(self, left, right):
        return lambda c: _logical(left(c), right(c), lambda a, b: a and b)

    def not_(self, operand):
        def evaluate(c):
            value = to_bool(operand(c))
            return UNDEFINED if value is UNDEFINED else not value
        return evaluate

    def compare(self, left, operator, right):
        op = str(operator)
        return lambda c: compare(op, left(c), right(c))

    def is_operator(self, *_operands):
        raise SqlParseError("IS is not an AWS IoT SQL operator (IS NULL / IS UNDEFINED are not supported by the "
                            "rules engine); use isNull(x) or isUndefined(x).")

    def arithmetic(self, left, operator, right):
        op = str(operator)
        return lambda c: arithmetic(op, left(c), right(c))

    def negate(self, operand):
        return lambda c: arithmetic("-", 0, operand(c))

    # functions
    def call(self, name, *args):
        args = [a for a in args if a is not None]
        function_name = str(name).lower()
        if function_name not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            if function_name in EXTERNAL_UNSUPPORTED:
                raise SqlParseError(f"Function {name}() is not evaluated by localcloud (it needs a service or a "
                                    "format localcloud does not have); test this rule on AWS.")
            raise SqlParseError(f"Unknown function {name}(). Functions localcloud evaluates: {known}.")
        function, arity = FUNCTIONS[function_name]
        low, high = arity
        if len(args) < low or (high is not None and len(args) > high):
            expected = str(low) if low == high else f"{low} to {'any number of' if high is None else high}"
            raise SqlParseError(f"Function {name}() takes {expected} arguments, not {len(args)}.")
        if function_name == "aws_lambda":
            self.uses_lambda = True
        if function_name == "encode":
            self._v2_only("encode()")
            if not getattr(args[1], "literal", None):
                raise SqlParseError("encode() takes a literal encoding scheme as its second argument ('base64').")
            if args[1].literal != "base64":
                raise SqlParseError(f"encode() supports only the 'base64' encoding scheme, not '{args[1].literal}'.")
        return lambda c: function(c, *args)

    def cast(self, operand, type_name):
        target = str(type_name).lower()
        if target not in CAST_TYPES:
            raise SqlParseError(f"cast() cannot convert to {type_name}; types: {', '.join(sorted(CAST_TYPES))}.")
        if target in ("decimal", "bool", "boolean"):
            self._v2_only(f"cast(... AS {type_name})")
        kind = CAST_TYPES[target]
        return lambda c: cast_value(operand(c), kind)

    def case(self, subject, *rest):
        rest = list(rest)
        default = rest.pop() if len(rest) % 2 == 1 else None
        branches = list(zip(rest[0::2], rest[1::2], strict=True))

        def evaluate(c):
            value = subject(c)
            if value is UNDEFINED:
                return UNDEFINED
            for when, then in branches:
                if compare("=", value, when(c)) is True:
                    return then(c)
            return default(c) if default is not None else UNDEFINED
        return evaluate

    # statements
    def select_value(self, node):
        return ("value", node)

    def select_item(self, node, alias):
        if getattr(node, "star", False):
            if alias is not None:
                raise SqlParseError("SELECT * cannot take an alias (AS).")
            return SelectItem(node, None, star=True)
        return SelectItem(node, alias, name=getattr(node, "name", None))

    def select_items(self, *items):
        return ("items", list(items))

    def alias(self, *names):
        return tuple(str(n) for n in names)

    def query(self, select, source, where):
        kind, content = select
        return Query(items=content if kind == "items" else [], value=content if kind == "value" else None,
                     source=source, where=where)

    def subquery(self, query: Query):
        self._v2_only("A nested SELECT")

        def evaluate(c):
            collection = query.source(c)
            if not isinstance(collection, list):
                return UNDEFINED
            results = []
            for element in collection:
                inner = c.with_payload(element)
                if query.passes(inner):
                    value = query.select(inner)
                    if value is not UNDEFINED:
                        results.append(value)
            return results
        return evaluate


@functools.lru_cache(maxsize=512)
def compile_sql(sql: str, sql_version: str = "2016-03-23") -> Query:
    """Parse ``sql`` into a :class:`Query`; :class:`SqlParseError` names what is wrong."""
    if sql_version not in SQL_VERSIONS:
        raise SqlParseError(f"SQL version {sql_version} is not one of {', '.join(SQL_VERSIONS)}.")
    try:
        tree = _parser().parse(sql)
    except UnexpectedEOF:
        raise SqlParseError("The statement ends too early: expected SELECT <expressions> FROM '<topic filter>' "
                            "[WHERE <condition>].") from None
    except UnexpectedCharacters as error:
        raise SqlParseError(f"Line {error.line}:{error.column - 1} unexpected character "
                            f"'{sql[error.pos_in_stream]}' near \"{_near(sql, error.pos_in_stream)}\".") from None
    except UnexpectedToken as error:
        token = error.token
        found = "the end of the statement" if token.type == "$END" else (
            str(token) if str(token)[:1] in "'\"" else f"'{token}'")
        raise SqlParseError(f"Line {token.line}:{token.column - 1} unexpected {found} near "
                            f"\"{_near(sql, token.start_pos or 0)}\".") from None
    except UnexpectedInput as error:  # pragma: no cover - the three above cover lark's LALR errors
        raise SqlParseError(str(error)) from None
    builder = _Builder(sql_version)
    try:
        query = builder.transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, SqlParseError):
            raise error.orig_exc from None
        raise
    topic_filter = getattr(query.source, "literal", None)
    if topic_filter is None:
        raise SqlParseError("FROM takes the topic filter as a single-quoted string, e.g. FROM 'sensors/+/data'.")
    problem = topic_filter_problem(topic_filter)
    if problem:
        raise SqlParseError(problem)
    query.topic_filter = topic_filter
    query.uses_lambda = builder.uses_lambda
    return query


def _near(sql: str, position: int) -> str:
    return sql[max(0, position - 15): position + 15].replace("\n", " ")


def compile_template_expression(expression: str) -> Node:
    """An ``${expression}`` of a substitution template, compiled as a SELECT expression."""
    query = compile_sql(f"SELECT VALUE {expression} FROM 'localcloud/template'")
    return query.value


# -- topics ----------------------------------------------------------------------------------------

def topic_filter_problem(topic_filter: str) -> str | None:
    """Why ``topic_filter`` is not a valid MQTT topic filter, or None."""
    if not topic_filter:
        return "The topic filter in FROM is empty."
    levels = topic_filter.split("/")
    for position, level in enumerate(levels):
        if "#" in level and (level != "#" or position != len(levels) - 1):
            return f"'#' must be the last level of the topic filter on its own: '{topic_filter}'."
        if "+" in level and level != "+":
            return f"'+' must occupy a whole level of the topic filter: '{topic_filter}'."
    return None


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT matching; as MQTT requires, wildcards at the first level do not match topics starting with ``$``."""
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    if topic.startswith("$") and filter_levels[0] in ("+", "#"):
        return False
    for position, level in enumerate(filter_levels):
        if level == "#":
            # "a/#" also matches "a" (the parent level), as MQTT 3.1.1 section 4.7.1.2 says.
            return True
        if position >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[position]:
            return False
    return len(filter_levels) == len(topic_levels)


# -- values ---------------------------------------------------------------------------------------

_DECIMAL_STRING = re.compile(r"^-?\d+(\.\d+)?([eE]-?\d+)?$")


def type_name(value: Any) -> str:
    if value is UNDEFINED:
        return "Undefined"
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Int"
    if isinstance(value, float):
        return "Decimal"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        return "Object"
    return "Bytes"


def _normalise(number: float) -> int | float:
    """SQL version 2016-03-23 processes whole-number decimals (10.0) as Int."""
    if isinstance(number, float) and number.is_integer() and abs(number) < 1e34:
        return int(number)
    return number


def parse_payload(raw: bytes) -> Any:
    """The payload as SQL sees it: JSON when it parses, otherwise the bytes themselves."""
    try:
        return json.loads(raw, parse_float=lambda text: _normalise(float(text)))
    except (ValueError, UnicodeDecodeError):
        return raw


def _member(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return value.get(key, UNDEFINED) if key in value else UNDEFINED
    return UNDEFINED


def to_decimal(value: Any) -> Any:
    """The reference's "To decimal" conversion (Int stays an exact number)."""
    kind = type_name(value)
    if kind in ("Int", "Decimal"):
        return value
    if kind == "Null":
        return None
    if kind == "String" and _DECIMAL_STRING.match(value):
        return _normalise(float(value))
    return UNDEFINED


def to_int(value: Any) -> Any:
    """The reference's "To int" conversion: decimals round to the nearest Int, strings truncate."""
    kind = type_name(value)
    if kind == "Int":
        return value
    if kind == "Decimal":
        return _round_half_up(value)
    if kind == "Null":
        return None
    if kind == "String" and _DECIMAL_STRING.match(value):
        return int(float(value))
    return UNDEFINED


def to_bool(value: Any) -> Any:
    kind = type_name(value)
    if kind == "Boolean":
        return value
    if kind == "String" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return UNDEFINED



def to_string(value: Any) -> Any:
    kind = type_name(value)
    if kind == "String":
        return value
    if kind == "Boolean":
        return "true" if value else "false"
    if kind == "Int":
        return str(value)
    if kind == "Decimal":
        return repr(value)
    if kind in ("Array", "Object"):
        return serialise(value)
    if kind == "Bytes":
        return value.decode("utf-8", errors="replace")
    return UNDEFINED


def serialise(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _round_half_up(number: float) -> int:
    """Round to the nearest Int, halves away from zero (the reference: round(-1.5) = -2)."""
    return int(math.floor(abs(number) + 0.5)) * (1 if number >= 0 else -1)


def _logical(left: Any, right: Any, combine: Callable[[bool, bool], bool]) -> Any:
    a, b = to_bool(left), to_bool(right)
    if a is UNDEFINED or b is UNDEFINED:
        return UNDEFINED
    return combine(a, b)


def _numeric(value: Any) -> bool:
    return type_name(value) in ("Int", "Decimal")


def _equal(left: Any, right: Any) -> bool:
    if _numeric(left) and _numeric(right):
        return left == right
    if type_name(left) != type_name(right):
        return False
    if isinstance(left, list):
        return len(left) == len(right) and all(_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_equal(left[k], right[k]) for k in left)
    return left == right


def compare(operator: str, left: Any, right: Any) -> Any:
    """``=``, ``<>``, ``<``, ``<=``, ``>``, ``>=`` by the reference's operator tables."""
    if left is UNDEFINED or right is UNDEFINED:
        return UNDEFINED
    if operator == "=":
        return _equal(left, right)
    if operator == "<>":
        if left is None and right is None:
            return False
        return not _equal(left, right)
    a, b = to_decimal(left), to_decimal(right)
    if not (_numeric(a) and _numeric(b)):
        return UNDEFINED
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[operator]


def _java_div(a: int, b: int) -> int:
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b >= 0) else -quotient


def arithmetic(operator: str, left: Any, right: Any) -> Any:
    """``+ - * / %`` by the reference's tables: Int with Int stays Int, strings convert to Decimal."""
    if operator == "+" and (type_name(left) == "String" or type_name(right) == "String"):
        a, b = to_string(left), to_string(right)
        return UNDEFINED if a is UNDEFINED or b is UNDEFINED else a + b
    if type_name(left) == "Int" and type_name(right) == "Int":
        if operator == "+":
            return left + right
        if operator == "-":
            return left - right
        if operator == "*":
            return left * right
        if right == 0:
            return UNDEFINED
        if operator == "/":
            return _java_div(left, right)
        return left - right * _java_div(left, right)
    if operator == "+" and not (_numeric(left) and _numeric(right)):
        return UNDEFINED
    a, b = to_decimal(left), to_decimal(right)
    if not (_numeric(a) and _numeric(b)):
        return UNDEFINED
    a, b = float(a), float(b)
    if operator in "/%" and b == 0:
        return UNDEFINED
    result = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
              "%": lambda: math.fmod(a, b)}[operator]()
    return _normalise(result)


CAST_TYPES = {"string": "String", "nvarchar": "String", "text": "String", "ntext": "String", "varchar": "String",
              "int": "Int", "integer": "Int", "double": "Decimal", "decimal": "Decimal", "bool": "Boolean",
              "boolean": "Boolean"}


def cast_value(value: Any, kind: str) -> Any:
    """``cast(value AS kind)`` by the reference's casting tables."""
    source = type_name(value)
    if source in ("Undefined", "Null", "Array", "Object") and kind != "String":
        return UNDEFINED
    if kind == "Decimal":
        if source == "Boolean":
            return 1 if value else 0
        return to_decimal(value)
    if kind == "Int":
        if source == "Boolean":
            return 1 if value else 0
        if source == "Decimal":
            return math.floor(value)
        if source == "String":
            number = to_decimal(value)
            return UNDEFINED if number is UNDEFINED else math.floor(number)
        return value if source == "Int" else UNDEFINED
    if kind == "Boolean":
        if source in ("Int", "Decimal"):
            return value != 0
        return to_bool(value)
    if source == "Null":
        return UNDEFINED
    return to_string(value)


def get_value(collection: Any, key: Any) -> Any:
    """``get(collection, key)``: arrays and strings by 0-based index, objects by string key."""
    kind = type_name(collection)
    if kind == "Object":
        return collection.get(key, UNDEFINED) if isinstance(key, str) else UNDEFINED
    if kind in ("Array", "String"):
        position = to_int(key)
        if type_name(position) != "Int" or position < 0 or position >= len(collection):
            return UNDEFINED
        return collection[position]
    return UNDEFINED


# -- functions ------------------------------------------------------------------------------------

def _numeric_function(operation: Callable[[float], Any], keep_int: bool = False):
    def evaluate(c, argument):
        value = argument(c)
        if keep_int and type_name(value) == "Int":
            return value
        number = to_decimal(value)
        if not _numeric(number):
            return UNDEFINED
        try:
            result = operation(number)
        except (ValueError, OverflowError):
            return UNDEFINED
        return UNDEFINED if isinstance(result, float) and math.isnan(result) else _normalise(result)
    return evaluate


def _string_function(operation: Callable[..., Any]):
    def evaluate(c, *arguments):
        values = [to_string(a(c)) for a in arguments]
        if any(v is UNDEFINED for v in values):
            return UNDEFINED
        return operation(*values)
    return evaluate


def _aws_lambda(c: Context, arn, argument):
    function_arn, event = arn(c), argument(c)
    if not isinstance(function_arn, str) or event is UNDEFINED:
        return UNDEFINED
    if c.invoke_lambda is None:
        raise FunctionFailed("aws_lambda() is not available here.")
    if isinstance(event, bytes):
        raise FunctionFailed("aws_lambda() needs a JSON input; the payload is not JSON.")
    return c.invoke_lambda(function_arn, event)


def _topic(c: Context, *position):
    if not position:
        return c.topic
    index = to_int(position[0](c))
    levels = c.topic.split("/")
    if type_name(index) != "Int" or index < 1 or index > len(levels):
        return UNDEFINED
    return levels[index - 1]


def _concat(c: Context, *arguments):
    values = [a(c) for a in arguments]
    if not values:
        return UNDEFINED
    if len(values) == 1:
        return values[0]
    if any(isinstance(v, list) for v in values):
        result = []
        for value in values:
            result.extend(value if isinstance(value, list) else [value])
        return result
    strings = [to_string(v) for v in values]
    if any(s is UNDEFINED for s in strings):
        return UNDEFINED
    return "".join(strings)


def _encode(c: Context, value, _scheme):
    if getattr(value, "star", False):
        data = c.raw
    else:
        text = to_string(value(c))
        if text is UNDEFINED:
            return UNDEFINED
        data = text.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def _decode(c: Context, value, scheme):
    text, name = value(c), scheme(c)
    if not isinstance(text, str) or name != "base64":
        return UNDEFINED
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError:
        return UNDEFINED
    decoded = parse_payload(data)
    return decoded.decode("utf-8", errors="replace") if isinstance(decoded, bytes) else decoded


def _substring(c: Context, value, start, end=None):
    text = to_string(value(c))
    begin = to_int(start(c)) if type_name(start(c)) != "Decimal" else math.floor(start(c))
    if text is UNDEFINED or type_name(begin) != "Int":
        return UNDEFINED
    begin = min(max(begin, 0), len(text))
    if end is None:
        return text[begin:]
    raw_end = end(c)
    stop = to_int(raw_end) if type_name(raw_end) != "Decimal" else math.floor(raw_end)
    if type_name(stop) != "Int":
        return UNDEFINED
    stop = min(max(stop, 0), len(text))
    return text[begin:stop] if stop > begin else ""


def _pad(left: bool):
    def evaluate(c, value, count):
        text, width = to_string(value(c)), to_int(count(c))
        if text is UNDEFINED or type_name(width) != "Int":
            return UNDEFINED
        return " " * max(width, 0) + text if left else text + " " * max(width, 0)
    return evaluate


def _trunc(c: Context, value, places):
    number, digits = to_decimal(value(c)), to_int(places(c))
    if not _numeric(number) or type_name(digits) != "Int":
        return UNDEFINED
    digits = min(max(digits, 0), 34)
    factor = 10 ** digits
    return _normalise(math.trunc(number * factor) / factor)


def _nanvl(c: Context, value, fallback):
    first = value(c)
    if first is UNDEFINED or first is None or (isinstance(first, float) and math.isnan(first)):
        return fallback(c)
    return first


def _get(c: Context, collection, key):
    return get_value(collection(c), key(c))


def _two_numbers(operation: Callable[[Any, Any], Any]):
    def evaluate(c, left, right):
        a, b = to_decimal(left(c)), to_decimal(right(c))
        if not (_numeric(a) and _numeric(b)):
            return UNDEFINED
        try:
            return _normalise(operation(a, b))
        except (ZeroDivisionError, ValueError, OverflowError):
            return UNDEFINED
    return evaluate


def _mod(a, b):
    if isinstance(a, int) and isinstance(b, int):
        return a - b * _java_div(a, b)
    return math.fmod(a, b)


def _chr(c: Context, value):
    code = value(c)
    code = math.floor(code) if type_name(code) == "Decimal" else to_int(code)
    if type_name(code) != "Int" or not 0 <= code < 128:
        return UNDEFINED
    return chr(code)


def _regexp(operation: Callable[[re.Pattern, str, list[str]], Any]):
    def evaluate(c, value, pattern, *rest):
        text, regex = to_string(value(c)), to_string(pattern(c))
        extra = [to_string(r(c)) for r in rest]
        if text is UNDEFINED or regex is UNDEFINED or UNDEFINED in extra:
            return UNDEFINED
        try:
            compiled = re.compile(regex)
        except re.error:
            return UNDEFINED
        return operation(compiled, text, extra)
    return evaluate


def _regexp_replace(compiled: re.Pattern, text: str, extra: list[str]) -> str:
    replacement = re.sub(r"\$(\d+)", r"\\\1", extra[0])  # Java's $1 is Python's \1
    return compiled.sub(replacement, text)


# Joda-Time pattern letters -> strftime (parse_time uses Joda patterns).
_JODA = [("yyyy", "%Y"), ("yy", "%y"), ("MMMM", "%B"), ("MMM", "%b"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"),
         ("hh", "%I"), ("mm", "%M"), ("ss", "%S"), ("EEEE", "%A"), ("EEE", "%a"), ("a", "%p"), ("ZZ", "%:z"),
         ("Z", "%z"), ("z", "%Z"), ("G", "AD"), ("y", "%Y"), ("M", "%-m"), ("d", "%-d"), ("H", "%-H"), ("m", "%-M"),
         ("s", "%-S")]


def joda_format(pattern: str, moment: datetime) -> str:
    """Format ``moment`` with a Joda-Time pattern (letters, quoted 'literal' text, SSS milliseconds)."""
    out: list[str] = []
    position = 0
    while position < len(pattern):
        char = pattern[position]
        if char == "'":
            end = pattern.find("'", position + 1)
            end = len(pattern) if end == -1 else end
            out.append(pattern[position + 1:end] or "'")
            position = end + 1
            continue
        run = len(pattern[position:]) - len(pattern[position:].lstrip(char))
        token = pattern[position:position + run]
        if char == "S":
            out.append(f"{moment.microsecond // 1000:03d}"[:run].ljust(run, "0"))
        else:
            for joda, directive in _JODA:
                if token == joda:
                    out.append(moment.strftime(directive) if directive.startswith("%") else directive)
                    break
            else:
                out.append(token if not char.isalpha() else moment.strftime("%Y") if char == "y" else token)
        position += run
    return "".join(out)


def _parse_time(c: Context, pattern, timestamp, zone=None):
    text, millis = to_string(pattern(c)), to_decimal(timestamp(c))
    zone_name = to_string(zone(c)) if zone is not None else "UTC"
    if text is UNDEFINED or not _numeric(millis) or zone_name is UNDEFINED:
        return UNDEFINED
    try:
        tz = UTC if zone_name == "UTC" else ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        return UNDEFINED
    return joda_format(text, datetime.fromtimestamp(millis / 1000, tz))


def _is_type(kind: str):
    return lambda c, value: type_name(value(c)) == kind


FUNCTIONS: dict[str, tuple[Callable[..., Any], tuple[int, int | None]]] = {
    "abs": (_numeric_function(abs), (1, 1)),
    "accountid": (lambda c: c.account_id, (0, 0)),
    "acos": (_numeric_function(math.acos), (1, 1)),
    "asin": (_numeric_function(math.asin), (1, 1)),
    "atan": (_numeric_function(math.atan), (1, 1)),
    "atan2": (_two_numbers(math.atan2), (2, 2)),
    "aws_lambda": (_aws_lambda, (2, 2)),
    "ceil": (_numeric_function(math.ceil, keep_int=True), (1, 1)),
    "chr": (_chr, (1, 1)),
    "clientid": (lambda c: c.client_id, (0, 0)),
    "concat": (_concat, (0, None)),
    "cos": (_numeric_function(math.cos), (1, 1)),
    "cosh": (_numeric_function(math.cosh), (1, 1)),
    "decode": (_decode, (2, 2)),
    "encode": (_encode, (2, 2)),
    "endswith": (_string_function(lambda a, b: a.endswith(b)), (2, 2)),
    "exp": (_numeric_function(math.exp), (1, 1)),
    "floor": (_numeric_function(math.floor, keep_int=True), (1, 1)),
    "get": (_get, (2, 2)),
    "indexof": (_string_function(lambda a, b: a.find(b)), (2, 2)),
    "isnull": (lambda c, value: value(c) is None, (1, 1)),
    "isundefined": (lambda c, value: value(c) is UNDEFINED, (1, 1)),
    "length": (_string_function(len), (1, 1)),
    "ln": (_numeric_function(math.log), (1, 1)),
    "log": (_numeric_function(math.log10), (1, 1)),
    "lower": (_string_function(str.lower), (1, 1)),
    "lpad": (_pad(left=True), (2, 2)),
    "ltrim": (_string_function(str.lstrip), (1, 1)),
    "mod": (_two_numbers(_mod), (2, 2)),
    "nanvl": (_nanvl, (2, 2)),
    "newuuid": (lambda c: str(uuid.uuid4()), (0, 0)),
    "numbytes": (_string_function(lambda s: len(s.encode("utf-8"))), (1, 1)),
    "parse_time": (_parse_time, (2, 3)),
    "power": (_two_numbers(math.pow), (2, 2)),
    "principal": (lambda c: c.principal, (0, 0)),
    "rand": (lambda c: random.random(), (0, 0)),
    "regexp_matches": (_regexp(lambda p, s, _: p.search(s) is not None), (2, 2)),
    "regexp_replace": (_regexp(_regexp_replace), (3, 3)),
    "regexp_substr": (_regexp(lambda p, s, _: (m.group(0) if (m := p.search(s)) else "")), (2, 2)),
    "remainder": (_two_numbers(_mod), (2, 2)),
    "replace": (_string_function(lambda s, old, new: s.replace(old, new)), (3, 3)),
    "round": (_numeric_function(_round_half_up, keep_int=True), (1, 1)),
    "rpad": (_pad(left=False), (2, 2)),
    "rtrim": (_string_function(str.rstrip), (1, 1)),
    "sign": (_numeric_function(lambda x: (x > 0) - (x < 0)), (1, 1)),
    "sin": (_numeric_function(math.sin), (1, 1)),
    "sinh": (_numeric_function(math.sinh), (1, 1)),
    "sql_version": (lambda c: c.sql_version, (0, 0)),
    "sqrt": (_numeric_function(math.sqrt), (1, 1)),
    "startswith": (_string_function(lambda a, b: a.startswith(b)), (2, 2)),
    "substring": (_substring, (2, 3)),
    "tan": (_numeric_function(math.tan), (1, 1)),
    "tanh": (_numeric_function(math.tanh), (1, 1)),
    "timestamp": (lambda c: c.timestamp_ms, (0, 0)),
    "topic": (_topic, (0, 1)),
    "traceid": (lambda c: c.trace_id if c.trace_id else UNDEFINED, (0, 0)),
    "trim": (_string_function(str.strip), (1, 1)),
    "trunc": (_trunc, (2, 2)),
    "upper": (_string_function(str.upper), (1, 1)),
}

# Functions of the reference that call services localcloud does not run; refused by name.
EXTERNAL_UNSUPPORTED = {"get_dynamodb", "get_secret", "get_thing_shadow", "get_registry_data",
                        "machinelearning_predict", "transform", "time_to_epoch", "md2", "get_mqtt_property"}


def _hash(algorithm: str):
    return _string_function(lambda text: hashlib.new(algorithm, text.encode("utf-8")).hexdigest())


def _bitwise(operation: Callable[..., int]):
    def evaluate(c, *arguments):
        values = [to_int(a(c)) for a in arguments]
        if any(type_name(v) != "Int" for v in values):
            return UNDEFINED
        return operation(*values)
    return evaluate


FUNCTIONS.update({name: (_hash(name), (1, 1)) for name in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")})
FUNCTIONS.update({
    "bitand": (_bitwise(lambda a, b: a & b), (2, 2)),
    "bitor": (_bitwise(lambda a, b: a | b), (2, 2)),
    "bitxor": (_bitwise(lambda a, b: a ^ b), (2, 2)),
    "bitnot": (_bitwise(lambda a: ~a), (1, 1)),
})

