"""Open Inference Protocol (V2) tensors, turned into serving's records and back.

Only the protocol's JSON tensor encoding is spoken: each input's ``data`` is a JSON array
in row-major order (flat, or nested to its shape), BYTES elements are strings. The binary
tensor extension is refused with a message saying so, rather than misread.

A request has one tensor per feature (FP64, or any integer/float datatype, for a numeric
feature; BYTES for a categorical one), of shape ``[n]`` or ``[n, 1]``: row ``i`` of every
tensor is record ``i``. Tensors named after the spec's entity id and event time are
accepted too, so the prediction log joins labels to V2 predictions as it does for the
``/v1`` route. ``null`` elements are absent values. What the records then must satisfy
(ranges, closed category sets, nulls) is decided by the record contract, as for ``/v1``;
this module only checks what is the protocol's: names, datatypes, shapes, element types.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, ValidationError

from continuum.contracts import PipelineSpec
from continuum.modelkit import Predictions
from continuum.serving.validation import ErrorDetail

NUMERIC_DATATYPES = frozenset(
    {"FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64"}
    | {"UINT8", "UINT16", "UINT32", "UINT64"}
)
"""Datatypes a numeric feature's tensor may have (its values are read as floats)."""

PREDICTION = "prediction"
PROBABILITIES = "probabilities"
MAX_MESSAGES = 10
"""An error names at most this many problems (and counts the rest)."""


