"""The IoT SQL evaluator against the AWS IoT SQL reference's documented examples.

Each case names its source page under https://docs.aws.amazon.com/iot/latest/developerguide/ in a
comment.  ``UNDEFINED`` in an expected value means the reference says the result is Undefined.
"""

from __future__ import annotations

import base64
import json

import pytest

from localcloud.iot.sql import (
    UNDEFINED,
    Context,
    FunctionFailed,
    SqlParseError,
    compile_sql,
    parse_payload,
    topic_matches,
)

DOC = "https://docs.aws.amazon.com/iot/latest/developerguide/"


def run(sql: str, payload, topic: str = "topic/subtopic", **context):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    query = compile_sql(sql, context.pop("sql_version", "2016-03-23"))
    return query.evaluate(Context(parse_payload(raw), raw, topic, **context))


def value(expression: str, payload=None, topic: str = "topic/subtopic"):
    """The value of one expression (SELECT VALUE), or UNDEFINED."""
    passed, output = run(f"SELECT VALUE {expression} FROM 'topic/#'", payload or {}, topic)
    assert passed
    return output


EXPRESSIONS = [
    # iot-sql-operators.html: AND / OR / NOT with Boolean and "true"/"false" strings, others Undefined
    ("true AND false", False),
    ("'TRUE' AND true", True),
    ("1 AND true", UNDEFINED),
    ("false OR 'true'", True),
    ("1 OR false", UNDEFINED),
    ("NOT 'false'", True),
    ("NOT 5", UNDEFINED),
    # iot-sql-operators.html: > >= < <= convert both operands to Decimal
    ("5 > 3", True),
    ("'10' > 9.5", True),
    ("'abc' > 1", UNDEFINED),
    ("2 <= 2", True),
    ("missing < 3", UNDEFINED),
    # iot-sql-operators.html: = and <> (mismatched types, Null, Undefined, arrays, objects)
    ("1 = 1.0", True),
    ("'a' = 1", False),
    ("'a' <> 1", True),
    ("null <> null", False),
    ("missing = 1", UNDEFINED),
    ("missing <> null", UNDEFINED),
    ("[1, 2] = [1, 2]", True),
    ("[1, 2] = [2, 1]", False),
    ("{'a': 1, 'b': 2} = {'b': 2, 'a': 1}", True),
    # iot-sql-operators.html: + concatenates with a String, adds numbers
    ("'con' + 'cat'", "concat"),
    ("'n' + 1", "n1"),
    ("1 + 2", 3),
    ("1 + 2.5", 3.5),
    ("true + 1", UNDEFINED),
    # iot-sql-operators.html: - * / % (Int with Int stays Int; strings convert)
    ("7 - '2'", 5),
    ("3 * 4", 12),
    ("7 / 2", 3),
    ("7.5 / 2", 3.75),
    # iot-sql-data-types.html: "10.0 ... processed as an Int", so a whole Decimal divides as an Int
    ("7.0 / 2", 3),
    ("8 % 3", 2),
    ("'x' * 2", UNDEFINED),
    # iot-sql-data-types.html: 2016-03-23 processes whole-number decimals as Int
    ("10.0", 10),
    # iot-sql-functions.html#iot-func-abs
    ("abs(-5)", 5),
    ("abs('-5.123')", 5.123),
    ("abs(true)", UNDEFINED),
    # iot-sql-functions.html#iot-func-ceil / floor / round
    ("ceil(1.2)", 2),
    ("ceil(-1.2)", -1),
    ("floor(1.2)", 1),
    ("floor(-1.2)", -2),
    ("round(1.2)", 1),
    ("round(1.5)", 2),
    ("round(1.7)", 2),
    ("round(-1.1)", -1),
    ("round(-1.5)", -2),
    # iot-sql-functions.html#iot-func-cast
    ("cast(true AS Int)", 1),
    ("cast('5.9' AS Int)", 5),
    ("cast(0 AS Boolean)", False),
    ("cast(2.5 AS Boolean)", True),
    ("cast('TRUE' AS Bool)", True),
    ("cast('maybe' AS Boolean)", UNDEFINED),
    ("cast(false AS String)", "false"),
    ("cast([1, 'a'] AS String)", '[1,"a"]'),
    ("cast(null AS Int)", UNDEFINED),
    ("cast(true AS Decimal)", 1),
    # iot-sql-functions.html#iot-func-concat
    ("concat()", UNDEFINED),
    ("concat(1)", 1),
    ("concat([1, 2, 3], 4)", [1, 2, 3, 4]),
    ("concat([1, 2, 3], 'hello')", [1, 2, 3, "hello"]),
    ("concat('con', 'cat')", "concat"),
    ("concat(1, 'hello')", "1hello"),
    ("concat('he', 'is', 'man')", "heisman"),
    ("concat([1, 2, 3], 'hello', [4, 5, 6])", [1, 2, 3, "hello", 4, 5, 6]),
    # iot-sql-functions.html#iot-func-get
    ("get(['a', 'b', 'c'], 1)", "b"),
    ("get({'a': 'b'}, 'a')", "b"),
    ("get('abc', 1)", "b"),
    ("get(['a'], 5)", UNDEFINED),
    # iot-sql-functions.html#iot-func-isNull / isUndefined
    ("isNull(5)", False),
    ("isNull(null)", True),
    ("isUndefined(5)", False),
    ("isUndefined(floor([1, 2, 3]))", True),
    ("isNull(missing)", False),
    # iot-sql-functions.html#iot-func-lower / upper / length / numbytes
    ("lower('HELLO')", "hello"),
    ("lower(['HELLO'])", '["hello"]'),
    ("upper('hello')", "HELLO"),
    ("upper(['hello'])", '["HELLO"]'),
    ("length('hi')", 2),
    ("length(false)", 5),
    ("numbytes('\u20ac')", 3),
    # iot-sql-functions.html#iot-func-substring
    ("substring('012345', 0)", "012345"),
    ("substring('012345', 2)", "2345"),
    ("substring('012345', 2.745)", "2345"),
    ("substring(123, 2)", "3"),
    ("substring('012345', -1)", "012345"),
    ("substring(true, 1.2)", "rue"),
    ("substring('012345', 1, 3)", "12"),
    ("substring('012345', -50, 50)", "012345"),
    ("substring('012345', 3, 1)", ""),
    # iot-sql-functions.html#iot-func-mod / nanvl / trunc / chr / endswith
    ("mod(8, 3)", 2),
    ("nanvl(8, 3)", 8),
    ("nanvl(missing, 3)", 3),
    ("trunc(2.3, 0)", 2),
    ("trunc(2.3123, 2)", 2.31),
    ("trunc(2.888, 2)", 2.88),
    ("trunc(2.00, 5)", 2),
    ("chr(65)", "A"),
    ("endswith('cat', 'at')", True),
    # iot-sql-functions.html#iot-function-topic (topic foo/bar/baz in the reference)
    ("topic()", "foo/bar/baz"),
    ("topic(1)", "foo"),
    ("topic(2)", "bar"),
    ("topic(4)", UNDEFINED),
    # iot-sql-functions.html#iot-sql-function-parse-time
    ("parse_time(\"yyyy.MM.dd G 'at' HH:mm:ss z\", 100000000, 'America/Belize')", "1970.01.01 AD at 21:46:40 CST"),
    # iot-sql-case.html: the first matching WHEN wins, no match and no ELSE is Undefined
    ("CASE 'yellow' WHEN 'green' THEN 'go' WHEN 'yellow' THEN 'caution' ELSE 'x' END", "caution"),
    ("CASE 'blue' WHEN 'green' THEN 'go' END", UNDEFINED),
    ("CASE missing WHEN 1 THEN 'one' ELSE 'other' END", UNDEFINED),
    # iot-sql-literals.html: object and array literals
    ("{'latitude': 47.606, 'longitude': -122.332}", {"latitude": 47.606, "longitude": -122.332}),
    ("[1, 'two', null]", [1, "two", None]),
]


