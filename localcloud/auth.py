"""Who may drive localcloud: clients that hold this instance's credentials, and no web page but the
ones the user allows.

A browser lets any page send requests to ``127.0.0.1``; without a check, a page the user visits could
create a Lambda function and run it.  So every AWS API request must be signed (Signature Version 4,
verified here with the instance's secret, or a presigned URL that has not expired) with the access key
this localcloud generated at start, and a request that carries an ``Origin`` header must come from a
loopback origin or one the user added.  API Gateway stage URLs and the health check stay open, as
they are on AWS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import os
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import quote, unquote, urlsplit

from botocore.auth import HmacV1Auth
from botocore.utils import normalize_url_path
from werkzeug.wrappers import Response

from localcloud.errors import error_response, protocol_of

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_CLOCK_SKEW = timedelta(minutes=15)  # what AWS allows between the request's time and its own
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
ALLOWED_ORIGINS_VARIABLE = "LOCALCLOUD_ALLOWED_ORIGINS"
_KEY_ALPHABET = string.ascii_uppercase + "234567"  # access key ids are base32, as AWS's are
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
_SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your "
                       "AWS Secret Access Key and signing method. Consult the service documentation for details.")


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str = ""

    @classmethod
    def generate(cls) -> Credentials:
        """A fresh key pair in AWS's format (20-character ``AKIA...`` id, 40-character secret)."""
        key_id = "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
        return cls(key_id, "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40)))


def allowed_origins_from_environment() -> frozenset[str]:
    """Origins a user allows besides loopback, comma-separated in ``LOCALCLOUD_ALLOWED_ORIGINS``."""
    return frozenset(o.strip().rstrip("/") for o in os.environ.get(ALLOWED_ORIGINS_VARIABLE, "").split(",") if o.strip())


def origin_allowed(origin: str, extra: frozenset[str] = frozenset()) -> bool:
    """Pages served from this machine (``localhost``, ``127.0.0.1``, ``[::1]``, ``*.localhost``) and the extras."""
    if origin.rstrip("/") in extra:
        return True
    parts = urlsplit(origin)
    host = (parts.hostname or "").lower()
    return parts.scheme in ("http", "https") and (host in LOOPBACK_HOSTS or host.endswith(".localhost"))


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Gate:
    """Checks one request's origin and signature; answers the refusal, or ``None`` to let it through."""

    def __init__(self, credentials: Credentials, allowed_origins: frozenset[str] = frozenset()):
        self.credentials = credentials
        self.allowed_origins = allowed_origins

    def check(self, environ: dict) -> Response | None:
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and not origin_allowed(origin, self.allowed_origins):
            return error_response(environ, 403, "AccessDeniedException",
                                  f"localcloud refuses requests from web pages at {origin}: a page you visit must not "
                                  "drive your local AWS. To allow a page of yours, start localcloud with "
                                  f"--allow-origin {origin} (or set {ALLOWED_ORIGINS_VARIABLE}).")
        if origin is not None and environ.get("REQUEST_METHOD") == "OPTIONS" \
                and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ:
            return preflight_response(environ)
        try:
            self._authenticate(environ)
        except Refused as refusal:
            service = signing_service(environ)
            return error_response(environ, refusal.status, _code_for(refusal.code, environ, service), refusal.message,
                                  service)
        return None

    def _authenticate(self, environ: dict) -> str:
        """The signing service name of a correctly signed request; raises :class:`Refused` otherwise."""
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        query = environ.get("QUERY_STRING", "")
        if authorization.startswith(ALGORITHM + " "):
            return self._verify_header_signature(environ, authorization)
        if "X-Amz-Credential=" in query:
            return self._verify_query_signature(environ)
        if authorization.startswith("AWS ") or "AWSAccessKeyId=" in query:
            return self._verify_signature_v2(environ, authorization, query)
        raise Refused(403, "MissingAuthenticationToken",
                      "Missing Authentication Token: localcloud answers only requests signed with its credentials. "
                      "Run `eval \"$(python -m localcloud env)\"` (or use LocalCloud.env) to get them.")

    # -- Signature Version 4 --------------------------------------------------------------------

    def _verify_header_signature(self, environ: dict, authorization: str) -> str:
        fields = dict(part.strip().split("=", 1) for part in authorization[len(ALGORITHM):].split(",") if "=" in part)
        try:
            credential, signed_headers, signature = fields["Credential"], fields["SignedHeaders"], fields["Signature"]
        except KeyError:
            raise Refused(400, "IncompleteSignature", "Authorization header requires 'Credential', 'SignedHeaders' "
                          "and 'Signature' parameters.") from None
        _, scope, service = self._scope(credential)
        amz_date = environ.get("HTTP_X_AMZ_DATE", "")
        self._check_time(amz_date, service)
        payload_hash = environ.get("HTTP_X_AMZ_CONTENT_SHA256") or hashlib.sha256(read_body(environ)).hexdigest()
        canonical = _canonical_requests(environ, signed_headers, payload_hash, service, exclude_signature=False)
        self._compare(canonical, amz_date, scope, signature, service)
        return service

    def _verify_query_signature(self, environ: dict) -> str:
        params = {unquote(k): unquote(v) for k, _, v in
                  (pair.partition("=") for pair in environ.get("QUERY_STRING", "").split("&"))}
        _, scope, service = self._scope(params.get("X-Amz-Credential", ""))
        amz_date = params.get("X-Amz-Date", "")
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            expires = int(params.get("X-Amz-Expires", "0"))
        except ValueError:
            raise Refused(403, "AuthorizationQueryParametersError",
                          "X-Amz-Date must be in the ISO8601 Long Format and X-Amz-Expires a number of seconds.") from None
        if datetime.now(UTC) > signed_at + timedelta(seconds=expires):
            raise Refused(403, "AccessDenied", "Request has expired")
        payload_hash = UNSIGNED_PAYLOAD if service == "s3" else hashlib.sha256(read_body(environ)).hexdigest()
        canonical = _canonical_requests(environ, params.get("X-Amz-SignedHeaders", "host"), payload_hash, service,
                                       exclude_signature=True)
        self._compare(canonical, amz_date, scope, params.get("X-Amz-Signature", ""), service)
        return service

    def _scope(self, credential: str) -> tuple[str, str, str]:
        key_id, _, scope = credential.partition("/")
        parts = scope.split("/")
        if len(parts) != 4 or parts[3] != "aws4_request":
            raise Refused(400, "IncompleteSignature", f"Credential should be scoped correctly: {credential}")
        if not hmac.compare_digest(key_id, self.credentials.access_key_id):
            raise Refused(403, "InvalidClientTokenId", "The security token included in the request is invalid. "
                          "This localcloud generated its own credentials at start: get them with "
                          "`eval \"$(python -m localcloud env)\"`.")
        return key_id, scope, parts[2]

    @staticmethod
    def _check_time(amz_date: str, service: str) -> None:
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise Refused(400, "IncompleteSignature", "The request must contain an X-Amz-Date header in the ISO8601 "
                          "Long Format (yyyyMMdd'T'HHmmss'Z').") from None
        if abs(datetime.now(UTC) - signed_at) > MAX_CLOCK_SKEW:
            raise Refused(403, "RequestTimeTooSkewed" if service == "s3" else "InvalidSignatureException",
                          f"Signature expired: {amz_date} is more than 15 minutes away from the server's time.")

    def _compare(self, canonical_requests: list[str], amz_date: str, scope: str, signature: str, service: str) -> None:
        date, region, scope_service, _ = scope.split("/")
        key = _signing_key(self.credentials.secret_access_key, date, region, scope_service)
        for canonical in canonical_requests:
            string_to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
            if hmac.compare_digest(hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest(), signature):
                return
        raise Refused(403, "SignatureDoesNotMatch", _SIGNATURE_MISMATCH)

    # -- Signature Version 2 (S3's older signing, which boto3 still uses for presigned URLs) ---------

    def _verify_signature_v2(self, environ: dict, authorization: str, query: str) -> str:
        if authorization.startswith("AWS "):
            key_id, _, signature = authorization[4:].partition(":")
            date = environ.get("HTTP_DATE", "")
        else:
            params = {unquote(k): unquote(v) for k, _, v in (pair.partition("=") for pair in query.split("&"))}
            key_id, signature, date = params.get("AWSAccessKeyId", ""), params.get("Signature", ""), params.get("Expires", "")
            if not date.isdigit() or int(date) < datetime.now(UTC).timestamp():
                raise Refused(403, "AccessDenied", "Request has expired")
        if not hmac.compare_digest(key_id, self.credentials.access_key_id):
            raise Refused(403, "InvalidClientTokenId", "The AWS Access Key Id you provided does not exist in our records.")
        raw_path, _, raw_query = _raw_target(environ)
        subresources = sorted((pair.partition("=") for pair in raw_query.split("&") if raw_query),
                              key=lambda kv: kv[0])
        interesting = [f"{k}={unquote(v)}" if sep else k for k, sep, v in subresources if k in HmacV1Auth.QSAOfInterest]
        resource = raw_path + ("?" + "&".join(interesting) if interesting else "")
        amz_headers = sorted((name[5:].lower().replace("_", "-"), " ".join(value.split()))
                             for name, value in environ.items() if name.startswith("HTTP_X_AMZ_"))
        string_to_sign = "\n".join([environ.get("REQUEST_METHOD", "GET").upper(), environ.get("HTTP_CONTENT_MD5", ""),
                                    environ.get("CONTENT_TYPE", ""), date]) + "\n"
        string_to_sign += "".join(f"{name}:{value}\n" for name, value in amz_headers) + resource
        digest = hmac.new(self.credentials.secret_access_key.encode(), string_to_sign.encode(), hashlib.sha1).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), signature):
            raise Refused(403, "SignatureDoesNotMatch", _SIGNATURE_MISMATCH)
        return "s3"


