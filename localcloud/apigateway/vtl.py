"""API Gateway mapping templates: Velocity (VTL, on ``airspeed``) with the variables API Gateway defines.

A template sees ``$input`` (the body, ``json``/``path`` by JSONPath, the request's ``params``), ``$util``
(``escapeJavaScript``, ``parseJson``, ``urlEncode``/``urlDecode``, ``base64Encode``/``base64Decode``),
``$context`` and ``$stageVariables``, as "Variables for data transformations for API Gateway" in the
developer guide describes them, and ``$method.request.path.NAME`` (and ``querystring``, ``header``), which
the guide does not list but API Gateway resolves and AWS's own examples use.  Values taken from JSON
print as Java prints them (``true``, ``{a=1}``, ``[1, 2]``), since API Gateway's engine is Java's
Velocity; a reference whose value is null prints nothing, as in API Gateway (plain Velocity prints the
reference itself), so a missing ``$input.params('x')`` or ``$input.path('$.x')`` inside quotes gives ``""``.
"""

from __future__ import annotations

import base64
import functools
import inspect
import json
import re
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import airspeed

_JS_ESCAPES = {'"': '\\"', "'": "\\'", "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n",
               "\r": "\\r", "\t": "\\t"}
_JSONPATH_STEP = re.compile(r"\.\.|\.(\*|[^.\[]+)|\[\s*(\*|-?\d+|'[^']*'|\"[^\"]*\")\s*\]")


class TemplateFailed(Exception):
    """The template cannot be parsed or fails while it runs: API Gateway answers 500."""


class JavaMap(dict):
    """A JSON object as a ``java.util.Map``: the methods templates call on it, and Java's printed form."""

    def __str__(self) -> str:
        return "{" + ", ".join(f"{key}={value}" for key, value in self.items()) + "}"

    def size(self) -> int:
        return len(self)

    def isEmpty(self) -> JavaBoolean:  # noqa: N802 - Java's name, which templates call
        return JavaBoolean(not self)

    def containsKey(self, key: Any) -> JavaBoolean:  # noqa: N802 - Java's name, which templates call
        return JavaBoolean(key in self)

    def keySet(self) -> JavaList:  # noqa: N802 - Java's name, which templates call
        return JavaList(self.keys())

    def put(self, key: Any, value: Any) -> Any:
        previous = self.get(key)
        self[key] = value
        return previous


class JavaList(list):
    """A JSON array as a ``java.util.List``."""

    def __str__(self) -> str:
        return "[" + ", ".join(str(value) for value in self) + "]"

    def size(self) -> int:
        return len(self)

    def isEmpty(self) -> JavaBoolean:  # noqa: N802 - Java's name, which templates call
        return JavaBoolean(not self)

    def get(self, index: int) -> Any:
        return self[index]

    def contains(self, value: Any) -> JavaBoolean:
        return JavaBoolean(value in self)

    def add(self, value: Any) -> JavaBoolean:
        self.append(value)
        return JavaBoolean(True)


class JavaBoolean:
    def __init__(self, value: bool):
        self.value = value

    def __bool__(self) -> bool:
        return self.value

    def __eq__(self, other: object) -> bool:
        return self.value == (other.value if isinstance(other, JavaBoolean) else other)

    def __hash__(self) -> int:
        return hash(self.value)

    def __str__(self) -> str:
        return "true" if self.value else "false"


def java(value: Any) -> Any:
    """A JSON value as the template sees it."""
    if isinstance(value, bool):
        return JavaBoolean(value)
    if isinstance(value, dict):
        return JavaMap((key, java(item)) for key, item in value.items())
    if isinstance(value, list):
        return JavaList(java(item) for item in value)
    return value


def json_path(document: Any, expression: str) -> Any:
    """Evaluate the JSONPath subset mapping templates use: ``$``, ``.name``, ``['name']``, ``[n]``, ``[*]``
    and ``.*`` (a wildcard or ``..`` gives the list of matches)."""
    expression = expression.strip()
    if not expression.startswith("$"):
        raise TemplateFailed(f"Invalid JSONPath expression {expression!r}: it must start with $")
    matches, many, position = [document], False, 1
    while position < len(expression):
        step = _JSONPATH_STEP.match(expression, position)
        if step is None:
            raise TemplateFailed(f"Invalid JSONPath expression {expression!r} at position {position}")
        position = step.end()
        if step.group(0) == "..":
            matches, many = [node for match in matches for node in _descendants(match)], True
            continue
        selector = step.group(1) if step.group(1) is not None else step.group(2)
        if selector == "*":
            matches, many = [item for match in matches for item in _children(match)], True
        elif selector[0] in "'\"":
            matches = [match[selector[1:-1]] for match in matches
                       if isinstance(match, dict) and selector[1:-1] in match]
        elif re.fullmatch(r"-?\d+", selector) and step.group(2) is not None:
            index = int(selector)
            matches = [match[index] for match in matches
                       if isinstance(match, list) and -len(match) <= index < len(match)]
        else:
            matches = [match[selector] for match in matches if isinstance(match, dict) and selector in match]
    if many:
        return matches
    return matches[0] if matches else None


def _children(node: Any) -> list:
    if isinstance(node, dict):
        return list(node.values())
    return list(node) if isinstance(node, list) else []


def _descendants(node: Any) -> list:
    found = [node]
    for child in _children(node):
        found.extend(_descendants(child))
    return found


