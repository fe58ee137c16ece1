"""The OpenAPI document declares what the API answers: every error status with the one
``Problem`` body (``detail``: a string, or FastAPI's list of validation issues), the statuses
every operation of a kind can answer, and links that resolve to real operations."""

from __future__ import annotations

import pytest

from service.problems import PROBLEM_REF

METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture
def spec(client) -> dict:
    return client.get("/openapi.json").json()


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def test_every_error_response_is_a_problem(spec):
    for path, method, op in _operations(spec):
        for code, response in op["responses"].items():
            if int(code) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": PROBLEM_REF}, (method, path, code)
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_statuses_every_operation_of_a_kind_can_answer(spec):
    for path, method, op in _operations(spec):
        codes = set(op["responses"])
        if path.startswith("/api/"):
            assert "503" in codes, (method, path)
        if op.get("security"):
            assert {"401", "403"} <= codes, (method, path)
        if "{" in path:
            assert "404" in codes, (method, path)
        if method in ("post", "put", "patch"):
            assert "408" in codes, (method, path)


def test_both_kinds_of_422_match_the_problem_schema(client, spec):
    detail = spec["components"]["schemas"]["Problem"]["properties"]["detail"]["anyOf"]
    assert [d["type"] for d in detail] == ["string", "array"]
    domain = client.get("/api/v1/turbines/WT-1/predictions", params={"cursor": "not-a-cursor"})
    validation = client.get("/api/v1/models/0")
    assert domain.status_code == validation.status_code == 422
    assert isinstance(domain.json()["detail"], str)
    issues = validation.json()["detail"]
    assert isinstance(issues, list) and {"loc", "msg", "type"} <= set(issues[0])


def test_links_point_to_real_operations_and_parameters(spec):
    seen = 0
    for path, method, op in _operations(spec):
        for response in op["responses"].values():
            for name, link in response.get("links", {}).items():
                ref = link["operationRef"].removeprefix("#/paths/")
                t_path, t_method = ref.rsplit("/", 1)
                t_path = t_path.replace("~1", "/").replace("~0", "~")
                target = spec["paths"][t_path][t_method]
                names = {p["name"] for p in target.get("parameters", [])}
                assert set(link["parameters"]) <= names, (method, path, name)
                seen += 1
    assert seen >= 20
