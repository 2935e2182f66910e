"""People through HTTP: registration, lookup, corrections, verification, merges and their refusals."""

from __future__ import annotations

import uuid


def test_register_read_and_find_a_person(api):
    """A registration answers 201 with a Location; the person reads back and is found by id number."""
    r = api.client.post("/v1/people", json={
        "id_type": "cccd", "id_number": "0010 9000 0001", "full_name": "  Trần   Thị Bình ",
        "date_of_birth": "1985-02-14", "sex": "female",
        "address": {"province_code": "01", "district_code": "001", "ward_code": "00001"},
    })
    assert r.status_code == 201, r.text
    person_id = r.json()["ids"]["person_id"]
    assert r.headers["location"] == f"/v1/people/{person_id}"
    person = api.get(r.headers["location"])
    assert person["full_name"] == "Trần Thị Bình" and person["id_number"] == "001090000001"
    assert person["date_of_birth"] == "1985-02-14" and person["sex"] == "female"
    assert person["address"] == {"line": None, "province_code": "01", "district_code": "001", "ward_code": "00001"}
    assert person["merged_into"] is None and person["doses"] == [] and person["version"] == 1
    assert api.get("/v1/people", id_type="cccd", id_number="001090000001") == {"person_id": person_id}


def test_lookup_refusals(api):
    """Looking up an unknown number is 404; a malformed one, or type `none`, is 422."""
    assert api.get("/v1/people", expect=404, id_type="cccd", id_number="001090000009")["kind"] == "person with id number"
    assert api.get("/v1/people", expect=422, id_type="cccd", id_number="12")["field"] == "id_number"
    assert api.get("/v1/people", expect=422, id_type="none", id_number="1")["field"] == "id_number"
    assert api.get("/v1/people", expect=422, id_type="visa", id_number="1")["field"] == "id_type"
    assert api.get("/v1/people", expect=422, id_type="cccd")["field"] == "id_number"


def test_one_person_per_id_number(api):
    """A second registration with the same document number is 409 `one_person_per_id_number`."""
    first = api.register_person("001090000001")
    doc = api.refused("/v1/people", {
        "id_type": "cccd", "id_number": "001090000001", "full_name": "Someone Else", "date_of_birth": "1970-01-01",
        "sex": "male", "address": {"province_code": "01"},
    }, status=409, rule="one_person_per_id_number")
    assert doc["person_id"] == first


def test_non_ascii_digits_cannot_dodge_one_person_per_id_number(api):
    """A number written in fullwidth or other non-ASCII digits is 422, not a second person with the same number."""
    api.register_person("001090000001")
    body = {"id_type": "cccd", "full_name": "A", "date_of_birth": "1990-01-01", "sex": "male",
            "address": {"province_code": "01"}}
    api.refused("/v1/people", {**body, "id_number": "００１０９００００００１"}, status=422, field="id_number")
    api.refused("/v1/people", {**body, "id_number": "٠٠١٠٩٠٠٠٠٠٠١"}, status=422, field="id_number")
    api.refused("/v1/people", {**body, "id_number": "001090000002",
                               "address": {"province_code": "٠١"}}, status=422, field="address.province_code")


def test_people_without_id_numbers_are_separate_records(api):
    """Two people registered without an id number get two different ids."""
    assert api.register_person(None) != api.register_person(None)


def test_registration_shape_errors(api):
    """Malformed registrations are 422 naming the field, down to nested address fields."""
    body = {"id_type": "cccd", "id_number": "001090000001", "full_name": "A", "date_of_birth": "1990-01-01",
            "sex": "male", "address": {"province_code": "01"}}
    api.refused("/v1/people", {**body, "id_number": "12ab"}, status=422, field="id_number")
    api.refused("/v1/people", {**body, "sex": "x"}, status=422, field="sex")
    api.refused("/v1/people", {**body, "date_of_birth": "1890-01-01"}, status=422, field="date_of_birth")
    api.refused("/v1/people", {**body, "address": {"province_code": "1"}}, status=422, field="address.province_code")
    api.refused("/v1/people", {**body, "phone": "call me"}, status=422, field="phone")
    api.refused("/v1/people", {k: v for k, v in body.items() if k != "full_name"}, status=422, field="full_name")
    api.refused("/v1/people", {**body, "nickname": "Bo"}, status=422, field="nickname")
    api.refused("/v1/people", {**body, "full_name": "A\u0000B"}, status=422, field="full_name")


