"""Batch transform jobs: the model's serving process, fed every input object from S3 as the service feeds it.

The model is served exactly as an endpoint serves it (an ``EndpointHost`` of its own, whose container
log goes to ``/aws/sagemaker/TransformJobs``).  Each input object (every key under an ``S3Prefix``, in
key order, or each entry of a ``ManifestFile``) is split into records by ``SplitType`` (``Line``:
non-empty lines; ``RecordIO``: RecordIO records; ``None``: the whole object), each record goes through
``DataProcessing.InputFilter``, and records go to ``POST /invocations`` one per request
(``SingleRecord``) or as many as fit in ``MaxPayloadInMB`` (``MultiRecord``).  The answers, in input
order, make ``{S3OutputPath}/{object path under the prefix}.out``: joined with newlines
(``AssembleWith: Line``) or concatenated (``None``).  With ``JoinSource: Input`` each record's output
is joined to the input record (CSV: the input's columns then the output's; JSON: the output under
``SageMakerOutput``) before ``OutputFilter``.  A record the model refuses fails the job, naming the
object and the model's answer.  Per-object progress lines go to the ``{job}/{instance}/data-log`` stream.

Filters take the JSONPath subset the service documents: ``$``, ``.name``, ``['name'(,'name')]``,
``[index(,index)]`` (negative counts from the end), ``[start:end]`` and ``*``.  A CSV record is
the JSON array of its fields.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import re
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from localcloud.sagemaker import images, storage
from localcloud.sagemaker.hosting import ContainerTimeout, EndpointHost, VariantUnavailable
from localcloud.sagemaker.models import Model, TransformJob, ValidationException, now
from mlformats import recordio

logger = logging.getLogger("localcloud.sagemaker")

LOG_GROUP = "/aws/sagemaker/TransformJobs"
MAX_PAYLOAD_LIMIT_MB = 100
DEFAULT_MAX_PAYLOAD_MB = 6
DEFAULT_TIMEOUT_SECONDS = 600
DEFAULT_MAX_RETRIES = 3
CSV, JSON, JSONLINES = "text/csv", "application/json", "application/jsonlines"


class TransformFailure(Exception):
    """The job fails with this reason."""


# -- JSONPath filters ----------------------------------------------------------------------------

_STEP = re.compile(r"""\.(?P<name>[A-Za-z_][\w-]*)|\.\*|\[\*\]|\[(?P<slice>-?\d*:-?\d*)\]|\[(?P<indexes>-?\d+(?:\s*,\s*-?\d+)*)\]"""
                   r"""|\[(?P<names>'[^']*'(?:\s*,\s*'[^']*')*)\]""")


def parse_path(path: str) -> list[tuple[str, Any]]:
    """The steps of a JSONPath filter; ValueError if it is outside the documented subset."""
    if not path.startswith("$"):
        raise ValueError(f"JSONPath {path!r} must start with $")
    steps, position = [], 1
    while position < len(path):
        match = _STEP.match(path, position)
        if not match:
            raise ValueError(f"JSONPath {path!r}: unsupported operator at {path[position:]!r}; use $, .name, "
                             "['name'], [index], [start:end] or *")
        if match["name"]:
            steps.append(("names", [match["name"]]))
        elif match["names"]:
            steps.append(("names", re.findall(r"'([^']*)'", match["names"])))
        elif match["indexes"]:
            steps.append(("indexes", [int(i) for i in match["indexes"].split(",")]))
        elif match["slice"] is not None:
            start, end = match["slice"].split(":")
            steps.append(("slice", (int(start) if start else None, int(end) if end else None)))
        else:
            steps.append(("all", None))
        position = match.end()
    return steps


def apply_path(steps: list[tuple[str, Any]], value: Any) -> Any:
    for kind, argument in steps:
        if kind == "names":
            if not isinstance(value, dict):
                raise TransformFailure(f"the filter selects keys {argument} from a record that is not a JSON object")
            value = value.get(argument[0]) if len(argument) == 1 else {n: value[n] for n in argument if n in value}
        elif kind == "all":
            value = list(value.values()) if isinstance(value, dict) else list(value)
        else:
            if not isinstance(value, list):
                raise TransformFailure("the filter indexes a record that is not an array")
            if kind == "slice":
                value = value[argument[0]:argument[1]]
            else:
                try:
                    picked = [value[i] for i in argument]
                except IndexError:
                    raise TransformFailure(f"the filter's index {argument} is out of the record's range "
                                           f"({len(value)} fields)") from None
                value = picked[0] if len(picked) == 1 else picked
    return value


# -- records ---------------------------------------------------------------------------------------

def _kind(content_type: str | None) -> str | None:
    """How a record of this content type is read by the filters: "csv", "json" or None (opaque)."""
    base = (content_type or "").split(";")[0].strip().lower()
    if base == CSV:
        return "csv"
    if base in (JSON, JSONLINES):
        return "json"
    return None


def _parse(record: bytes, kind: str) -> Any:
    text = record.decode("utf-8")
    if kind == "csv":
        return next(csv.reader([text]), [])
    return json.loads(text)


def _serialise(value: Any, kind: str) -> bytes:
    if kind == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(value if isinstance(value, list) else [value])
        return buffer.getvalue().encode()
    return json.dumps(value).encode()


def split_records(data: bytes, split_type: str) -> list[bytes]:
    if split_type == "Line":
        return [line.rstrip(b"\r") for line in data.split(b"\n") if line.strip()]
    if split_type == "RecordIO":
        return list(recordio.read_records(data))
    return [data] if data else []


def _frame(records: list[bytes], split_type: str) -> bytes:
    """Records as one request body."""
    if split_type == "RecordIO":
        return b"".join(recordio.encode(record) for record in records)
    if split_type == "Line":
        return b"".join(record + b"\n" for record in records)
    return b"".join(records)


def batches(records: list[bytes], split_type: str, strategy: str, max_bytes: int | None) -> list[list[bytes]]:
    """Records grouped into requests: one each, or as many as fit in ``max_bytes``."""
    groups: list[list[bytes]] = []
    group_bytes = 0
    for record in records:
        size = len(_frame([record], split_type))  # a request body is the sum of its records' frames
        if max_bytes is not None and size > max_bytes:
            raise TransformFailure(f"a record of {len(record)} bytes is larger than MaxPayloadInMB "
                                   f"({max_bytes // (1024 * 1024)} MB); raise MaxPayloadInMB or split the input "
                                   "into smaller records")
        if strategy == "MultiRecord" and groups and (max_bytes is None or group_bytes + size <= max_bytes):
            groups[-1].append(record)
            group_bytes += size
        else:
            groups.append([record])
            group_bytes = size
    return groups


# -- validation ------------------------------------------------------------------------------------

def check(request: dict[str, Any], model: Model) -> None:
    """Refuse at creation what the job could never do, as the service does."""
    if len(model.containers) != 1:
        raise ValidationException("localcloud runs batch transform for single-container models only; inference "
                                  "pipelines are not supported.")
    try:
        images.algorithm_for_image(model.containers[0].get("Image", ""))
    except images.UnknownImage as error:
        raise ValidationException(str(error)) from None
    source = request["TransformInput"]["DataSource"].get("S3DataSource")
    if source is None:
        raise ValidationException("localcloud reads batch transform input from S3DataSource only.")
    if source["S3DataType"] not in ("S3Prefix", "ManifestFile"):
        raise ValidationException(f"S3DataType {source['S3DataType']} is not supported for batch transform; use "
                                  "S3Prefix or ManifestFile.")
    for uri in (source["S3Uri"], request["TransformOutput"]["S3OutputPath"]):
        try:
            storage.split_uri(uri)
        except storage.MissingData as error:
            raise ValidationException(str(error)) from None
    if request["TransformInput"].get("SplitType") == "TFRecord":
        raise ValidationException("SplitType TFRecord is not supported by localcloud; use Line, RecordIO or None.")
    if request.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB) > MAX_PAYLOAD_LIMIT_MB:
        raise ValidationException(f"MaxPayloadInMB must be less than or equal to {MAX_PAYLOAD_LIMIT_MB}.")
    processing = request.get("DataProcessing", {})
    for key in ("InputFilter", "OutputFilter"):
        if key in processing:
            try:
                parse_path(processing[key])
            except ValueError as error:
                raise ValidationException(f"DataProcessing.{key}: {error}") from None


# -- running ---------------------------------------------------------------------------------------

@dataclass
class _ServingSlot:
    """What ``EndpointHost`` needs of an endpoint, for the transform job's one serving process."""

    name: str
    arn: str
    region: str
    config_name: str = ""
    status: str = "Creating"
    failure_reason: str | None = None
    variants: list = field(default_factory=list)
    last_modified_time: datetime = field(default_factory=now)


