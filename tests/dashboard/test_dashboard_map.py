"""The district tile map on the dashboards: every district one tile with its figures."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

from sqlalchemy import select, update

from analytics.charts import tile_grid
from storage.db import transaction
from storage.models import Complaint, District, utcnow
from tests.dashboard.conftest import csrf, file_complaint, login

SVG = "{http://www.w3.org/2000/svg}"


def _map(page: str) -> ET.Element:
    found = re.search(r'<svg[^>]*class="chart map".*?</svg>', page, re.S)
    assert found, "no district map on the page"
    return ET.fromstring(found.group(0))


def _tiles(svg: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-district"): g for g in svg.iter(SVG + "g") if g.get("class") == "tile"}


def _make_overdue(rt, number: str) -> None:
    with transaction(rt.sessions) as s:
        s.execute(update(Complaint).where(Complaint.tracking_number == number)
                  .values(due_at=utcnow() - timedelta(days=2)))


def test_province_map_has_one_tile_per_district_with_its_counts(rt, app, staff):
    late = file_complaint(rt, district="PSW")
    file_complaint(rt, district="PSW")
    file_complaint(rt, district="MDN")
    _make_overdue(rt, late.number)
    with rt.sessions() as s:
        districts = set(s.scalars(select(District.code)))
    page = login(app, "viewer").get("/dashboard/province").get_data(as_text=True)
    tiles = _tiles(_map(page))
    assert set(tiles) == districts and len(districts) == 39
    assert (tiles["PSW"].get("data-open"), tiles["PSW"].get("data-overdue")) == ("2", "1")
    assert (tiles["MDN"].get("data-open"), tiles["MDN"].get("data-overdue")) == ("1", "0")
    assert all(t.get("data-open") == "0" for code, t in tiles.items() if code not in ("PSW", "MDN"))
    title = tiles["PSW"].find(f".//{SVG}title").text
    assert title.startswith("Peshawar:") and "Open 2" in title and "Overdue 1 (50%)" in title
    link = tiles["PSW"].find(f"{SVG}a")
    assert link is not None and link.get("href") == "/dashboard/?district=PSW"


def test_officer_map_links_only_to_the_queue_of_their_own_district(rt, app, staff):
    file_complaint(rt, district="PSW")
    page = login(app, "officer_psw").get("/dashboard/department").get_data(as_text=True)
    tiles = _tiles(_map(page))
    assert tiles["PSW"].find(f"{SVG}a") is not None
    assert tiles["MDN"].find(f"{SVG}a") is None and tiles["MDN"].get("data-open") == "0"


def test_map_can_show_the_overdue_share_instead(rt, app, staff):
    late = file_complaint(rt, district="PSW")
    file_complaint(rt, district="PSW")
    _make_overdue(rt, late.number)
    page = login(app, "viewer").get("/dashboard/province?map=overdue").get_data(as_text=True)
    svg = _map(page)
    assert svg.get("data-measure") == "overdue"
    value = [t for t in _tiles(svg)["PSW"].iter(SVG + "text") if t.get("class") == "value"]
    assert value[0].text == "50%"
    assert login(app, "viewer").get("/dashboard/province?map=bogus").status_code == 200


def test_map_names_the_districts_in_urdu_when_the_interface_is_urdu(rt, app, staff):
    client = login(app, "viewer")
    client.post("/dashboard/language", data={"lang": "ur", "next": "/dashboard/province",
                                             "csrf_token": csrf(client)})
    svg = _map(client.get("/dashboard/province").get_data(as_text=True))
    texts = "".join(t.text or "" for t in _tiles(svg)["PSW"].iter(SVG + "text"))
    assert "پشاور" in texts


def test_tile_grid_keeps_north_up_and_gives_every_district_its_own_cell(rt):
    with rt.sessions() as s:
        points = {d.code: (d.lat, d.lon) for d in s.scalars(select(District))}
    grid = tile_grid(points)
    assert len(set(grid.values())) == len(points)
    assert grid["UCH"][1] < grid["SWT"][1] < grid["PSW"][1] < grid["KHT"][1] < grid["DIK"][1]
    assert grid["KHY"][0] < grid["PSW"][0] < grid["NSR"][0] < grid["ABT"][0]
    assert tile_grid(points) == grid