class ProtocolError(Exception):
    """A request the protocol refuses: ``status`` and the ``{"error": ...}`` message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class RequestInput(BaseModel):
    """One input tensor of an inference request."""

    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: list[Any]


class RequestOutput(BaseModel):
    """One output a request asks for (all outputs when a request names none)."""

    name: str
    parameters: dict[str, Any] | None = None


class InferenceRequest(BaseModel):
    """The body of ``POST /v2/models/{name}[/versions/{v}]/infer``."""

    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None


def parse_request(body: bytes) -> InferenceRequest:
    """The request in ``body``; raises :class:`ProtocolError` naming what is wrong."""
    try:
        return InferenceRequest.model_validate_json(body)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        ]
        raise ProtocolError(f"invalid inference request: {_join(problems)}") from None


def input_metadata(spec: PipelineSpec) -> list[dict[str, Any]]:
    """One tensor per feature, in spec order, named after it."""
    return [
        {"name": f.name, "datatype": "FP64" if f.type == "numeric" else "BYTES", "shape": [-1]}
        for f in spec.record_schema.features
    ]


def output_metadata(spec: PipelineSpec) -> list[dict[str, Any]]:
    """The prediction; for classifiers, the class probabilities too."""
    if spec.task == "regression":
        return [{"name": PREDICTION, "datatype": "FP64", "shape": [-1]}]
    return [
        {"name": PREDICTION, "datatype": "INT64", "shape": [-1]},
        {"name": PROBABILITIES, "datatype": "FP64", "shape": [-1, 2]},
    ]


def _flatten(data: list[Any]) -> list[Any]:
    """Row-major elements of ``[n]`` or ``[n, 1]`` data, flat or nested one level."""
    flat: list[Any] = []
    for item in data:
        if isinstance(item, list):
            flat.extend(item)  # a deeper list stays an element, refused as one
        else:
            flat.append(item)
    return flat


def _expected(spec: PipelineSpec) -> dict[str, frozenset[str]]:
    """Each input a request may send and the datatypes it may have."""
    schema = spec.record_schema
    allowed = {
        f.name: NUMERIC_DATATYPES if f.type == "numeric" else frozenset(["BYTES"])
        for f in schema.features
    }
    allowed[schema.event_time] = frozenset(["BYTES"])
    if schema.entity_id:
        allowed[schema.entity_id] = frozenset(["BYTES", "INT64", "INT32", "UINT64", "UINT32"])
    return allowed


def _column(tensor: RequestInput, allowed: frozenset[str]) -> list[Any]:
    """The tensor's values, one per row, after the protocol's checks."""
    where = f"input '{tensor.name}'"
    if tensor.datatype not in allowed:
        raise ProtocolError(f"{where}: datatype {tensor.datatype}, expected {_either(allowed)}")
    if tensor.parameters and "binary_data_size" in tensor.parameters:
        raise ProtocolError(f"{where}: binary tensor data is not supported, send JSON data")
    shape = tensor.shape
    if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)) or shape[0] < 1:
        raise ProtocolError(f"{where}: shape {shape}, expected [n] or [n, 1] with n >= 1")
    data = _flatten(tensor.data)
    if len(data) != shape[0]:
        raise ProtocolError(f"{where}: {len(data)} elements for shape {shape}")
    numeric = tensor.datatype != "BYTES"
    for index, value in enumerate(data):
        if value is None:
            continue
        ok = (
            isinstance(value, int | float) and not isinstance(value, bool)
            if numeric
            else isinstance(value, str)
        )
        if not ok:
            kind = "a number" if numeric else "a string"
            raise ProtocolError(
                f"{where} element {index}: expected {kind} for datatype {tensor.datatype}, "
                f"got {value!r:.100}"
            )
    return data


def records_from_inputs(
    spec: PipelineSpec, inputs: list[RequestInput], max_records: int
) -> list[dict[str, Any]]:
    """Row ``i`` of every input tensor as record ``i``; raises :class:`ProtocolError`."""
    expected = _expected(spec)
    columns: dict[str, list[Any]] = {}
    for tensor in inputs:
        if tensor.name not in expected:
            raise ProtocolError(
                f"input '{tensor.name}' is not an input of this model; "
                f"inputs are {', '.join(spec.record_schema.feature_names)}"
            )
        if tensor.name in columns:
            raise ProtocolError(f"input '{tensor.name}' is given twice")
        columns[tensor.name] = _column(tensor, expected[tensor.name])
    rows = {len(column) for column in columns.values()}
    if len(rows) > 1:
        sizes = ", ".join(f"'{name}': {len(col)}" for name, col in columns.items())
        raise ProtocolError(f"inputs have different numbers of rows ({sizes})")
    count = rows.pop()
    if count > max_records:
        raise ProtocolError(f"at most {max_records} rows per request, not {count}")
    names = list(columns)
    return [{name: columns[name][i] for name in names} for i in range(count)]


def contract_message(errors: list[ErrorDetail]) -> str:
    """The record contract's problems (``/v1``'s 422 details) as one message per input."""
    problems = []
    for error in errors:
        loc = error["loc"]
        if len(loc) == 4:  # ["body", "records", row, field]
            text = f"input '{loc[3]}' element {loc[2]}: {error['msg']}"
            if "input" in error:
                text += f" (got {error['input']!r})"
        else:
            text = error["msg"]
        problems.append(text)
    return _join(problems)


def requested_outputs(spec: PipelineSpec, outputs: list[RequestOutput] | None) -> list[str]:
    """The outputs to return: those asked for, else all; raises on an unknown one."""
    known = [tensor["name"] for tensor in output_metadata(spec)]
    if not outputs:
        return known
    for output in outputs:
        if output.name not in known:
            raise ProtocolError(
                f"output '{output.name}' is not an output of this model; "
                f"outputs are {', '.join(known)}"
            )
    return [output.name for output in outputs]


def output_tensors(
    spec: PipelineSpec, predictions: Predictions, names: list[str]
) -> list[dict[str, Any]]:
    """The response's output tensors, in the order asked for."""
    count = len(predictions.labels)
    tensors: list[dict[str, Any]] = []
    for name in names:
        if name == PREDICTION:
            datatype = "FP64" if spec.task == "regression" else "INT64"
            tensors.append(
                {"name": name, "datatype": datatype, "shape": [count], "data": predictions.labels}
            )
        else:  # probabilities: one column per class, in the model's (ascending) class order
            rows = predictions.probabilities or []
            classes = list(rows[0]) if rows else []
            tensors.append(
                {
                    "name": name,
                    "datatype": "FP64",
                    "shape": [count, len(classes)],
                    "parameters": {"classes": ",".join(classes)},
                    "data": [p for row in rows for p in row.values()],
                }
            )
    return tensors


def _either(options: frozenset[str]) -> str:
    ordered = sorted(options)
    return ordered[0] if len(ordered) == 1 else f"one of {', '.join(ordered)}"


def _join(problems: list[str]) -> str:
    text = "; ".join(problems[:MAX_MESSAGES])
    if len(problems) > MAX_MESSAGES:
        text += f"; and {len(problems) - MAX_MESSAGES} more"
    return text