@lru_cache(maxsize=64)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def read_body(environ: dict) -> bytes:
    """The request body, read once and put back for whoever answers the request."""
    cached = environ.get("localcloud.body")
    if cached is not None:
        return cached
    stream = environ.get("wsgi.input")
    length = environ.get("CONTENT_LENGTH") or ""
    if stream is None:
        body = b""
    elif length.isdigit():
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["localcloud.body"] = body
    return body


def _canonical_requests(environ: dict, signed_headers: str, payload_hash: str, service: str,
                        exclude_signature: bool) -> list[str]:
    """The canonical request, with its query string in the two forms clients sign: botocore's (the
    pairs as sent, sorted) and the specification's (each name and value decoded and encoded again)."""
    raw_path, _, raw_query = _raw_target(environ)
    # botocore signs S3 paths as sent and every other service's path normalised and encoded once more.
    path = raw_path if service == "s3" else quote(normalize_url_path(raw_path), safe="/~")
    as_sent, normalised = [], []
    for pair in raw_query.split("&") if raw_query else []:
        key, _, value = pair.partition("=")
        if exclude_signature and unquote(key) == "X-Amz-Signature":
            continue
        as_sent.append((key, value))
        normalised.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    names = signed_headers.split(";")
    headers = "".join(f"{name}:{_header_value(environ, name)}\n" for name in names)
    queries = dict.fromkeys("&".join(f"{key}={value}" for key, value in sorted(pairs)) for pairs in (as_sent, normalised))
    return ["\n".join([environ.get("REQUEST_METHOD", "GET").upper(), path, query, headers, signed_headers, payload_hash])
            for query in queries]