@pytest.mark.parametrize(("expression", "expected"), EXPRESSIONS)
def test_documented_expressions(expression, expected):
    assert value(expression, topic="foo/bar/baz") == expected


def test_there_are_at_least_60_documented_cases():
    assert len(EXPRESSIONS) + len(STATEMENTS) >= 60


STATEMENTS = [
    # iot-sql-select.html: *, a key, AS, several items, *, plus an item
    ("SELECT * FROM 'topic/subtopic'", {"color": "red", "temperature": 50}, {"color": "red", "temperature": 50}),
    ("SELECT color FROM 'topic/subtopic'", {"color": "red", "temperature": 50}, {"color": "red"}),
    ("SELECT color AS my_color FROM 'topic/subtopic'", {"color": "red", "temperature": 50}, {"my_color": "red"}),
    ("SELECT color as my_color, temperature as fahrenheit FROM 'topic/subtopic'", {"color": "red", "temperature": 50},
     {"my_color": "red", "fahrenheit": 50}),
    ("SELECT *, 15 as speed FROM 'topic/subtopic'", {"color": "red", "temperature": 50},
     {"color": "red", "temperature": 50, "speed": 15}),
    # iot-sql-select.html: SELECT VALUE, nested access, functions and grouping
    ("SELECT VALUE color FROM 'topic/subtopic'", {"color": "red", "temperature": 50}, "red"),
    ("SELECT color.red as red_value FROM 'topic/subtopic'", {"color": {"red": 255, "green": 0, "blue": 0}},
     {"red_value": 255}),
    ("SELECT (temperature - 32) * 5 / 9 AS celsius, upper(color) as my_color FROM 'topic/subtopic'",
     {"color": "red", "temperature": 50}, {"celsius": 10, "my_color": "RED"}),
    # iot-sql-json.html: AS into a nested path, and get() for keys dot notation cannot name
    ("SELECT foo.bar AS bar.baz FROM 'topic/subtopic'", {"foo": {"bar": "RED", "bar1": "GREEN"}},
     {"bar": {"baz": "RED"}}),
    ("SELECT get(get(get(mydata, \"item2\"), \"0\"), \"my-key\") AS v FROM 'iot/rules'",
     {"mydata": {"item2": {"0": {"my-key": "myValue"}}}}, {"v": "myValue"}),
    # iot-sql-data-types.html: an Undefined item is left out of the output; Null is kept
    ("SELECT foo, bar FROM 'topic/subtopic'", {"foo": None}, {"foo": None}),
    # iot-sql-literals.html
    ("SELECT [lat, long] as lat_long FROM 'topic/subtopic'", {"lat": 47.696, "long": -122.332},
     {"lat_long": [47.696, -122.332]}),
    ("SELECT {'latitude': get(lat_long, 0),'longitude':get(lat_long, 1)} as lat_long FROM 'topic/subtopic'",
     {"lat_long": [47.606, -122.332]}, {"lat_long": {"latitude": 47.606, "longitude": -122.332}}),
    # iot-sql-nested-queries.html
    ("SELECT (SELECT VALUE n FROM e) as sensors FROM 'my/topic'",
     {"e": [{"n": "temperature", "v": 22.5}, {"n": "light", "v": 135}, {"n": "acidity", "v": 7}]},
     {"sensors": ["temperature", "light", "acidity"]}),
    ("SELECT (SELECT v FROM e WHERE n = 'temperature') as temperature FROM 'my/topic'",
     {"e": [{"n": "temperature", "v": 22.5}, {"n": "light", "v": 135}]}, {"temperature": [{"v": 22.5}]}),
    ("SELECT get((SELECT v FROM e WHERE n = 'temperature'), 0).v as temperature FROM 'topic'",
     {"e": [{"n": "temperature", "v": 22.5}, {"n": "light", "v": 135}]}, {"temperature": 22.5}),
    # iot-rule-sql-version.html: SELECT VALUE of an array is a top-level array
    ("SELECT VALUE arr FROM 'topic'", {"a": {"b": "c"}, "arr": [1, 2, 3, 4]}, [1, 2, 3, 4]),
]


