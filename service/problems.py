"""Error responses in the OpenAPI document: every status an operation can answer is declared,
with the one body every error has, ``{"detail": string | [validation issue]}``.

Domain errors (``service.errors``) carry a string; FastAPI's request validation carries its
list of issues; both are 422 on some routes, so one ``Problem`` schema documents both. What
every operation of a kind can answer is added here when the document is built:

- any API operation: 503 (database unavailable, ``Retry-After``);
- an operation that declares a security scheme: 401 and 403;
- an operation with a path parameter: 404 (the thing it names does not exist);
- an operation with a declared request body: 400 (unparseable body);
- a POST, PUT or PATCH: 408 (the body did not arrive in time);
- any 422 (FastAPI's validation or ours): the ``Problem`` schema.

Route-specific ones (409, 410, 413, 415, 429) are declared on the route: ``responses=problems(409)``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

PROBLEM_REF = "#/components/schemas/Problem"
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"title": "Detail", "anyOf": [
        {"type": "string", "description": "what is wrong, in words"},
        {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"},
         "description": "request validation: one entry per offending field"},
    ]}},
}
# FastAPI's validation issue, in case no route of the app declares one itself.
VALIDATION_ERROR_SCHEMA: dict[str, Any] = {
    "title": "ValidationError", "type": "object", "required": ["loc", "msg", "type"],
    "properties": {"loc": {"type": "array", "items": {"anyOf": [{"type": "string"},
                                                                   {"type": "integer"}]}},
                   "msg": {"type": "string"}, "type": {"type": "string"}},
}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _problem_response(code: int) -> dict[str, Any]:
    return {"description": HTTPStatus(code).phrase,
            "content": {"application/json": {"schema": {"$ref": PROBLEM_REF}}}}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for error statuses a route answers with a ``Problem`` body."""
    return {code: _problem_response(code) for code in codes}


def _implied_codes(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    codes = set()
    if path.startswith("/api/") or path == "/healthz":
        codes.add(503)
    if operation.get("security"):
        codes |= {401, 403}
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        codes.add(404)
    if "requestBody" in operation:
        codes.add(400)
    if method in ("post", "put", "patch"):
        codes.add(408)  # any of them may carry a body, read or not by a declared schema
    return codes


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the implied error statuses to every operation of ``schema`` and give every error
    response the ``Problem`` body (in place; also returned)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ValidationError", VALIDATION_ERROR_SCHEMA)
    components["Problem"] = PROBLEM_SCHEMA
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for code in _implied_codes(path, method, operation):
                responses.setdefault(str(code), _problem_response(code))
            for code, response in responses.items():
                if not str(code).isdigit() or int(code) < 400:
                    continue
                content = response.setdefault("content", {})
                json_body = content.get("application/json") or {}
                schema_ref = (json_body.get("schema") or {}).get("$ref", "")
                if not json_body.get("schema") or schema_ref.endswith("/HTTPValidationError"):
                    content["application/json"] = {"schema": {"$ref": PROBLEM_REF}}
                if response.get("description") in (None, "", "Additional Response"):
                    response["description"] = HTTPStatus(int(code)).phrase
    components.pop("HTTPValidationError", None)
    return schema