def _raw_target(environ: dict) -> tuple[str, str, str]:
    """(path, "?", query) exactly as the client sent them, before any decoding."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ.get("PATH_INFO", "/"))
    if raw.startswith(("http://", "https://")):
        parts = urlsplit(raw)
        raw = parts.path + ("?" + parts.query if parts.query else "")
    return raw.partition("?")


def _header_value(environ: dict, name: str) -> str:
    if name == "content-type":
        value = environ.get("CONTENT_TYPE", "")
    elif name == "content-length":
        value = environ.get("CONTENT_LENGTH", "")
    else:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"), "")
    return " ".join(value.split())


def credential_scope(environ: dict) -> tuple[str, str]:
    """(region, service) of the request's credential scope; ("", "") when it names none."""
    for source in (environ.get("HTTP_AUTHORIZATION", ""), unquote(environ.get("QUERY_STRING", ""))):
        marker = source.find("Credential=")
        if marker >= 0:
            parts = source[marker + len("Credential="):].split("/")
            if len(parts) >= 4:
                return parts[2], parts[3]
    return "", ""


def signing_service(environ: dict) -> str:
    """The service the request is signed for, if it names one ("" otherwise)."""
    if environ.get("HTTP_AUTHORIZATION", "").startswith("AWS ") or "AWSAccessKeyId=" in environ.get("QUERY_STRING", ""):
        return "s3"  # Signature Version 2 is S3's alone
    return credential_scope(environ)[1]


def _code_for(code: str, environ: dict, service: str) -> str:
    """The error code each protocol family uses for the same authentication failure."""
    protocol = protocol_of(environ, service)
    if code == "InvalidClientTokenId":
        if service == "s3":
            return "InvalidAccessKeyId"
        return code if protocol == "query" else "UnrecognizedClientException"
    if code == "SignatureDoesNotMatch" and protocol in ("json", "rest-json"):
        return "InvalidSignatureException"
    if code == "MissingAuthenticationToken":
        if service == "s3":
            return "AccessDenied"
        return code if protocol == "query" else "MissingAuthenticationTokenException"
    return code


def preflight_response(environ: dict) -> Response:
    """CORS preflight for a page on an allowed origin (the control plane's CORS is otherwise off)."""
    return Response(status=200, headers=cors_headers(environ) | {
        "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, HEAD, PATCH",
        "Access-Control-Allow-Headers": environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "*"),
        "Access-Control-Max-Age": "600",
    })


def cors_headers(environ: dict) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": environ["HTTP_ORIGIN"], "Vary": "Origin",
            "Access-Control-Expose-Headers": "x-amzn-RequestId, x-amzn-ErrorType, x-amz-request-id, ETag, "
                                             "x-amz-version-id, x-amz-function-error, x-amz-log-result"}
