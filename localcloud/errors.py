"""Error answers in each AWS protocol's shape, for the errors localcloud itself raises.

botocore parses an error by its service's protocol: JSON services read ``__type``/``message``, REST-JSON
services the ``x-amzn-ErrorType`` header, the query protocol ``<ErrorResponse><Error>``, and S3 a bare
``<Error>``.  A client then sees ``ClientError`` with the code and message, never an HTML page.
"""

from __future__ import annotations

import json
import uuid
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response

# Services whose REST APIs answer in XML (everything else REST-ish answers JSON).
_REST_XML_SERVICES = {"s3", "cloudfront", "route53"}


def protocol_of(environ: dict, service: str = "") -> str:
    """The wire protocol of the request: ``json``, ``query``, ``rest-xml`` or ``rest-json``."""
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded") or \
            "Action=" in environ.get("QUERY_STRING", ""):
        return "query"
    if service in _REST_XML_SERVICES:
        return "rest-xml"
    return "rest-json"


def error_response(environ: dict, status: int, code: str, message: str, service: str = "",
                   sender_fault: bool = True, extra: dict | None = None) -> Response:
    """``code``/``message`` as the request's protocol expresses an error; ``extra`` fields go into
    JSON bodies (Lambda's ``Reason`` and ``Type``, for instance)."""
    request_id = str(uuid.uuid4())
    protocol = protocol_of(environ, service)
    headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": code}
    if protocol == "query":
        body = (f'<ErrorResponse xmlns="https://localcloud/doc/"><Error><Type>{"Sender" if sender_fault else "Receiver"}'
                f"</Type><Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>")
        return Response(body, status=status, mimetype="text/xml", headers=headers)
    if protocol == "rest-xml":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code>'
                f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId></Error>")
        return Response(body, status=status, mimetype="application/xml", headers=headers)
    payload = {"__type": code, "message": message} if protocol == "json" else {"message": message}
    payload.update(extra or {})
    mimetype = "application/x-amz-json-1.1" if protocol == "json" else "application/json"
    return Response(json.dumps(payload), status=status, mimetype=mimetype, headers=headers)
