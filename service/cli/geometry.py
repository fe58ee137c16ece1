"""``windwatch geometry ...``: the bearing and gears of the shaft each sensor watches."""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli.session import echo_json, exit_on_domain_error, open_session

geometry_app = typer.Typer(help="Bearing and gear geometry per turbine sensor.",
                           no_args_is_help=True)


@geometry_app.command("set")
def geometry_set(
    turbine: str, sensor: str,
    bearing: Annotated[str | None, typer.Option(help="Catalogue designation, e.g. 'SKF 6309'")]
    = None,
    n_elements: Annotated[int | None, typer.Option(help="Custom: rolling elements")] = None,
    element_diameter_mm: Annotated[float | None, typer.Option(help="Custom: element diameter")]
    = None,
    pitch_diameter_mm: Annotated[float | None, typer.Option(help="Custom: pitch diameter")] = None,
    contact_angle_deg: Annotated[float | None, typer.Option(help="Custom: contact angle")] = None,
    gear: Annotated[list[str] | None, typer.Option(help="name:teeth[:speed_ratio], repeatable")]
    = None,
    shaft_speed_ratio: Annotated[float, typer.Option(help="Watched shaft / batch rpm")] = 1.0,
    rpm_range: Annotated[str | None, typer.Option(help="MIN:MAX rpm for speed estimation")]
    = None,
    notes: Annotated[str | None, typer.Option()] = None,
    by: Annotated[str | None, typer.Option(help="Who configured it")] = None,
) -> None:
    """Configure the bearing (catalogue or custom) and gears of the shaft a sensor watches."""
    from service.components.schemas import GeometryIn
    from service.components.service import put_geometry

    with exit_on_domain_error():
        gears = []
        for g in gear or []:
            name, teeth, *ratio = g.split(":")
            gears.append({"name": name, "teeth": int(teeth),
                          "speed_ratio": float(ratio[0]) if ratio else 1.0})
        lo, hi = (float(v) for v in rpm_range.split(":")) if rpm_range else (None, None)
        body = GeometryIn(bearing=bearing, n_elements=n_elements,
                          element_diameter_mm=element_diameter_mm,
                          pitch_diameter_mm=pitch_diameter_mm, contact_angle_deg=contact_angle_deg,
                          gears=gears, shaft_speed_ratio=shaft_speed_ratio, rpm_min=lo, rpm_max=hi,
                          notes=notes, by=by)
        with open_session() as session:
            out, _ = put_geometry(session=session, turbine_name=turbine, sensor_name=sensor,
                                  body=body)
            session.commit()
    echo_json(out)


@geometry_app.command("show")
def geometry_show(turbine: str, sensor: str) -> None:
    """The sensor's geometry, or the assumed default (``assumed: true``)."""
    from service.components.service import get_geometry

    with exit_on_domain_error(), open_session() as session:
        out = get_geometry(session=session, turbine_name=turbine, sensor_name=sensor)
    echo_json(out)


@geometry_app.command("catalogue")
def geometry_catalogue() -> None:
    """The bearing catalogue with defect orders (multiples of shaft speed)."""
    from pipelines.dsp.kinematics import BEARINGS

    for b in BEARINGS.values():
        orders = ", ".join(f"{k} {v:.4f}" for k, v in b.geometry.defect_orders().items())
        typer.echo(f"{b.designation:14s} {b.kind:18s} {orders}"
                   + ("  (approximate)" if b.approximate else ""))