@pytest.mark.parametrize(("sql", "payload", "expected"), STATEMENTS)
def test_documented_statements(sql, payload, expected):
    assert run(sql, payload) == (True, expected)


def test_where_runs_actions_only_when_true():
    # iot-sql-where.html: "the rule will be triggered, but the actions ... will not be performed"
    sql = "SELECT color AS my_color FROM 'topic/subtopic' WHERE temperature > 50 AND color <> 'red'"
    assert run(sql, {"color": "red", "temperature": 40})[0] is False
    assert run(sql, {"color": "blue", "temperature": 60}) == (True, {"my_color": "blue"})


def test_where_with_undefined_does_not_pass():
    # iot-sql-operators.html (<>: "Any value, Undefined -> Undefined") and iot-sql-where.html (only true runs
    # the actions): the smart-thermostat rule does not fire for a desired-only shadow update.
    sql = "SELECT * FROM '$aws/things/+/shadow/update/accepted' WHERE state.reported.sound <> Null"
    assert run(sql, {"state": {"desired": {"roomOccupancy": True}}})[0] is False
    assert run(sql, {"state": {"reported": {"sound": 20}}})[0] is True
    assert run(sql, {"state": {"reported": {"sound": None}}})[0] is False


def test_non_json_payload_decode_encode():
    # iot-sql-where.html: "Example with non-JSON payload" (payload 80, WHERE decode(encode(*)) > 50)
    sql = ("SELECT decode(encode(*, 'base64'), 'base64') AS value FROM 'topic/subtopic' "
           "WHERE decode(encode(*, 'base64'), 'base64') > 50")
    assert run(sql, b"80") == (True, {"value": 80})


