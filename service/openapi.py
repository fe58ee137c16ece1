"""The app's OpenAPI document, completed once when first asked for: the error responses of
``service.problems`` and links between operations (OpenAPI ``links``).

The links say where an id in one response can be used next (a posted batch's id reads the
batch back; an alarm from the queue can be acknowledged), for client generators and for
stateful testing (schemathesis follows them to reach ids that exist).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from service.problems import document_problems
from service.settings import API_PREFIX

P = API_PREFIX
BATCH = {"batch_id": "$response.body#/batch_id"}
TURBINE = {"turbine_id": "$response.body#/turbine_id"}
SENSOR = {**TURBINE, "sensor": "$response.body#/sensors/0/name"}
# (method, path, status) of a response -> {link name: (method, path, parameters)}
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict[str, str]]]] = {
    ("post", f"{P}/turbines/{{turbine_id}}/batches", "201"): {
        "GetBatch": ("get", f"{P}/batches/{{batch_id}}", BATCH),
        "GetRaw": ("get", f"{P}/batches/{{batch_id}}/raw", BATCH),
        "GetSpectrogram": ("get", f"{P}/batches/{{batch_id}}/spectrogram", BATCH),
        "GetTurbine": ("get", f"{P}/turbines/{{turbine_id}}", TURBINE),
        "GetBaseline": ("get", f"{P}/turbines/{{turbine_id}}/sensors/{{sensor}}/baseline",
                        {**TURBINE, "sensor": "$response.body#/sensor"}),
    },
    **{("put", f"{P}/turbines/{{turbine_id}}", status): {
        "GetTurbine": ("get", f"{P}/turbines/{{turbine_id}}", TURBINE),
        "TurbinePredictions": ("get", f"{P}/turbines/{{turbine_id}}/predictions", TURBINE),
    } for status in ("200", "201")},
    ("get", f"{P}/turbines", "200"): {
        "GetTurbine": ("get", f"{P}/turbines/{{turbine_id}}",
                       {"turbine_id": "$response.body#/items/0/turbine_id"}),
    },
    ("get", f"{P}/turbines/{{turbine_id}}", "200"): {
        "TurbinePredictions": ("get", f"{P}/turbines/{{turbine_id}}/predictions", TURBINE),
        **{name: (method, f"{P}/turbines/{{turbine_id}}/sensors/{{sensor}}{suffix}", SENSOR)
           for name, method, suffix in [("GetBaseline", "get", "/baseline"),
                                        ("ResetBaseline", "post", "/baseline/reset"),
                                        ("FitBaseline", "post", "/baseline/fit"),
                                        ("GetGeometry", "get", "/geometry")]},
    },
    ("get", f"{P}/turbines/{{turbine_id}}/predictions", "200"): {
        "GetPrediction": ("get", f"{P}/predictions/{{prediction_id}}",
                          {"prediction_id": "$response.body#/items/0/id"}),
    },
    ("get", f"{P}/predictions/{{prediction_id}}", "200"): {
        name: ("get", f"{P}/predictions/{{prediction_id}}/{suffix}",
               {"prediction_id": "$response.body#/id"})
        for name, suffix in [("Saliency", "saliency"), ("Explanation", "explanation")]
    },
    ("get", f"{P}/alarms", "200"): {
        name: (method, f"{P}/alarms/{{alarm_id}}{suffix}",
               {"alarm_id": "$response.body#/items/0/id"})
        for name, method, suffix in [("GetAlarm", "get", ""),
                                     ("Acknowledge", "post", "/acknowledge"),
                                     ("Close", "post", "/close")]
    },
    ("get", f"{P}/models", "200"): {
        "GetModel": ("get", f"{P}/models/{{version_id}}", {"version_id": "$response.body#/0/id"}),
        "Promote": ("post", f"{P}/models/{{version_id}}/promote",
                    {"version_id": "$response.body#/0/id"}),
    },
    **{("put", f"{P}/turbines/{{turbine_id}}/sensors/{{sensor}}/geometry", status): {
        name: (method, f"{P}/turbines/{{turbine_id}}/sensors/{{sensor}}/geometry",
               {**TURBINE, "sensor": "$response.body#/sensor"})
        for name, method in [("GetGeometry", "get"), ("DeleteGeometry", "delete")]
    } for status in ("200", "201")},
    ("get", f"{P}/keys", "200"): {
        "Revoke": ("post", f"{P}/keys/{{key_id}}/revoke", {"key_id": "$response.body#/0/id"}),
    },
    ("post", f"{P}/users", "201"): {
        "Update": ("patch", f"{P}/users/{{user_id}}", {"user_id": "$response.body#/id"}),
    },
}


def _operation_ref(method: str, path: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def add_links(schema: dict[str, Any]) -> dict[str, Any]:
    """Attach ``LINKS`` to the responses they start from (skipping operations that are not
    in the document, so a renamed route loses its link rather than breaking the spec)."""
    paths = schema.get("paths", {})
    for (method, path, status), links in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        for name, (t_method, t_path, parameters) in links.items():
            target = paths.get(t_path, {}).get(t_method)
            if target is None:
                continue
            known = {p["name"] for p in target.get("parameters", []) if p.get("in") == "path"}
            if set(parameters) <= known:
                response.setdefault("links", {})[name] = {
                    "operationRef": _operation_ref(t_method, t_path), "parameters": parameters}
    return schema


def install_openapi(app: FastAPI) -> None:
    """Build the app's OpenAPI document once, with problems and links, then serve it cached."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_links(document_problems(build()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