class Input:
    """``$input``: the method request's payload and parameters."""

    def __init__(self, body: str, path_parameters: dict, query: dict, headers: dict):
        self.body = body
        self._params = {"path": JavaMap(path_parameters), "querystring": JavaMap(query), "header": JavaMap(headers)}

    def method_request(self) -> JavaMap:
        """``$method.request.{path,querystring,header}.NAME``: the parameters under the names that parameter
        mappings use, which templates read too (AWS's DynamoDB proxy examples key items on them)."""
        return JavaMap(request=JavaMap(self._params))

    def _document(self) -> Any:
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except ValueError as error:
            raise TemplateFailed(f"Unable to parse the request body as JSON: {error}") from None

    def json(self, expression: str) -> str:
        return json.dumps(json_path(self._document(), expression), separators=(",", ":"), ensure_ascii=False)

    def path(self, expression: str) -> Any:
        return java(json_path(self._document(), expression))

    def params(self, name: str | None = None) -> Any:
        if name is None:
            return JavaMap(self._params)
        for kind in ("path", "querystring", "header"):
            if name in self._params[kind]:
                return self._params[kind][name]
        return ""


class Util:
    """``$util``."""

    @staticmethod
    def escapeJavaScript(text: Any) -> str:  # noqa: N802 - the name templates call
        """JavaScript string rules as Java's escapeJavaScript applies them: quotes (single ones too, which
        the guide warns is not valid JSON), backslash, slash, control characters, and every character
        outside ASCII as UTF-16 ``\\uXXXX``."""
        escaped = []
        for character in str(text):
            if character in _JS_ESCAPES:
                escaped.append(_JS_ESCAPES[character])
            elif " " <= character <= "~":
                escaped.append(character)
            else:
                units = character.encode("utf-16-be")
                escaped.extend(f"\\u{units[i]:02X}{units[i + 1]:02X}" for i in range(0, len(units), 2))
        return "".join(escaped)

    @staticmethod
    def parseJson(text: str) -> Any:  # noqa: N802 - the name templates call
        try:
            return java(json.loads(text))
        except (TypeError, ValueError) as error:
            raise TemplateFailed(f"$util.parseJson: {error}") from None

    @staticmethod
    def urlEncode(text: Any) -> str:  # noqa: N802 - the name templates call
        return quote_plus(str(text), safe="*")

    @staticmethod
    def urlDecode(text: Any) -> str:  # noqa: N802 - the name templates call
        return unquote_plus(str(text))

    @staticmethod
    def base64Encode(text: Any) -> str:  # noqa: N802 - the name templates call
        return base64.b64encode(str(text).encode("utf-8")).decode("ascii")

    @staticmethod
    def base64Decode(text: Any) -> str:  # noqa: N802 - the name templates call
        try:
            return base64.b64decode(str(text)).decode("utf-8")
        except ValueError as error:
            raise TemplateFailed(f"$util.base64Decode: {error}") from None


def _print_null_as_nothing(self: airspeed.FormalReference, stream, namespace, loader) -> None:
    """airspeed's reference output, except that a null value (with no ``${x|alternate}``) prints nothing."""
    value = self.expression.calculate(namespace, loader) if self.expression is not None else None
    if value is None and self.alternate is not None:
        value = self.alternate.calculate(namespace, loader)
    if value is None:
        if self.expression is None:  # a lone "$" is text
            stream.write(self.my_text())
        return
    stream.write(str(value))


def install() -> None:
    """Print null references as API Gateway does; an airspeed whose reference output changed shape stops
    localcloud's API Gateway rather than print what AWS would not."""
    parameters = list(inspect.signature(airspeed.FormalReference.evaluate_raw).parameters)
    if parameters != ["self", "stream", "namespace", "loader"]:
        raise RuntimeError(f"airspeed's FormalReference.evaluate_raw{tuple(parameters)} changed; localcloud replaces "
                           "it. Install the airspeed version requirements.txt pins.")
    airspeed.FormalReference.evaluate_raw = _print_null_as_nothing


@functools.lru_cache(maxsize=256)
def _compiled(template: str) -> airspeed.Template:
    """A template parses once, not on every request (merging keeps no state in it)."""
    return airspeed.Template(template)


def request_override() -> JavaMap:
    """``$context.requestOverride``, which a request template sets to override the integration request."""
    return JavaMap(header=JavaMap(), querystring=JavaMap(), path=JavaMap())


def response_override() -> JavaMap:
    """``$context.responseOverride``, which a response template sets to override the status and headers."""
    return JavaMap(status=None, header=JavaMap())


def render(template: str, input_variable: Input, context: dict, stage_variables: dict,
           overrides: dict[str, JavaMap] | None = None) -> str:
    """The template's output; :class:`TemplateFailed` with the reason when it cannot be evaluated.
    ``overrides`` (``{"requestOverride": request_override()}``) join ``$context`` as they are, so that
    the caller reads what the template set in them."""
    context_variable = java(context)
    context_variable.update(overrides or {})
    namespace = {"input": input_variable, "util": Util(), "context": context_variable,
                 "stageVariables": JavaMap(stage_variables), "method": input_variable.method_request()}
    try:
        return _compiled(template).merge(namespace)
    except TemplateFailed:
        raise
    except airspeed.TemplateExecutionError as error:
        cause = error.__cause__ or error.__context__
        if isinstance(cause, TemplateFailed):
            raise cause from None
        raise TemplateFailed(f"Mapping template failed: {error}") from None
    except (airspeed.TemplateError, RecursionError, TypeError, ValueError, AttributeError) as error:
        raise TemplateFailed(f"Invalid mapping template: {error}") from None