def test_encode_star_is_the_raw_payload():
    # iot-sql-functions.html#iot-sql-encode-payload: encode(*, 'base64') encodes the whole payload, JSON or not
    raw = b"\x00\x01binary"
    assert run("SELECT encode(*, 'base64') AS data FROM 'a/b'", raw) == (True, {"data": base64.b64encode(raw).decode()})


def test_aws_lambda_result_feeds_the_rest_of_the_expression():
    # iot-sql-functions.html#iot-func-aws-lambda with the smart-thermostat tutorial's rule
    calls = []

    def invoke(arn, event):
        calls.append((arn, event))
        return {"statusCode": 200, "body": {"predicted_label": 1}}

    sql = ('SELECT cast(get(get(aws_lambda("arn:aws:lambda:us-east-1:123456789012:function:classifyRoomOccupancy", *), '
           '"body"), "predicted_label") AS Boolean) AS state.desired.roomOccupancy '
           "FROM '$aws/things/+/shadow/update/accepted' WHERE state.reported.sound <> Null")
    payload = {"state": {"reported": {"sound": 30}}}
    assert run(sql, payload, "$aws/things/t1/shadow/update/accepted", invoke_lambda=invoke) == (
        True, {"state": {"desired": {"roomOccupancy": True}}})
    assert calls == [("arn:aws:lambda:us-east-1:123456789012:function:classifyRoomOccupancy", payload)]


def test_aws_lambda_failure_stops_the_rule():
    def invoke(arn, event):
        raise FunctionFailed("no permission")

    with pytest.raises(FunctionFailed):
        run('SELECT aws_lambda("arn:aws:lambda:us-east-1:1:function:f", *) AS r FROM \'a\'', {}, invoke_lambda=invoke)


def test_clientid_is_na_outside_mqtt_and_sql_version():
    # iot-sql-functions.html#iot-sql-function-clientid ("n/a if the message wasn't sent over MQTT"), sql_version()
    assert value("clientid()") == "n/a"
    assert value("sql_version()") == "2016-03-23"


@pytest.mark.parametrize(("topic_filter", "topic", "matches"), [
    # iot-sql-from.html: '#' wildcard example
    ("topic/#", "topic/subtopic", True),
    ("topic/#", "topic/subtopic-3/details", True),
    ("topic/#", "topic-2/subtopic-x", False),
    # iot-sql-from.html: '+' wildcard example
    ("topic/+", "topic/subtopic-2", True),
    ("topic/+", "topic/subtopic-3/details", False),
    ("topic/+", "topic-2/subtopic-x", False),
    # topics.html: reserved topics; a filter starting with a wildcard does not match $-topics (MQTT 4.7.2)
    ("$aws/things/+/shadow/update/accepted", "$aws/things/t1/shadow/update/accepted", True),
    ("#", "$aws/things/t1/shadow/update", False),
    ("topic/subtopic", "topic/subtopic", True),
])
def test_topic_filters(topic_filter, topic, matches):
    assert topic_matches(topic_filter, topic) is matches


@pytest.mark.parametrize(("sql", "named"), [
    ("SELECT FROM 'a'", "unexpected 'a'"),
    ("SELECT x FROM a", "single-quoted"),
    ("SELECT x FROM 'a/#/b'", "'#' must be the last level"),
    ("SELECT x FROM 'a/b+'", "'+' must occupy a whole level"),
    ("SELECT nope(x) FROM 'a'", "Unknown function nope()"),
    ("SELECT upper(x, y) FROM 'a'", "upper() takes 1 arguments"),
    ("SELECT get_dynamodb('t', 'k', 1, 'r', 2, 'role') FROM 'a'", "get_dynamodb() is not evaluated by localcloud"),
    ("SELECT * FROM 'a' WHERE x IS NULL", "use isNull(x)"),
    ("SELECT x != 1 FROM 'a'", "unexpected character '!'"),
    ("SELECT cast(x AS Date) FROM 'a'", "cannot convert to Date"),
    ("SELECT encode(x, 'hex') FROM 'a'", "only the 'base64'"),
    ("SELECT * AS everything FROM 'a'", "cannot take an alias"),
])
def test_sql_localcloud_cannot_evaluate_is_refused_naming_the_construct(sql, named):
    with pytest.raises(SqlParseError, match=None) as raised:
        compile_sql(sql)
    assert named in str(raised.value)


def test_version_2015_refuses_what_only_2016_has():
    # iot-sql-literals.html ("available only when using SQL version 2016-03-23 or later")
    with pytest.raises(SqlParseError, match="2016-03-23"):
        compile_sql("SELECT {'a': 1} AS o FROM 'a'", "2015-10-08")
    assert compile_sql("SELECT a FROM 'a'", "2015-10-08").topic_filter == "a"
