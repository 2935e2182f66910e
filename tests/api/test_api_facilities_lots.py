"""Facilities and lots through HTTP: registration, reads, recalls and their refusals."""

from __future__ import annotations

import uuid


def test_register_and_read_a_facility(api):
    """A registered facility answers 201 with its id, a Location, and reads back as registered."""
    r = api.client.post("/v1/facilities", json={"code": "nw-01", "name": " National warehouse ",
                                                "kind": "national_warehouse", "province_code": "01"})
    assert r.status_code == 201, r.text
    body = r.json()
    facility_id = body["ids"]["facility_id"]
    assert body["replayed"] is False and body["position"] >= 1
    assert r.headers["location"] == f"/v1/facilities/{facility_id}"
    got = api.get(r.headers["location"])
    assert got == {
        "facility_id": facility_id, "code": "NW-01", "name": "National warehouse", "kind": "national_warehouse",
        "province_code": "01", "district_code": None, "ward_code": None, "parent_id": None, "version": 1,
    }


def test_facility_positions_increase_and_parent_is_linked(api):
    """A second facility gets a later position and names its parent's id."""
    first = api.post("/v1/facilities", {"code": "NW-01", "name": "N", "kind": "national_warehouse",
                                        "province_code": "01"}, expect=201)
    second = api.post("/v1/facilities", {"code": "PW-01", "name": "P", "kind": "provincial_warehouse",
                                         "province_code": "01", "parent_code": "NW-01"}, expect=201)
    assert second["position"] > first["position"]
    got = api.get(f"/v1/facilities/{second['ids']['facility_id']}")
    assert got["parent_id"] == first["ids"]["facility_id"]


def test_facility_code_taken_is_409(api):
    """Registering a code twice (in any case) is refused with `facility_code_exists` and writes nothing."""
    api.post("/v1/facilities", {"code": "VP-01", "name": "A", "kind": "vaccination_point", "province_code": "01"},
             expect=201)
    api.refused("/v1/facilities", {"code": "vp-01", "name": "B", "kind": "vaccination_point", "province_code": "01"},
                status=409, rule="facility_code_exists")


def test_unknown_parent_is_422_naming_parent_code(api):
    """A parent code nobody registered is a malformed reference (422, field `parent_code`)."""
    api.refused("/v1/facilities", {"code": "VP-01", "name": "A", "kind": "vaccination_point", "province_code": "01",
                                   "parent_code": "NOPE"}, status=422, field="parent_code")


def test_facility_bad_codes_are_422(api):
    """A kind outside the closed set, or a malformed province code, is 422 naming the field."""
    api.refused("/v1/facilities", {"code": "X1", "name": "A", "kind": "hospital", "province_code": "01"},
                status=422, field="kind")
    api.refused("/v1/facilities", {"code": "X1", "name": "A", "kind": "lab", "province_code": "1"},
                status=422, field="province_code")


def test_unknown_facility_is_404(api):
    """Reading a facility id that does not exist is 404 with its kind and key."""
    missing = uuid.uuid4()
    doc = api.get(f"/v1/facilities/{missing}", expect=404)
    assert doc["kind"] == "facility" and doc["key"] == str(missing)
    assert doc["type"].endswith("/not_found")


def test_malformed_id_in_path_is_422(api):
    """A path id that is not a UUID is 422 naming the path parameter."""
    doc = api.get("/v1/facilities/not-a-uuid", expect=422)
    assert doc["field"] == "facility_id"


def test_register_read_and_recall_a_lot(api):
    """A lot registers (201, Location), reads back, and a recall (200) marks it recalled."""
    r = api.client.post("/v1/lots", json={"vaccine": "astrazeneca", "manufacturer": "AstraZeneca",
                                          "lot_number": "abv5811", "expiry": "2099-01-31", "doses_per_vial": 10})
    assert r.status_code == 201, r.text
    lot_id = r.json()["ids"]["lot_id"]
    assert r.headers["location"] == f"/v1/lots/{lot_id}"
    lot = api.get(f"/v1/lots/{lot_id}")
    assert lot == {"lot_id": lot_id, "vaccine": "astrazeneca", "manufacturer": "AstraZeneca", "lot_number": "ABV5811",
                   "expiry": "2099-01-31", "doses_per_vial": 10, "recalled": False, "version": 1}
    recall = api.post(f"/v1/lots/{lot_id}/recall", {"reason": "quality_defect", "note": "MoH notice"}, expect=200)
    assert recall["ids"] == {"lot_id": lot_id} and recall["position"] > r.json()["position"]
    assert api.get(f"/v1/lots/{lot_id}")["recalled"] is True
    api.refused(f"/v1/lots/{lot_id}/recall", {"reason": "other"}, status=409, rule="lot_already_recalled")


def test_lot_registered_twice_is_409(api):
    """The same manufacturer and lot number is one lot: a second registration is `lot_exists`."""
    body = {"vaccine": "pfizer", "manufacturer": "Pfizer", "lot_number": "FK1", "expiry": "2099-01-01",
            "doses_per_vial": 6}
    api.post("/v1/lots", body, expect=201)
    api.refused("/v1/lots", {**body, "lot_number": " fk1 "}, status=409, rule="lot_exists")


def test_lot_shape_errors_are_422(api):
    """Unknown vaccine, doses per vial out of range, and a bad date are each 422 naming the field."""
    body = {"vaccine": "pfizer", "manufacturer": "Pfizer", "lot_number": "FK1", "expiry": "2099-01-01",
            "doses_per_vial": 6}
    api.refused("/v1/lots", {**body, "vaccine": "sputnik_light"}, status=422, field="vaccine")
    api.refused("/v1/lots", {**body, "doses_per_vial": 21}, status=422, field="doses_per_vial")
    api.refused("/v1/lots", {**body, "doses_per_vial": "6"}, status=422, field="doses_per_vial")
    api.refused("/v1/lots", {**body, "expiry": "31/01/2099"}, status=422, field="expiry")


def test_unknown_lot_is_404_for_reads_and_recalls(api):
    """An unknown lot id is 404 for a read and for a recall, and the recall writes nothing."""
    missing = uuid.uuid4()
    assert api.get(f"/v1/lots/{missing}", expect=404)["kind"] == "lot"
    api.refused(f"/v1/lots/{missing}/recall", {"reason": "other"}, status=404)
    api.refused(f"/v1/lots/{missing}/recall", {"reason": "because"}, status=422, field="reason")