class TransformRunner:
    def __init__(self, work_dir: Path, log_sink):
        self.work_dir = Path(work_dir)
        self.log_sink = log_sink
        self.host = EndpointHost(self.work_dir / "serving", self._container_log)

    def _container_log(self, region: str, group: str, stream: str, events) -> None:
        self.log_sink(region, LOG_GROUP, stream, events)

    def start(self, job: TransformJob, model: Model) -> None:
        threading.Thread(target=self._run, args=(job, model), name=f"transform-{job.name}", daemon=True).start()

    def shutdown(self) -> None:
        self.host.shutdown()

    def _run(self, job: TransformJob, model: Model) -> None:
        slot = _ServingSlot(job.name, f"{job.arn}/serving", job.region)
        work = self.work_dir / "input" / f"{job.name}-{uuid.uuid4().hex[:8]}"
        try:
            job.start_time = now()
            self._transform(job, model, slot, work)
        except TransformFailure as failure:
            job.finish("Failed", str(failure))
        except Exception as error:  # the service never leaves a job InProgress forever
            logger.exception("transform job %s failed in localcloud", job.name)
            job.finish("Failed", f"InternalServerError: {error}")
        finally:
            self.host.undeploy(slot)
            shutil.rmtree(work, ignore_errors=True)

    def _transform(self, job: TransformJob, model: Model, slot: _ServingSlot, work: Path) -> None:
        request = job.request
        objects = self._inputs(job, work)
        container = dict(model.containers[0])
        strategy = request.get("BatchStrategy", "MultiRecord")
        concurrency = request.get("MaxConcurrentTransforms") or 1
        payload_mb = request.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB)
        container["Environment"] = {
            **container.get("Environment", {}), **request.get("Environment", {}),
            "SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(payload_mb),
            "SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD" if strategy == "SingleRecord" else "MULTI_RECORD",
            "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": str(concurrency)}
        self.host.deploy(slot, [{"VariantName": job.name, "InitialVariantWeight": 1.0, "InitialInstanceCount": 1,
                                 "Containers": [container]}])
        while slot.status == "Creating":
            time.sleep(0.02)
        if slot.status == "Failed":
            raise TransformFailure(f"ClientError: {slot.failure_reason}")
        server = self.host.route(slot, None)
        data_log = f"{server.log_stream}/data-log"

        def log(message: str) -> None:
            stamp = now()
            self.log_sink(job.region, LOG_GROUP, data_log,
                          [(int(stamp.timestamp() * 1000), f"{stamp:%Y-%m-%dT%H:%M:%S.%f}: [sagemaker logs]: {message}")])

        log(f"MaxConcurrentTransforms={concurrency}, MaxPayloadInMB={payload_mb}, BatchStrategy={strategy}")
        feeder = _Feeder(request, server, payload_mb)
        output_path = request["TransformOutput"]["S3OutputPath"].rstrip("/")
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for uri, relative, data in objects:
                if job.stop_requested:
                    job.finish("Stopped")
                    return
                try:
                    output = feeder.transform(data, pool, lambda: job.stop_requested)
                except TransformFailure as failure:
                    log(f"{uri}: {failure}")
                    raise TransformFailure(f"ClientError: {uri}: {failure}. See the log stream {data_log} in the "
                                           f"log group {LOG_GROUP}.") from None
                if output is None:  # stopped meanwhile
                    job.finish("Stopped")
                    return
                storage.write(f"{output_path}/{relative}.out", output)
                log(f"{uri}: transformed into {output_path}/{relative}.out")
        job.finish("Completed")

    def _inputs(self, job: TransformJob, work: Path) -> list[tuple[str, str, bytes]]:
        """(S3 URI, path under the prefix, bytes) of each input object, in the order the service reads them."""
        source = job.request["TransformInput"]["DataSource"]["S3DataSource"]
        gzipped = job.request["TransformInput"].get("CompressionType", "None") == "Gzip"
        found: list[tuple[str, str, bytes]] = []
        try:
            if source["S3DataType"] == "ManifestFile":
                entries = json.loads(storage.read(source["S3Uri"]))
                prefix = entries[0]["prefix"]
                found = [(prefix + relative, relative, storage.read(prefix + relative)) for relative in entries[1:]]
            else:
                storage.download_prefix(source["S3Uri"], work)
                bucket, prefix = storage.split_uri(source["S3Uri"])
                base = prefix if prefix.endswith("/") or not prefix else prefix.rsplit("/", 1)[0] + "/"
                files = sorted((p.relative_to(work).as_posix(), p) for p in work.rglob("*") if p.is_file())
                found = [(f"s3://{bucket}/{base}{relative}", relative, path.read_bytes()) for relative, path in files]
        except (storage.MissingData, ValueError, KeyError, IndexError, TypeError) as error:
            raise TransformFailure(f"ClientError: the input {source['S3Uri']} could not be read: {error}") from None
        if not found:
            raise TransformFailure(f'ClientError: No S3 objects found under S3 URL "{source["S3Uri"]}" given in input '
                                   f"data source. Please ensure that the bucket exists in the selected region "
                                   f"({job.region}) and that objects exist under that S3 prefix.")
        if gzipped:
            try:
                found = [(uri, relative, gzip.decompress(data)) for uri, relative, data in found]
            except (OSError, EOFError) as error:
                raise TransformFailure(f"ClientError: CompressionType is Gzip but an input object is not gzip: "
                                       f"{error}") from None
        return found