def test_corrections(api):
    """A correction changes only its reason's fields; an identity change moves the lookup to the new number."""
    person_id = api.register_person("001090000001")
    fixed = api.post(f"/v1/people/{person_id}/corrections",
                     {"reason": "wrong_name", "changes": {"full_name": "Nguyễn Văn Ân"}}, expect=200)
    assert fixed["ids"] == {"person_id": person_id}
    assert api.get(f"/v1/people/{person_id}")["full_name"] == "Nguyễn Văn Ân"
    api.refused(f"/v1/people/{person_id}/corrections", {"reason": "wrong_name", "changes": {"sex": "female"}},
                status=422, field="changes.sex")
    api.refused(f"/v1/people/{person_id}/corrections",
                {"reason": "wrong_name", "changes": {"full_name": "Nguyễn Văn Ân"}},
                status=409, rule="correction_changes_nothing")
    api.refused(f"/v1/people/{person_id}/corrections", {"reason": "wrong_name", "changes": {}}, status=422,
                field="changes")
    api.post(f"/v1/people/{person_id}/corrections",
             {"reason": "invalid_id_format", "changes": {"id_number": "001090000002"}}, expect=200)
    assert api.get("/v1/people", id_type="cccd", id_number="001090000002") == {"person_id": person_id}
    api.get("/v1/people", expect=404, id_type="cccd", id_number="001090000001")
    api.post(f"/v1/people/{person_id}/corrections",
             {"reason": "contact_update", "changes": {"phone": None, "address": {"province_code": "79"}}}, expect=200)
    person = api.get(f"/v1/people/{person_id}")
    assert person["phone"] is None and person["address"]["province_code"] == "79"


def test_correcting_to_a_number_someone_holds_is_409(api):
    """Correcting an id number to one another person holds is `one_person_per_id_number`."""
    api.register_person("001090000001")
    other = api.register_person("001090000002")
    api.refused(f"/v1/people/{other}/corrections",
                {"reason": "invalid_id_format", "changes": {"id_number": "001090000001"}},
                status=409, rule="one_person_per_id_number")


def test_verifications(api):
    """A register check answers 200 and shows on the person; only a mismatch names fields."""
    person_id = api.register_person()
    api.post(f"/v1/people/{person_id}/verifications", {"result": "mismatch", "register_ref": "NPR-1",
                                                       "mismatched_fields": ["date_of_birth"]}, expect=200)
    assert api.get(f"/v1/people/{person_id}")["verification"] == "mismatch"
    api.refused(f"/v1/people/{person_id}/verifications", {"result": "match", "mismatched_fields": ["sex"]},
                status=422, field="mismatched_fields")
    api.refused(f"/v1/people/{person_id}/verifications", {"result": "maybe"}, status=422, field="result")


def test_merge_and_its_reversal(api, seeded):
    """A merge moves the duplicate's doses to the survivor, blocks the duplicate, and can be reverted."""
    duplicate = api.register_person(None, full_name="Nguyen Van An")
    api.screen(duplicate, seeded.point_id)
    api.dose(duplicate, seeded.lot_id, seeded.point_id)
    merged = api.post(f"/v1/people/{duplicate}/merge", {"into_person_id": seeded.person_id,
                                                        "reason": "same person, two records"}, expect=200)
    assert merged["ids"] == {"person_id": duplicate, "into_person_id": seeded.person_id}
    assert api.get(f"/v1/people/{duplicate}")["merged_into"] == seeded.person_id
    survivor = api.get(f"/v1/people/{seeded.person_id}")
    assert [d["origin_person_id"] for d in survivor["doses"]] == [duplicate]
    api.refused(f"/v1/people/{duplicate}/screenings", {"facility_id": seeded.point_id}, status=409,
                rule="person_merged")
    api.refused(f"/v1/people/{duplicate}/corrections", {"reason": "wrong_name", "changes": {"full_name": "X"}},
                status=409, rule="person_merged")
    reverted = api.post(f"/v1/people/{duplicate}/merge-reversal", expect=200)
    assert reverted["position"] > merged["position"]
    assert api.get(f"/v1/people/{duplicate}")["merged_into"] is None
    assert api.get(f"/v1/people/{seeded.person_id}")["doses"] == []
    api.refused(f"/v1/people/{duplicate}/merge-reversal", status=409, rule="not_merged")


def test_merge_refusals(api):
    """Merging into oneself is 409, into an unknown record is 422, and an unknown duplicate is 404."""
    person_id = api.register_person()
    api.refused(f"/v1/people/{person_id}/merge", {"into_person_id": person_id, "reason": "x"}, status=409,
                rule="merge_into_self")
    api.refused(f"/v1/people/{person_id}/merge", {"into_person_id": str(uuid.uuid4()), "reason": "x"}, status=422,
                field="into_person_id")
    api.refused(f"/v1/people/{uuid.uuid4()}/merge", {"into_person_id": person_id, "reason": "x"}, status=404)
    api.refused(f"/v1/people/{person_id}/merge", {"into_person_id": person_id}, status=422, field="reason")


def test_unknown_person_is_404(api):
    """Reads and commands on an unknown person id are 404."""
    missing = uuid.uuid4()
    assert api.get(f"/v1/people/{missing}", expect=404)["kind"] == "person"
    api.refused(f"/v1/people/{missing}/corrections", {"reason": "wrong_name", "changes": {"full_name": "X"}},
                status=404)
    api.refused(f"/v1/people/{missing}/verifications", {"result": "match"}, status=404)
    api.refused(f"/v1/people/{missing}/merge-reversal", status=404)
