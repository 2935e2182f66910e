"""The vaccination flow through HTTP: registration to AEFI, the history projection, and every refusal rule."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta


def _now(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def test_registration_and_approval(api, seeded):
    """Registration then approval answer 200 with later positions; repeating or skipping a step is refused."""
    other = api.register_person("001090000002")
    api.refused(f"/v1/people/{other}/vaccination-approval", {"province_code": "01", "district_code": "001"},
                status=409, rule="vaccination_not_registered")
    registered = api.post(f"/v1/people/{other}/vaccination-registration",
                          {"priority_group": "health_worker", "preferred_facility_id": seeded.point_id}, expect=200)
    api.refused(f"/v1/people/{other}/vaccination-registration", {}, status=409,
                rule="already_registered_for_vaccination")
    api.refused(f"/v1/people/{other}/vaccination-approval", {"province_code": "79", "district_code": "760"},
                status=409, rule="approval_outside_province")
    api.refused(f"/v1/people/{other}/vaccination-approval", {"province_code": "01", "district_code": "1"},
                status=422, field="district_code")
    approved = api.post(f"/v1/people/{other}/vaccination-approval", {
        "province_code": "01", "district_code": "001", "occurred_at": _now(minutes=-1),
    }, expect=200)
    assert approved["position"] > registered["position"]
    person = api.get(f"/v1/people/{other}")
    assert person["vaccination_status"] == "approved" and person["allocated_district"] == "001"


def test_screening_answers_its_outcome(api, seeded):
    """A screening answers 201 with its id and derived outcome; a laxer outcome than derived is refused."""
    r = api.client.post(f"/v1/people/{seeded.person_id}/screenings", json={
        "facility_id": seeded.point_id, "vitals": {"temperature_c": 38.2}, "answers": {},
    })
    assert r.status_code == 201, r.text
    assert r.json()["ids"]["outcome"] == "caution"
    assert r.headers["location"] == f"/v1/people/{seeded.person_id}"
    api.refused(f"/v1/people/{seeded.person_id}/screenings", {
        "facility_id": seeded.point_id, "answers": {"acute_illness": True}, "outcome": "eligible",
    }, status=409, rule="screening_outcome_too_lax")
    api.refused(f"/v1/people/{seeded.person_id}/screenings", {"facility_id": seeded.warehouse_id}, status=409,
                rule="facility_does_not_vaccinate")
    api.refused(f"/v1/people/{seeded.person_id}/screenings", {"facility_id": seeded.point_id,
                                                              "observation_minutes": 45},
                status=422, field="observation_minutes")
    api.refused(f"/v1/people/{seeded.person_id}/screenings", {"facility_id": seeded.point_id,
                                                              "vitals": {"temperature_c": "hot"}},
                status=422, field="vitals.temperature_c")
    screenings = api.get(f"/v1/people/{seeded.person_id}")["screenings"]
    assert {s["outcome"] for s in screenings} == {"eligible", "caution"}


def test_dose_then_history_reads_it(api, seeded):
    """After a dose, the history read with `min_position` shows it, and the stock card gave one dose."""
    dose = api.dose(seeded.person_id, seeded.lot_id, seeded.point_id)
    assert dose["position"] > seeded.position
    dose_id = dose["ids"]["dose_id"]
    history = api.get(f"/v1/people/{seeded.person_id}/vaccination-history", min_position=dose["position"])
    assert [d["dose_id"] for d in history["doses"]] == [dose_id]
    assert history["doses"][0]["dose_number"] == 1 and history["doses"][0]["vaccine"] == "pfizer"
    assert history["series"]["status"] == "partial" and history["series"]["next_dose_kind"] == "primary"
    assert api.get(f"/v1/stock/cards/{seeded.lot_id}/{seeded.point_id}")["on_hand"] == seeded.transferred - 1
    [level] = api.get("/v1/stock", min_position=dose["position"], facility_id=seeded.point_id)["items"]
    assert level["administered"] == 1 and level["on_hand"] == seeded.transferred - 1
    person = api.get(f"/v1/people/{seeded.person_id}")
    assert person["doses"][0]["dose_id"] == dose_id
    assert person["screenings"][0]["dose_id"] == dose_id


def test_backlog_dose_keeps_its_business_time(api, seeded):
    """A dose entered late with `occurred_at` is dated at that time in the history."""
    person_id = api.register_person("001090000003")
    api.screen(person_id, seeded.point_id, occurred_at="2021-10-01T08:00:00+07:00")
    dose = api.dose(person_id, seeded.lot_id, seeded.point_id, occurred_at="2021-10-01T08:20:00+07:00")
    history = api.get(f"/v1/people/{person_id}/vaccination-history", min_position=dose["position"])
    assert history["doses"][0]["administered_on"] == "2021-10-01"
    assert history["series"]["next_dose_earliest"] == "2021-10-22"


def test_second_dose_too_early_is_dose_interval(api, seeded):
    """A second Pfizer dose 10 days after the first is 409 `dose_interval`, unless an override gives a reason."""
    person_id = api.register_person("001090000006")
    api.screen(person_id, seeded.point_id, occurred_at=_now(days=-10, minutes=-5))
    api.dose(person_id, seeded.lot_id, seeded.point_id, occurred_at=_now(days=-10))
    api.screen(person_id, seeded.point_id)
    doc = api.refused(f"/v1/people/{person_id}/doses", {"lot_id": seeded.lot_id, "facility_id": seeded.point_id},
                      status=409, rule="dose_interval")
    assert "earliest" in doc
    api.dose(person_id, seeded.lot_id, seeded.point_id,
             interval_override={"reason": "outbreak_response", "note": "directive 12"})


def test_dose_without_screening_is_screening_required(api, seeded):
    """A dose for a person never screened is 409 `screening_required`."""
    person_id = api.register_person("001090000004")
    api.refused(f"/v1/people/{person_id}/doses", {"lot_id": seeded.lot_id, "facility_id": seeded.point_id},
                status=409, rule="screening_required")


def test_dose_after_a_delay_outcome_is_refused(api, seeded):
    """A dose after a screening whose outcome is `delay` is 409 `screening_outcome_forbids_dose`."""
    person_id = api.register_person("001090000005")
    screening = api.screen(person_id, seeded.point_id, answers={"acute_illness": True})
    assert screening["ids"]["outcome"] == "delay"
    doc = api.refused(f"/v1/people/{person_id}/doses", {"lot_id": seeded.lot_id, "facility_id": seeded.point_id},
                      status=409, rule="screening_outcome_forbids_dose")
    assert doc["outcome"] == "delay"


def test_dose_from_an_expired_lot_is_lot_expired(api, seeded):
    """A dose from a lot past its expiry is 409 `lot_expired`."""
    old = api.post("/v1/lots", {"vaccine": "pfizer", "manufacturer": "Pfizer-BioNTech", "lot_number": "OLD1",
                                "expiry": "2021-12-31", "doses_per_vial": 6}, expect=201)["ids"]["lot_id"]
    api.post("/v1/stock/receipts", {"lot_id": old, "facility_id": seeded.point_id, "quantity": 6}, expect=201)
    api.refused(f"/v1/people/{seeded.person_id}/doses", {"lot_id": old, "facility_id": seeded.point_id},
                status=409, rule="lot_expired")


def test_dose_from_a_recalled_lot_is_lot_recalled(api, seeded):
    """After a recall, a dose from the lot is 409 `lot_recalled`."""
    api.post(f"/v1/lots/{seeded.lot_id}/recall", {"reason": "regulatory_order"}, expect=200)
    api.refused(f"/v1/people/{seeded.person_id}/doses", {"lot_id": seeded.lot_id, "facility_id": seeded.point_id},
                status=409, rule="lot_recalled")


def test_dose_from_an_empty_card_is_stock_never_negative(api, seeded):
    """A dose at a point that holds none of the lot is 409 `stock_never_negative`."""
    other = api.post("/v1/lots", {"vaccine": "pfizer", "manufacturer": "Pfizer-BioNTech", "lot_number": "NEW1",
                                  "expiry": "2099-12-31", "doses_per_vial": 6}, expect=201)["ids"]["lot_id"]
    api.refused(f"/v1/people/{seeded.person_id}/doses", {"lot_id": other, "facility_id": seeded.point_id},
                status=409, rule="stock_never_negative")


def test_dose_shape_errors(api, seeded):
    """A future dose, a naive time, a kind outside the set and an unknown screening are refused by field."""
    path = f"/v1/people/{seeded.person_id}/doses"
    body = {"lot_id": seeded.lot_id, "facility_id": seeded.point_id}
    api.refused(path, {**body, "occurred_at": _now(days=1)}, status=422, field="occurred_at")
    api.refused(path, {**body, "occurred_at": "2026-01-01T08:00:00"}, status=422, field="occurred_at")
    api.refused(path, {**body, "kind": "fourth"}, status=422, field="kind")
    api.refused(path, {**body, "interval_override": {"reason": "felt like it"}}, status=422,
                field="interval_override.reason")
    api.refused(path, {**body, "screening_id": str(uuid.uuid4())}, status=422, field="screening_id")


def test_observation_void_and_stock_return(api, seeded):
    """Observation (200) is recorded once; a void (200) returns the dose to stock and shows in the history."""
    dose = api.dose(seeded.person_id, seeded.lot_id, seeded.point_id)
    dose_id = dose["ids"]["dose_id"]
    base = f"/v1/people/{seeded.person_id}/doses/{dose_id}"
    observed = api.post(f"{base}/observation", {"minutes": 30, "reactions": ["sore arm"]}, expect=200)
    assert observed["ids"] == {"person_id": seeded.person_id, "dose_id": dose_id}
    api.refused(f"{base}/observation", {"minutes": 30}, status=409, rule="observation_already_completed")
    voided = api.post(f"{base}/void", {"reason": "entered_in_error", "note": "wrong person"}, expect=200)
    assert voided["position"] > observed["position"]
    api.refused(f"{base}/void", {"reason": "duplicate"}, status=409, rule="dose_already_voided")
    api.refused(f"{base}/void", {"reason": "regret"}, status=422, field="reason")
    assert api.get(f"/v1/stock/cards/{seeded.lot_id}/{seeded.point_id}")["on_hand"] == seeded.transferred
    history = api.get(f"/v1/people/{seeded.person_id}/vaccination-history", min_position=voided["position"])
    assert history["doses"][0]["voided"] is True and history["doses"][0]["observation_minutes"] == 30
    assert history["series"]["status"] == "none"
    api.refused(f"/v1/people/{seeded.person_id}/doses/{uuid.uuid4()}/void", {"reason": "duplicate"}, status=404)


def test_dose_correction(api, seeded):
    """A dose's time is corrected (200); a lot of another vaccine, or no change, is refused."""
    dose = api.dose(seeded.person_id, seeded.lot_id, seeded.point_id)
    base = f"/v1/people/{seeded.person_id}/doses/{dose['ids']['dose_id']}"
    corrected = api.post(f"{base}/correction", {"reason": "wrong_date", "administered_at": _now(minutes=-1)},
                         expect=200)
    assert corrected["position"] > dose["position"]
    moderna = api.post("/v1/lots", {"vaccine": "moderna", "manufacturer": "Moderna", "lot_number": "M1",
                                    "expiry": "2099-06-30", "doses_per_vial": 10}, expect=201)["ids"]["lot_id"]
    api.refused(f"{base}/correction", {"reason": "wrong_lot", "lot_id": moderna}, status=409,
                rule="corrected_lot_is_another_vaccine")
    api.refused(f"{base}/correction", {"reason": "wrong_lot"}, status=409, rule="correction_changes_nothing")
    api.refused(f"{base}/correction", {"reason": "wrong_date", "administered_at": "2026-01-01T00:00:00"},
                status=422, field="administered_at")
    history = api.get(f"/v1/people/{seeded.person_id}/vaccination-history", min_position=corrected["position"])
    assert history["doses"][0]["corrected"] is True