class _Feeder:
    """Turns one input object into its output: records, filters, requests, joins."""

    def __init__(self, request: dict[str, Any], server, payload_mb: int):
        transform_input, transform_output = request["TransformInput"], request["TransformOutput"]
        processing = request.get("DataProcessing", {})
        self.server = server
        self.split_type = transform_input.get("SplitType", "None")
        self.strategy = request.get("BatchStrategy", "MultiRecord")
        self.max_bytes = payload_mb * 1024 * 1024 if payload_mb else None
        self.content_type = transform_input.get("ContentType")
        self.accept = transform_output.get("Accept")
        self.assemble_line = transform_output.get("AssembleWith", "None") == "Line"
        self.input_filter = parse_path(processing.get("InputFilter", "$"))
        self.output_filter = parse_path(processing.get("OutputFilter", "$"))
        self.join = processing.get("JoinSource", "None") == "Input"
        self.input_kind = _kind(self.content_type)
        config = request.get("ModelClientConfig", {})
        self.timeout = config.get("InvocationsTimeoutInSeconds", DEFAULT_TIMEOUT_SECONDS)
        self.retries = config.get("InvocationsMaxRetries", DEFAULT_MAX_RETRIES)
        self.per_record = self.join or bool(self.output_filter)
        if (self.input_filter or self.per_record) and self.input_kind is None:
            raise TransformFailure(f"ClientError: DataProcessing filters and joins read CSV or JSON records; the input "
                                   f"ContentType is {self.content_type or 'not set'}")

    def transform(self, data: bytes, pool: ThreadPoolExecutor, stopped) -> bytes | None:
        records = split_records(data, self.split_type)
        sent = [self._filter_input(record) for record in records] if self.input_filter else records
        groups = batches(sent, self.split_type, self.strategy, self.max_bytes)
        replies = list(pool.map(lambda group: None if stopped() else self._invoke(_frame(group, self.split_type)),
                                groups))
        if any(reply is None for reply in replies):
            return None
        if not self.per_record:
            return self._assemble(replies)
        outputs: list[bytes] = []
        position = 0
        for group, (body, content_type) in zip(groups, replies, strict=True):
            pieces = self._per_record(body, content_type, len(group))
            for original, piece in zip(records[position:position + len(group)], pieces, strict=True):
                outputs.append(self._finish_record(original, piece, content_type))
            position += len(group)
        return self._assemble([(output, None) for output in outputs])

    def _filter_input(self, record: bytes) -> bytes:
        try:
            return _serialise(apply_path(self.input_filter, _parse(record, self.input_kind)), self.input_kind)
        except (ValueError, UnicodeDecodeError) as error:
            raise TransformFailure(f"a record could not be read as {self.content_type} for InputFilter: {error}") from None

    def _invoke(self, body: bytes) -> tuple[bytes, str]:
        headers = {"Content-Type": self.content_type or "application/octet-stream", "Accept": self.accept or ""}
        for attempt in range(self.retries + 1):
            try:
                reply = self.server.invoke(body, headers, self.timeout)
            except ContainerTimeout:
                if attempt == self.retries:
                    raise TransformFailure(f"the model container did not answer within {self.timeout} seconds "
                                           "(ModelClientConfig.InvocationsTimeoutInSeconds)") from None
                continue
            except VariantUnavailable as error:
                raise TransformFailure(f"the model container could not be reached: {error}") from None
            if reply.status < 400:
                return reply.body, reply.headers.get("content-type", self.accept or "")
            message = reply.body.decode("utf-8", errors="replace")
            if reply.status < 500 or attempt == self.retries:
                raise TransformFailure(f"Bad HTTP status received from algorithm: {reply.status}: {message}")
        raise AssertionError("unreachable")

    @staticmethod
    def _per_record(body: bytes, content_type: str, count: int) -> list[bytes]:
        """The model's answer to ``count`` records, one piece per record."""
        if count == 1:
            return [body.rstrip(b"\n")]
        kind = (content_type or "").split(";")[0].strip().lower()
        if kind in (CSV, JSONLINES, "text/plain"):
            lines = [line for line in body.split(b"\n") if line.strip()]
        elif kind == JSON:
            document = json.loads(body)
            if isinstance(document, dict) and len(document) == 1:
                document = next(iter(document.values()))
            lines = [json.dumps(item).encode() for item in document] if isinstance(document, list) else []
        else:
            lines = []
        if len(lines) != count:
            raise TransformFailure(f"the model answered {len(lines)} outputs ({content_type}) for {count} records, so "
                                   "they cannot be matched to their records for JoinSource/OutputFilter; use "
                                   "BatchStrategy SingleRecord or an Accept type with one line per record")
        return lines

    def _finish_record(self, original: bytes, output: bytes, content_type: str) -> bytes:
        """Join the output to its input record if asked, then apply OutputFilter."""
        output_kind = _kind(content_type) or "csv"
        try:
            if not self.join:
                value, kind = _parse(output, output_kind), output_kind
            elif self.input_kind == "csv":
                value, kind = _parse(original, "csv") + _parse(output, "csv"), "csv"
            else:
                value, kind = _parse(original, "json"), "json"
                try:
                    prediction = json.loads(output)
                except ValueError:
                    prediction = output.decode("utf-8")
                if isinstance(value, list):
                    value.append(prediction)
                elif isinstance(value, dict):
                    value["SageMakerOutput"] = prediction
                else:
                    raise TransformFailure("JoinSource Input needs JSON records that are objects or arrays")
        except (ValueError, UnicodeDecodeError) as error:
            raise TransformFailure(f"a record or its output could not be read for JoinSource/OutputFilter: {error}") \
                from None
        return _serialise(apply_path(self.output_filter, value), kind)

    def _assemble(self, replies: list[tuple[bytes, Any]]) -> bytes:
        if not self.assemble_line:
            return b"".join(body for body, _ in replies)
        return b"".join(body.rstrip(b"\n") + b"\n" for body, _ in replies)
