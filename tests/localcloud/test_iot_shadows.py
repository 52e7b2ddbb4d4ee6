"""Device shadows over iot-data, and the messages the shadow service publishes on its reserved topics."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.localcloud.test_iot_rules import ROLE, quiet, receive


def shadow(data, thing: str, name: str | None = None) -> dict:
    kwargs = {"shadowName": name} if name else {}
    return json.loads(data.get_thing_shadow(thingName=thing, **kwargs)["payload"].read())


def update(data, thing: str, document: dict, name: str | None = None) -> dict:
    kwargs = {"shadowName": name} if name else {}
    return json.loads(data.update_thing_shadow(thingName=thing, payload=json.dumps(document), **kwargs)["payload"].read())


def error_of(call) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def test_update_merges_deletes_with_null_and_keeps_per_leaf_metadata(aws, unique):
    data = aws("iot-data")
    thing = f"lamp_{unique}"
    accepted = update(data, thing, {"state": {"reported": {"color": "green", "light": {"r": 1, "g": 2}}},
                                    "clientToken": "t-1"})
    assert accepted["version"] == 1 and accepted["clientToken"] == "t-1"
    assert accepted["metadata"]["reported"]["light"]["g"] == {"timestamp": accepted["timestamp"]}
    update(data, thing, {"state": {"desired": {"color": "RED", "light": {"r": 1, "g": 255}}}})
    update(data, thing, {"state": {"reported": {"engine": "ON", "light": {"r": None}}}})
    document = shadow(data, thing)
    assert document["version"] == 3
    assert document["state"]["reported"] == {"color": "green", "light": {"g": 2}, "engine": "ON"}
    # Delta state (device-shadow-document.html): desired fields that differ, nested down to the leaf.
    assert document["state"]["delta"] == {"color": "RED", "light": {"r": 1, "g": 255}}
    assert set(document["metadata"]["delta"]) == {"color", "light"}
    assert "timestamp" in document["metadata"]["reported"]["engine"]
    # "desired": null removes the whole section (device-shadow-document.html, empty properties).
    update(data, thing, {"state": {"desired": None}})
    document = shadow(data, thing)
    assert "desired" not in document["state"] and "delta" not in document["state"]


def test_versions_conflicts_limits_and_bad_documents(aws, unique):
    data = aws("iot-data")
    thing = f"meter_{unique}"
    update(data, thing, {"state": {"reported": {"kwh": 1}}})
    assert update(data, thing, {"state": {"reported": {"kwh": 2}}, "version": 1})["version"] == 2
    assert error_of(lambda: update(data, thing, {"state": {"reported": {"kwh": 3}}, "version": 1})) == (
        409, "ConflictException", "Version conflict")
    status, code, _ = error_of(lambda: update(data, thing, {"state": {"reported": {"big": "x" * 8200}}}))
    assert (status, code) == (413, "RequestEntityTooLargeException")
    assert error_of(lambda: data.update_thing_shadow(thingName=thing, payload=b"{not json")) == (
        400, "InvalidRequestException", "Invalid JSON")
    assert error_of(lambda: update(data, thing, {"reported": {"kwh": 1}}))[2] == "Missing required node: state"
    assert error_of(lambda: update(data, thing, {"state": {"foo": {}}}))[2] == "State contains an invalid node: 'foo'"
    assert error_of(lambda: update(data, thing, {"state": {"reported": 5}}))[2] == "Reported node must be an object"
    deep = {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}
    assert "nesting" in error_of(lambda: update(data, thing, {"state": {"reported": deep}}))[2]
    assert error_of(lambda: update(data, thing, {"state": {"reported": {}}, "clientToken": "x" * 65}))[2] == (
        "Invalid clientToken")
    assert shadow(data, thing)["version"] == 2  # nothing refused was applied


def test_delete_keeps_the_version_and_get_answers_404(aws, unique):
    data = aws("iot-data")
    thing = f"gone_{unique}"
    assert error_of(lambda: shadow(data, thing))[:2] == (404, "ResourceNotFoundException")
    update(data, thing, {"state": {"reported": {"on": True}}})
    update(data, thing, {"state": {"reported": {"on": False}}})
    deleted = json.loads(data.delete_thing_shadow(thingName=thing)["payload"].read())
    assert deleted["version"] == 2
    assert error_of(lambda: shadow(data, thing))[1] == "ResourceNotFoundException"
    # "Deleting a shadow does not reset its version number to 0" (device-shadow-rest-api.html).
    assert update(data, thing, {"state": {"reported": {"on": True}}})["version"] == 3


def test_named_shadows_are_separate_and_listed(aws, unique):
    data = aws("iot-data")
    thing = f"multi_{unique}"
    update(data, thing, {"state": {"reported": {"classic": 1}}})
    update(data, thing, {"state": {"reported": {"battery": 80}}}, name="power")
    update(data, thing, {"state": {"reported": {"rssi": -60}}}, name="radio")
    assert shadow(data, thing, "power")["state"]["reported"] == {"battery": 80}
    assert shadow(data, thing)["state"]["reported"] == {"classic": 1}
    # The classic shadow is not listed; a thing that does not exist lists nothing (device-shadow-rest-api.html).
    assert data.list_named_shadows_for_thing(thingName=thing)["results"] == ["power", "radio"]
    page = data.list_named_shadows_for_thing(thingName=thing, pageSize=1)
    assert page["results"] == ["power"] and page["nextToken"]
    assert data.list_named_shadows_for_thing(thingName=f"none_{unique}")["results"] == []


def test_updates_publish_accepted_documents_and_delta_and_mqtt_requests_update(aws, unique):
    data, iot = aws("iot-data"), aws("iot")
    thing = f"fan_{unique}"
    url = aws("sqs").create_queue(QueueName=f"shadow-topics-{unique}")["QueueUrl"]
    iot.create_topic_rule(ruleName=f"shadow_topics_{unique}", topicRulePayload={
        "sql": f"SELECT topic(6) AS kind, * FROM '$aws/things/{thing}/shadow/update/+'",
        "awsIotSqlVersion": "2016-03-23", "actions": [{"sqs": {"queueUrl": url, "roleArn": ROLE}}]})

    def published(count: int) -> dict:
        messages = [json.loads(body) for body in receive(aws, url, count)]
        return {m.pop("kind"): m for m in messages}

    update(data, thing, {"state": {"reported": {"speed": 1}}})
    first = published(2)
    assert set(first) == {"accepted", "documents"}  # no desired state, so no /delta
    assert first["documents"]["previous"] is None
    assert first["documents"]["current"]["state"] == {"reported": {"speed": 1}}

    # A message on $aws/things/T/shadow/update updates the shadow as a device's MQTT request does.
    data.publish(topic=f"$aws/things/{thing}/shadow/update",
                 payload=json.dumps({"state": {"desired": {"speed": 3}}, "clientToken": "app-7"}))
    second = published(3)
    assert set(second) == {"accepted", "documents", "delta"}
    assert second["delta"]["state"] == {"speed": 3} and second["delta"]["clientToken"] == "app-7"
    assert second["documents"]["previous"]["version"] == 1 and second["documents"]["current"]["version"] == 2
    assert second["documents"]["current"]["state"] == {"desired": {"speed": 3}, "reported": {"speed": 1}}
    assert shadow(data, thing)["state"]["desired"] == {"speed": 3}

    # A rejected MQTT request is answered on /rejected with the error document.
    data.publish(topic=f"$aws/things/{thing}/shadow/update", payload=b'{"state": {"desired": {"speed": 4}}, '
                                                                     b'"version": 1, "clientToken": "old"}')
    rejected = published(1)["rejected"]
    assert (rejected["code"], rejected["message"], rejected["clientToken"]) == (409, "Version conflict", "old")
    assert quiet(aws, url) == []
