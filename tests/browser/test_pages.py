"""Each dashboard page in a real browser: no console errors, the right turbines, alarms and
charts; an alarm acknowledged and closed with feedback through the page labels its batches."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.conftest import screenshot
from tests.browser.seed import ZONE_TURBINE

pytestmark = pytest.mark.browser
CHARTS_DONE = ("() => [...document.querySelectorAll('.chart')]"
               ".every(e => e.dataset.ready || e.dataset.error)")


def alarms_api(base_url, **params) -> list[dict]:
    return httpx.get(f"{base_url}/api/v1/alarms", params=params, headers=base_url.headers,
                     timeout=10).json()["items"]


def test_fleet_page_lists_every_turbine_with_health_and_alarms(page, base_url, seeded):
    page.goto(base_url + "/")
    rows = page.locator("#fleet tbody tr[data-turbine]")
    names = set(rows.evaluate_all("rs => rs.map(r => r.dataset.turbine)"))
    assert {*seeded.fleet, *seeded.cwru, ZONE_TURBINE} <= names
    zone = page.locator(f'tr[data-turbine="{ZONE_TURBINE}"]')
    assert zone.locator(".badge").first.inner_text() == "alarm"  # text, not colour alone
    assert "1 active" in zone.inner_text()
    # worst first: the turbines with major/critical alarms lead the default sort
    assert rows.first.locator(".badge").first.inner_text() == "alarm"
    screenshot(page, "fleet")
    page.fill("input[name=q]", "CWRU" if seeded.cwru else ZONE_TURBINE)
    page.click("form.filters button")
    shown = set(rows.evaluate_all("rs => rs.map(r => r.dataset.turbine)"))
    assert shown == (set(seeded.cwru) or {ZONE_TURBINE})
    page.goto(base_url + "/?state=ok&sort=name&order=asc")
    ok = rows.evaluate_all("rs => rs.map(r => r.dataset.turbine)")
    assert ZONE_TURBINE not in ok and ok == sorted(ok)
    page.set_viewport_size({"width": 820, "height": 1180})  # a tablet in portrait
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.errors == []


def test_turbine_page_draws_every_chart(page, base_url, seeded):
    name = next(iter(seeded.cwru), ZONE_TURBINE)
    page.goto(f"{base_url}/turbines/{name}")
    page.wait_for_function(CHARTS_DONE, timeout=30_000)
    charts = page.locator(".chart")
    kinds = charts.evaluate_all("cs => cs.map(c => [c.dataset.kind, c.dataset.error || ''])")
    assert {k for k, _ in kinds} == {"prob", "rms", "anomaly", "sgram", "spec", "env"}
    assert [e for _, e in kinds if e] == []
    assert charts.evaluate_all("cs => cs.every(c => c.querySelector('canvas'))")  # all drawn
    assert "Active alarms" in page.inner_text("body")
    assert page.locator("table tbody tr").count() >= 3  # the batch list
    screenshot(page, "turbine")
    page.set_viewport_size({"width": 820, "height": 1180})  # tablet: one chart per row
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.click(".spans >> text=all")  # the time-range picker
    page.wait_for_function(CHARTS_DONE, timeout=30_000)
    assert "span=all" in page.url
    assert page.errors == []


def test_alarm_acknowledged_and_closed_with_feedback_labels_batches(page, base_url, seeded):
    if seeded.cwru:
        turbine, fault = "CWRU-IR", "inner_race"
    else:
        turbine, fault = seeded.fleet[0], None
    alarm = next(a for a in alarms_api(base_url, turbine=turbine, kind="fault")
                 if fault is None or a["code"] == fault)
    fault = fault or alarm["code"]
    page.goto(base_url + "/alarms")
    card = page.locator(f"#alarm-{alarm['id']}")
    assert card.get_attribute("data-state") == "open"
    assert page.locator(f'article[data-alarm] >> text="{ZONE_TURBINE}"').count() == 1
    card.locator("form.ack input[name=comment]").fill("looking at the envelope spectrum")
    card.locator("form.ack button").click()
    page.wait_for_load_state()
    # The logged-in person is recorded, not a name typed into the form.
    assert "acknowledged by user:analyst" in page.locator(".flash").inner_text()
    assert card.get_attribute("data-state") == "acknowledged"
    screenshot(page, "alarms")
    card.locator("form.close select[name=outcome]").select_option("confirmed")
    card.locator("form.close select[name=fault_type]").select_option(fault)
    card.locator("form.close input[name=comment]").fill("spalling found on inspection")
    card.locator("form.close button").click()
    page.wait_for_load_state()
    assert f"closed (confirmed {fault})" in page.locator(".flash").inner_text()
    assert page.locator(f"#alarm-{alarm['id']}").count() == 0  # gone from the active queue
    detail = httpx.get(f"{base_url}/api/v1/alarms/{alarm['id']}", headers=base_url.headers,
                       timeout=10).json()
    assert detail["state"] == "closed" and detail["fault_type"] == fault
    assert detail["closed_by"] == "user:analyst"
    assert [e["action"] for e in detail["events"]][-2:] == ["acknowledged", "closed"]
    for batch_id in detail["batch_ids"]:
        batch = httpx.get(f"{base_url}/api/v1/batches/{batch_id}", headers=base_url.headers,
                          timeout=10).json()
        assert batch["label"] == fault
    # A second close through the page shows the service's error instead of failing silently.
    page.goto(f"{base_url}/alarms?queue=closed")
    page.evaluate(f"""() => {{ const f = document.createElement('form'); f.method = 'post';
        f.action = '/alarms/{alarm['id']}/close';
        const csrf = document.querySelector('input[name=csrf_token]').value;
        for (const [k, v] of [['csrf_token', csrf], ['outcome', 'false_alarm'],
                              ['comment', 'again']]) {{
          const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i); }}
        document.body.appendChild(f); f.submit(); }}""")
    page.wait_for_selector(".flash.bad")
    assert "already closed" in page.locator(".flash.bad").inner_text()
    assert page.errors == []


def test_models_page_shows_figures_and_promotes_and_rolls_back(page, base_url):
    page.goto(base_url + "/models")
    cards = page.locator("article.model")
    assert cards.count() >= 2
    assert page.locator("table.confusion").count() >= 2
    prod = page.locator('article.model[data-status="production"]')
    assert prod.count() == 1
    before = prod.get_attribute("id")
    screenshot(page, "models")
    candidate = page.locator('article.model[data-status="candidate"]').first
    cid = candidate.get_attribute("id")
    candidate.locator("input[name=reason]").fill("better recall on the held-out load")
    candidate.locator("button").click()
    page.wait_for_load_state()
    assert "is now in production" in page.locator(".flash").inner_text()
    assert page.locator(f"#{cid}").get_attribute("data-status") == "production"
    page.locator("form[action='/models/rollback'] button").click()
    page.wait_for_load_state()
    assert "rolled back" in page.locator(".flash").inner_text()
    assert page.locator(f"#{before}").get_attribute("data-status") == "production"
    assert page.errors == []