def test_adverse_event_report_and_classification(api, seeded):
    """An AEFI is reported (201) and classified (200); onset before the dose or naive is refused."""
    dose = api.dose(seeded.person_id, seeded.lot_id, seeded.point_id)
    path = f"/v1/people/{seeded.person_id}/adverse-events"
    body = {"dose_id": dose["ids"]["dose_id"], "severity": "serious", "symptoms": ["anaphylaxis"],
            "onset_at": _now(seconds=1)}
    r = api.client.post(path, json=body)
    assert r.status_code == 201, r.text
    aefi_id = r.json()["ids"]["aefi_id"]
    classified = api.post(f"{path}/{aefi_id}/classification", {"causality": "vaccine_product_related"}, expect=200)
    assert classified["ids"] == {"person_id": seeded.person_id, "aefi_id": aefi_id}
    events = api.get(f"/v1/people/{seeded.person_id}")["adverse_events"]
    assert events == [{"aefi_id": aefi_id, "dose_id": dose["ids"]["dose_id"], "severity": "serious",
                       "causality": "vaccine_product_related"}]
    api.refused(path, {**body, "onset_at": _now(days=-1)}, status=409, rule="aefi_before_dose")
    api.refused(path, {**body, "onset_at": "2026-01-01T00:00:00"}, status=422, field="onset_at")
    api.refused(path, {**body, "symptoms": []}, status=422, field="symptoms")
    api.refused(path, {**body, "dose_id": str(uuid.uuid4())}, status=422, field="dose_id")
    api.refused(f"{path}/{uuid.uuid4()}/classification", {"causality": "coincidental"}, status=404)
    api.refused(f"{path}/{aefi_id}/classification", {"causality": "bad luck"}, status=422, field="causality")


def test_history_of_unknown_person_is_404(api):
    """The vaccination history of a person nobody registered is 404."""
    doc = api.get(f"/v1/people/{uuid.uuid4()}/vaccination-history", expect=404)
    assert doc["kind"] == "person"


def test_history_of_a_new_person_after_min_position(api):
    """A person just registered has an empty history once the projection reaches the registration."""
    r = api.post("/v1/people", {"id_type": "none", "full_name": "Lê Văn C", "date_of_birth": "2001-09-02",
                                "sex": "male", "address": {"province_code": "01"}}, expect=201)
    history = api.get(f"/v1/people/{r['ids']['person_id']}/vaccination-history", min_position=r["position"])
    assert history["doses"] == [] and history["series"]["status"] == "none"
