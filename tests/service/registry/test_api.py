"""Model registry on SQLite and PostgreSQL: listing, promotion, rollback, version per prediction."""

from __future__ import annotations

from service.registry import service as registry
from tests.service.bodies import ARROW, arrow_body, meta, signal


def test_models_listed_with_one_production(client):
    models = client.get("/api/v1/models").json()
    assert {m["architecture"] for m in models} >= {"cnn1d", "cnn2d"}
    assert [m["status"] for m in models].count("production") == 1
    one = client.get(f"/api/v1/models/{models[0]['id']}").json()
    assert one["sha256"] == models[0]["sha256"] and one["classes"]
    assert client.get("/api/v1/models/999999").status_code == 404


def test_promote_switches_the_serving_model_and_rollback_restores_it(client, session_factory):
    models = client.get("/api/v1/models").json()
    prod = next(m for m in models if m["status"] == "production")
    cand = next(m for m in models if m["status"] != "production")

    def post(ts: str) -> int:
        r = client.post("/api/v1/turbines/WT-R/batches", content=arrow_body(signal(), meta(ts)),
                        headers={"Content-Type": ARROW})
        assert r.status_code == 201, r.text
        return r.json()["prediction"]["model_version"]["id"]

    assert post("2026-11-01T10:00:00Z") == prod["id"]
    r = client.post(f"/api/v1/models/{cand['id']}/promote", json={"by": "alice", "reason": "better"})
    assert r.status_code == 200 and r.json()["promoted_by"] == "key:test-admin"
    assert client.post(f"/api/v1/models/{cand['id']}/promote", json={}).status_code == 409
    assert post("2026-11-01T10:10:00Z") == cand["id"]
    statuses = {m["id"]: m["status"] for m in client.get("/api/v1/models").json()}
    assert statuses[prod["id"]] == "archived" and statuses[cand["id"]] == "production"
    with session_factory() as s:
        back = registry.rollback(session=s, by="test")
        s.commit()
    assert back.id == prod["id"]
    assert post("2026-11-01T10:20:00Z") == prod["id"]
    # Every stored prediction keeps the version that made it.
    hist = client.get("/api/v1/turbines/WT-R/predictions").json()["items"]
    assert [p["model_version"]["id"] for p in hist] == [prod["id"], cand["id"], prod["id"]]


def _broken_candidate(session_factory, settings, tmp_path) -> int:
    """A registered candidate whose stored weights were damaged after registration."""
    import torch

    from models.checkpoint import build_model, save_checkpoint
    from pipelines.features.spec import SPECTRUM_SPEC

    torch.manual_seed(20_261_201)
    model = build_model("cnn1d", {"n_classes": 4, "n_bins": SPECTRUM_SPEC.n_bins})
    meta = {"classes": ["normal", "inner_race", "outer_race", "ball"],
            "input_spec": SPECTRUM_SPEC.to_dict()}
    save_checkpoint(model, meta, tmp_path / "damaged-cnn1d")
    with session_factory() as s:
        v = registry.register_checkpoint(session=s, settings=settings,
                                         json_path=tmp_path / "damaged-cnn1d.json")
        s.commit()
        artifact = settings.data_root / v.artifact_path
        version_id = v.id
    artifact.with_suffix(".safetensors").write_bytes(b"not a checkpoint")
    return version_id


def test_a_damaged_artifact_is_a_503_in_the_api_and_a_message_on_the_page(
        client, session_factory, settings, tmp_path):
    from fastapi.testclient import TestClient

    prod = next(m for m in client.get("/api/v1/models").json() if m["status"] == "production")
    broken = _broken_candidate(session_factory, settings, tmp_path)
    r = client.post(f"/api/v1/models/{broken}/promote", json={"by": "t", "reason": "x"})
    assert r.status_code == 503 and "cannot be loaded" in r.json()["detail"]
    pages = TestClient(client.app, follow_redirects=False, headers=client.headers)
    r = pages.post(f"/models/{broken}/promote", data={"by": "t"})
    assert r.status_code == 303 and "cannot+be+loaded" in r.headers["location"]
    now = next(m for m in client.get("/api/v1/models").json() if m["status"] == "production")
    assert now["id"] == prod["id"]  # nothing switched
