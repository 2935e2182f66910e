"""People: identity, data-quality corrections, merges, and their vaccination record.

A dose is recorded on the person and consumes stock on a card in the same
transaction (see `ledger.application`). The person guards what depends on their own
history: screening before each dose, the series intervals and mixing rules in force on
the dose's day, and no commands on a record merged into another.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from uuid import UUID, uuid4

from ..policies.screening import OUTCOME_SEVERITY, derived_outcome, screening_policy_on
from ..policies.vaccines import DoseFact, check_series, series_policy_on, series_state
from .base import LedgerAggregate, Provenance, Stamped
from .codes import (
    AEFI_CAUSALITY,
    AEFI_SEVERITIES,
    CORRECTION_FIELDS,
    CORRECTION_REASONS,
    DOSE_ALLOWED_OUTCOMES,
    DOSE_CORRECTION_REASONS,
    DOSE_KINDS,
    DOSE_VOID_REASONS,
    INTERVAL_OVERRIDE_REASONS,
    SCREENING_OUTCOMES,
    SEXES,
    require_code,
)
from .errors import Invalid, NotFound, RuleViolation
from .facility import check_area
from .person_testing import PersonTesting
from .person_tracing import PersonTracing

#: Vietnam keeps one offset all year; calendar days of doses are counted in it.
LOCAL_TZ = timezone(timedelta(hours=7), "ICT")
_PHONE = re.compile(r"^\+?[0-9]{9,15}$")
_FUTURE_SKEW = timedelta(minutes=5)


def local_day(moment: datetime) -> date:
    return moment.astimezone(LOCAL_TZ).date()


def check_details(details: dict, *, now: datetime) -> dict:
    """Validate and normalise the personal details a registration or correction carries."""
    out: dict = {}
    if "full_name" in details:
        name = details["full_name"]
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 200:
            raise Invalid("full_name", "full_name is required (at most 200 characters)")
        out["full_name"] = " ".join(name.split())
    if "date_of_birth" in details:
        dob = details["date_of_birth"]
        if not isinstance(dob, date) or isinstance(dob, datetime):
            raise Invalid("date_of_birth", "date_of_birth must be a date")
        if not date(1900, 1, 1) <= dob <= local_day(now):
            raise Invalid("date_of_birth", "date_of_birth must be between 1900-01-01 and today")
        out["date_of_birth"] = dob
    if "sex" in details:
        out["sex"] = require_code("sex", details["sex"], SEXES)
    if "phone" in details:
        phone = details["phone"]
        if phone is not None and (not isinstance(phone, str) or not _PHONE.match(phone)):
            raise Invalid("phone", "phone must be 9-15 digits, optionally with a leading '+'")
        out["phone"] = phone
    if "address" in details:
        address = details["address"]
        if not isinstance(address, dict):
            raise Invalid("address", "address must be an object with province_code, district_code, ward_code")
        check_area(address.get("province_code"), address.get("district_code"), address.get("ward_code"))
        line = address.get("line")
        if line is not None and (not isinstance(line, str) or len(line) > 300):
            raise Invalid("address.line", "address line must be at most 300 characters")
        out["address"] = {
            "line": line,
            "province_code": address["province_code"],
            "district_code": address.get("district_code"),
            "ward_code": address.get("ward_code"),
        }
    return out


def _plain(values: dict) -> dict:
    """Values nested in an event as they are stored (dates as ISO strings), so live and replayed events agree."""
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}


class Person(PersonTesting, PersonTracing, LedgerAggregate):
    """A person known to the ledger, with their identity and vaccination record, and (from the
    mixins) their testing and tracing record."""

    TOPIC = "ledger.person.Person"

    def __getattr__(self, name: str) -> object:
        """State the mixins added later, created on first use: a person recorded, or snapshotted,
        before it existed has none of it in their `__dict__`."""
        factory = _LATE_STATE.get(name)
        if factory is None:
            raise AttributeError(name)
        value = self.__dict__[name] = factory()
        return value

    # -- identity ---------------------------------------------------------------------

    class Registered(LedgerAggregate.Created, Stamped):
        """A person was registered with their identity document and details."""

        TOPIC = "ledger.person.Registered"
        id_type: str
        id_number: str | None
        full_name: str
        date_of_birth: date
        sex: str
        phone: str | None
        address: dict

    class DetailsCorrected(Stamped):
        """Details were corrected for a data-quality reason; `previous` keeps what they were."""

        TOPIC = "ledger.person.DetailsCorrected"
        changes: dict
        previous: dict
        reason: str

        def apply(self, person: Person) -> None:
            for name, value in self.changes.items():
                if name == "date_of_birth" and isinstance(value, str):
                    value = date.fromisoformat(value)
                setattr(person, name, value)

    class IdentityVerified(Stamped):
        """The identity was checked against the population register."""

        TOPIC = "ledger.person.IdentityVerified"
        result: str
        register_ref: str | None
        mismatched_fields: list

        def apply(self, person: Person) -> None:
            person.verification = self.result

    class MergedInto(Stamped):
        """This record was found to duplicate another and was merged into it."""

        TOPIC = "ledger.person.MergedInto"
        into_person_id: UUID
        reason: str

        def apply(self, person: Person) -> None:
            person.merged_into = self.into_person_id

    class MergeAbsorbed(Stamped):
        """A duplicate record was merged into this one, bringing its valid doses."""

        TOPIC = "ledger.person.MergeAbsorbed"
        duplicate_id: UUID
        doses: list

        def apply(self, person: Person) -> None:
            for dose in self.doses:
                person.doses[dose["dose_id"]] = dict(dose, origin_person_id=str(self.duplicate_id))

    class MergeReverted(Stamped):
        """A merge was found wrong and undone; `other_person_id` is the other record of the pair."""

        TOPIC = "ledger.person.MergeReverted"
        other_person_id: UUID

        def apply(self, person: Person) -> None:
            if person.merged_into == self.other_person_id:
                person.merged_into = None
            else:
                origin = str(self.other_person_id)
                person.doses = {k: d for k, d in person.doses.items() if d.get("origin_person_id") != origin}

    # -- vaccination --------------------------------------------------------------------

    class VaccinationRegistered(Stamped):
        """The person registered for vaccination (step 1 of the 5-step flow)."""

        TOPIC = "ledger.person.VaccinationRegistered"
        priority_group: str | None
        preferred_facility_id: UUID | None

        def apply(self, person: Person) -> None:
            person.vaccination_status = "registered"

    class VaccinationApproved(Stamped):
        """The provincial health department approved the person and allocated them to a district."""

        TOPIC = "ledger.person.VaccinationApproved"
        province_code: str
        district_code: str
        district_facility_id: UUID | None

        def apply(self, person: Person) -> None:
            person.vaccination_status = "approved"
            person.allocated_district = self.district_code

    class Screened(Stamped):
        """Pre-vaccination screening: vitals, answers and the outcome (2995/3802)."""

        TOPIC = "ledger.person.Screened"
        screening_id: UUID
        facility_id: UUID
        screened_at: datetime
        vitals: dict
        answers: dict
        outcome: str
        derived_outcome: str
        triggers: list
        observation_minutes: int
        policy_id: str

        def apply(self, person: Person) -> None:
            person.screenings[str(self.screening_id)] = {
                "outcome": self.outcome,
                "screened_at": self.screened_at,
                "facility_id": str(self.facility_id),
                "observation_minutes": self.observation_minutes,
                "dose_id": None,
            }

    class DoseAdministered(Stamped):
        """A dose was given at a vaccination point from a named lot."""

        TOPIC = "ledger.person.DoseAdministered"
        dose_id: UUID
        screening_id: UUID
        vaccine: str
        lot_id: UUID
        lot_number: str
        facility_id: UUID
        administered_at: datetime
        kind: str
        dose_number: int
        interval_override: dict | None
        policy_id: str

        def apply(self, person: Person) -> None:
            person.screenings[str(self.screening_id)]["dose_id"] = str(self.dose_id)
            person.doses[str(self.dose_id)] = {
                "dose_id": str(self.dose_id),
                "vaccine": self.vaccine,
                "lot_id": str(self.lot_id),
                "lot_number": self.lot_number,
                "facility_id": str(self.facility_id),
                "administered_at": self.administered_at.isoformat(),
                "kind": self.kind,
                "interval_override": self.interval_override is not None,
                "voided": False,
                "changed": False,
            }

    class ObservationCompleted(Stamped):
        """On-site observation after a dose ended."""

        TOPIC = "ledger.person.ObservationCompleted"
        dose_id: UUID
        minutes: int
        ordered_minutes: int
        reactions: list

        def apply(self, person: Person) -> None:
            person.doses[str(self.dose_id)]["observed"] = True

    class DoseVoided(Stamped):
        """A dose record was found wrong (entered in error, or a duplicate) and no longer counts."""

        TOPIC = "ledger.person.DoseVoided"
        dose_id: UUID
        reason: str
        note: str | None

        def apply(self, person: Person) -> None:
            dose = person.doses[str(self.dose_id)]
            dose["voided"] = True
            dose["changed"] = True

    class DoseCorrected(Stamped):
        """A dose's date or lot was corrected; `previous` keeps what it was."""

        TOPIC = "ledger.person.DoseCorrected"
        dose_id: UUID
        changes: dict
        previous: dict
        reason: str

        def apply(self, person: Person) -> None:
            dose = person.doses[str(self.dose_id)]
            dose.update(self.changes)
            dose["changed"] = True

    class AdverseEventReported(Stamped):
        """An adverse event following immunization (AEFI) was reported."""

        TOPIC = "ledger.person.AdverseEventReported"
        aefi_id: UUID
        dose_id: UUID
        severity: str
        symptoms: list
        onset_at: datetime
        investigation_due: datetime | None
        council_due: datetime | None

        def apply(self, person: Person) -> None:
            person.aefis[str(self.aefi_id)] = {"dose_id": str(self.dose_id), "severity": self.severity}

    class AdverseEventClassified(Stamped):
        """An expert council classified an AEFI's causality (WHO classes)."""

        TOPIC = "ledger.person.AdverseEventClassified"
        aefi_id: UUID
        causality: str
        note: str | None

        def apply(self, person: Person) -> None:
            person.aefis[str(self.aefi_id)]["causality"] = self.causality

    def __init__(
        self,
        id_type: str,
        id_number: str | None,
        full_name: str,
        date_of_birth: date,
        sex: str,
        phone: str | None,
        address: dict,
    ) -> None:
        self.id_type = id_type
        self.id_number = id_number
        self.full_name = full_name
        self.date_of_birth = date_of_birth
        self.sex = sex
        self.phone = phone
        self.address = address
        self.verification: str | None = None
        self.merged_into: UUID | None = None
        self.vaccination_status: str | None = None
        self.allocated_district: str | None = None
        self.screenings: dict[str, dict] = {}
        self.doses: dict[str, dict] = {}
        self.aefis: dict[str, dict] = {}

    # -- identity commands --------------------------------------------------------------

    @classmethod
    def register(
        cls, *, person_id: UUID, id_type: str, id_number: str | None, details: dict, prov: Provenance, now: datetime
    ) -> Person:
        for required in ("full_name", "date_of_birth", "sex", "address"):
            if required not in details:
                raise Invalid(required, f"{required} is required")
        clean = check_details(details, now=now)
        return cls._create(
            cls.Registered,
            id=person_id,
            id_type=id_type,
            id_number=id_number,
            full_name=clean["full_name"],
            date_of_birth=clean["date_of_birth"],
            sex=clean["sex"],
            phone=clean.get("phone"),
            address=clean["address"],
            **prov.fields(),
        )

    def require_active(self) -> None:
        if self.merged_into is not None:
            raise RuleViolation(
                "person_merged",
                f"this record was merged into {self.merged_into}; use that record",
                merged_into=str(self.merged_into),
            )

    def correct_details(self, *, changes: dict, reason: str, prov: Provenance, now: datetime) -> dict:
        """Correct details; `changes` may include id_type/id_number, already validated by the caller."""
        self.require_active()
        require_code("reason", reason, CORRECTION_REASONS)
        if not isinstance(changes, dict) or not changes:
            raise Invalid("changes", "changes must name at least one field")
        allowed = CORRECTION_FIELDS[reason]
        for name in changes:
            if name not in allowed:
                raise Invalid(f"changes.{name}", f"reason {reason} may change only {sorted(allowed)}")
        clean = check_details({k: v for k, v in changes.items() if k not in ("id_type", "id_number")}, now=now)
        clean.update({k: changes[k] for k in ("id_type", "id_number") if k in changes})
        effective = {k: v for k, v in clean.items() if getattr(self, k) != v}
        if not effective:
            raise RuleViolation("correction_changes_nothing", "the corrected values equal the current ones")
        previous = {k: getattr(self, k) for k in effective}
        self._record(
            self.DetailsCorrected, prov, changes=_plain(effective), previous=_plain(previous), reason=reason
        )
        return effective

    def record_verification(
        self, *, result: str, register_ref: str | None, mismatched_fields: list[str], prov: Provenance
    ) -> None:
        from .codes import VERIFICATION_RESULTS

        self.require_active()
        require_code("result", result, VERIFICATION_RESULTS)
        if not isinstance(mismatched_fields, list) or not all(isinstance(f, str) for f in mismatched_fields):
            raise Invalid("mismatched_fields", "mismatched_fields must be a list of field names")
        if result != "mismatch" and mismatched_fields:
            raise Invalid("mismatched_fields", "only a mismatch names mismatched fields")
        self._record(
            self.IdentityVerified, prov, result=result, register_ref=register_ref, mismatched_fields=mismatched_fields
        )

    def merge_into(self, survivor: Person, *, reason: str, prov: Provenance) -> None:
        """Merge this duplicate record into `survivor`; both are changed and saved together."""
        if survivor.id == self.id:
            raise RuleViolation("merge_into_self", "a record cannot be merged into itself")
        if not isinstance(reason, str) or not reason.strip():
            raise Invalid("reason", "a reason is required to merge records")
        self.require_active()
        survivor.require_active()
        # `changed` is reset: revert_merge looks for changes made on the survivor *since* the merge.
        doses = [
            {**{k: v for k, v in d.items() if k != "origin_person_id"}, "changed": False}
            for d in self.doses.values()
            if not d["voided"]
        ]
        self._record(self.MergedInto, prov, into_person_id=survivor.id, reason=reason.strip())
        survivor._record(survivor.MergeAbsorbed, prov, duplicate_id=self.id, doses=doses)

    def revert_merge(self, survivor: Person, *, prov: Provenance) -> None:
        if self.merged_into != survivor.id:
            raise RuleViolation("not_merged", f"this record is not merged into {survivor.id}")
        # A survivor since merged into a third record passed these doses on: revert that merge first.
        survivor.require_active()
        origin = str(self.id)
        if any(d.get("origin_person_id") == origin and d["changed"] for d in survivor.doses.values()):
            raise RuleViolation(
                "merge_revert_blocked",
                "doses brought in by this merge were voided or corrected since; revert those first",
            )
        self._record(self.MergeReverted, prov, other_person_id=survivor.id)
        survivor._record(survivor.MergeReverted, prov, other_person_id=self.id)

    # -- vaccination commands -------------------------------------------------------------

    def register_for_vaccination(
        self, *, priority_group: str | None, preferred_facility_id: UUID | None, prov: Provenance
    ) -> None:
        self.require_active()
        if self.vaccination_status is not None:
            raise RuleViolation("already_registered_for_vaccination", "the person is already registered")
        if priority_group is not None and (not isinstance(priority_group, str) or len(priority_group) > 64):
            raise Invalid("priority_group", "priority_group must be a short code")
        self._record(
            self.VaccinationRegistered, prov, priority_group=priority_group, preferred_facility_id=preferred_facility_id
        )

    def approve_vaccination(
        self, *, province_code: str, district_code: str, district_facility_id: UUID | None, prov: Provenance
    ) -> None:
        self.require_active()
        check_area(province_code, district_code, None)
        if self.vaccination_status is None:
            raise RuleViolation("vaccination_not_registered", "the person has not registered for vaccination")
        if self.vaccination_status == "approved":
            raise RuleViolation("vaccination_already_approved", "the person is already approved and allocated")
        if self.address.get("province_code") != province_code:
            raise RuleViolation(
                "approval_outside_province", "a province approves only people registered in that province"
            )
        self._record(
            self.VaccinationApproved,
            prov,
            province_code=province_code,
            district_code=district_code,
            district_facility_id=district_facility_id,
        )

    def screen(
        self,
        *,
        facility_id: UUID,
        vitals: dict,
        answers: dict,
        outcome: str | None,
        observation_minutes: int | None,
        prov: Provenance,
        now: datetime,
    ) -> tuple[UUID, str]:
        self.require_active()
        screened_at = prov.when(now)
        if screened_at > now + _FUTURE_SKEW:
            raise Invalid("occurred_at", "a screening cannot be in the future")
        policy = screening_policy_on(local_day(screened_at))
        derived, triggers = derived_outcome(policy, vitals, answers)
        if outcome is None:
            outcome = derived
        require_code("outcome", outcome, SCREENING_OUTCOMES)
        if OUTCOME_SEVERITY[outcome] < OUTCOME_SEVERITY[derived]:
            raise RuleViolation(
                "screening_outcome_too_lax",
                f"the vitals and answers require at least '{derived}' ({', '.join(triggers)})",
                derived_outcome=derived,
                triggers=triggers,
            )
        minutes = observation_minutes if observation_minutes is not None else policy.observation_minutes[0]
        if minutes not in policy.observation_minutes:
            raise Invalid("observation_minutes", f"observation_minutes must be one of {policy.observation_minutes}")
        screening_id = uuid4()
        self._record(
            self.Screened,
            prov,
            screening_id=screening_id,
            facility_id=facility_id,
            screened_at=screened_at,
            vitals=vitals,
            answers=answers,
            outcome=outcome,
            derived_outcome=derived,
            triggers=triggers,
            observation_minutes=minutes,
            policy_id=policy.id,
        )
        return screening_id, outcome

    def dose_facts(self, *, extra: DoseFact | None = None, replace: dict[str, DoseFact] | None = None) -> list[DoseFact]:
        facts = []
        for key, d in self.doses.items():
            if d["voided"]:
                continue
            if replace and key in replace:
                facts.append(replace[key])
                continue
            facts.append(
                DoseFact(
                    key, d["vaccine"], local_day(datetime.fromisoformat(d["administered_at"])), d["kind"],
                    d["interval_override"],
                )
            )
        if extra is not None:
            facts.append(extra)
        return facts

    def _pick_screening(self, screening_id: UUID | None, administered_at: datetime) -> str:
        if screening_id is not None:
            key = str(screening_id)
            if key not in self.screenings:
                raise Invalid("screening_id", f"this person has no screening {screening_id}")
        else:
            unused = [(s["screened_at"], k) for k, s in self.screenings.items() if s["dose_id"] is None]
            unused = [u for u in unused if u[0] <= administered_at]
            if not unused:
                raise RuleViolation("screening_required", "a screening must precede the dose")
            key = max(unused)[1]
        screening = self.screenings[key]
        if screening["dose_id"] is not None:
            raise RuleViolation("screening_already_used", "this screening was already used for a dose")
        if screening["outcome"] not in DOSE_ALLOWED_OUTCOMES:
            raise RuleViolation(
                "screening_outcome_forbids_dose",
                f"the screening outcome '{screening['outcome']}' does not allow a dose",
                outcome=screening["outcome"],
            )
        policy = screening_policy_on(local_day(screening["screened_at"]))
        if not screening["screened_at"] <= administered_at <= screening["screened_at"] + timedelta(
            hours=policy.valid_hours
        ):
            raise RuleViolation(
                "screening_expired",
                f"the dose must follow its screening within {policy.valid_hours} hours",
            )
        return key

    def administer_dose(
        self,
        *,
        vaccine: str,
        lot_id: UUID,
        lot_number: str,
        facility_id: UUID,
        screening_id: UUID | None,
        kind: str | None,
        interval_override: dict | None,
        prov: Provenance,
        now: datetime,
    ) -> UUID:
        """Record a dose, after the rules that depend on this person's history. Returns its id."""
        self.require_active()
        administered_at = prov.when(now)
        if administered_at > now + _FUTURE_SKEW:
            raise Invalid("occurred_at", "a dose cannot be recorded in the future")
        if interval_override is not None:
            if not isinstance(interval_override, dict):
                raise Invalid("interval_override", "interval_override must be an object with a reason")
            require_code("interval_override.reason", interval_override.get("reason"), INTERVAL_OVERRIDE_REASONS)
            interval_override = {"reason": interval_override["reason"], "note": interval_override.get("note")}
        screening_key = self._pick_screening(screening_id, administered_at)
        day = local_day(administered_at)
        current = series_state(self.dose_facts(), day)
        if kind is None:
            kind = "primary" if current.status in ("none", "partial") else "booster"
        require_code("kind", kind, DOSE_KINDS)
        dose_id = uuid4()
        new = DoseFact(str(dose_id), vaccine, day, kind, interval_override is not None)
        facts = self.dose_facts(extra=new)
        # A late-entered dose can break a rule on a neighbour (mixing, one primary dose too many):
        # refuse whatever the new dose introduces, not only violations reported on the dose itself.
        already = {(v.rule, v.dose_id) for v in check_series(self.dose_facts())}
        for violation in check_series(facts):
            if (
                violation.dose_id == str(dose_id)
                or violation.rule == "dose_interval"
                or (violation.rule, violation.dose_id) not in already
            ):
                raise RuleViolation(
                    violation.rule,
                    violation.message,
                    **({"earliest": violation.earliest.isoformat()} if violation.earliest else {}),
                )
        number = sorted(facts, key=lambda f: (f.day, f.dose_id)).index(new) + 1
        self._record(
            self.DoseAdministered,
            prov,
            dose_id=dose_id,
            screening_id=UUID(screening_key),
            vaccine=vaccine,
            lot_id=lot_id,
            lot_number=lot_number,
            facility_id=facility_id,
            administered_at=administered_at,
            kind=kind,
            dose_number=number,
            interval_override=interval_override,
            policy_id=series_policy_on(day).id,
        )
        return dose_id

    def dose(self, dose_id: UUID) -> dict:
        try:
            return self.doses[str(dose_id)]
        except KeyError:
            raise NotFound("dose", dose_id) from None

    def complete_observation(self, *, dose_id: UUID, minutes: int, reactions: list, prov: Provenance) -> None:
        self.require_active()
        dose = self.dose(dose_id)
        if dose["voided"]:
            raise RuleViolation("dose_voided", "the dose was voided")
        if dose.get("observed"):
            raise RuleViolation("observation_already_completed", "observation of this dose is already recorded")
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 0 <= minutes <= 24 * 60:
            raise Invalid("minutes", "minutes must be between 0 and 1440")
        if not isinstance(reactions, list) or not all(isinstance(r, str) for r in reactions):
            raise Invalid("reactions", "reactions must be a list of short descriptions")
        ordered = next(
            (s["observation_minutes"] for s in self.screenings.values() if s["dose_id"] == str(dose_id)), 30
        )
        self._record(
            self.ObservationCompleted, prov, dose_id=dose_id, minutes=minutes, ordered_minutes=ordered,
            reactions=reactions,
        )

    def void_dose(self, *, dose_id: UUID, reason: str, note: str | None, prov: Provenance) -> dict:
        """Void a dose; returns it so the caller can give its stock back."""
        self.require_active()
        require_code("reason", reason, DOSE_VOID_REASONS)
        dose = self.dose(dose_id)
        if dose["voided"]:
            raise RuleViolation("dose_already_voided", "the dose was already voided")
        self._record(self.DoseVoided, prov, dose_id=dose_id, reason=reason, note=note)
        return dose

    def correct_dose(
        self, *, dose_id: UUID, administered_at: datetime | None, lot: tuple[UUID, str] | None, reason: str,
        prov: Provenance, now: datetime,
    ) -> dict:
        """Correct a dose's date and/or lot; returns the dose as it was."""
        self.require_active()
        require_code("reason", reason, DOSE_CORRECTION_REASONS)
        dose = self.dose(dose_id)
        if dose["voided"]:
            raise RuleViolation("dose_voided", "a voided dose cannot be corrected")
        changes: dict = {}
        if administered_at is not None:
            if administered_at.tzinfo is None:
                raise Invalid("administered_at", "administered_at must carry a time zone")
            if administered_at > now + _FUTURE_SKEW:
                raise Invalid("administered_at", "a dose cannot be dated in the future")
            if administered_at.isoformat() != dose["administered_at"]:
                changes["administered_at"] = administered_at.isoformat()
        if lot is not None and str(lot[0]) != dose["lot_id"]:
            changes["lot_id"], changes["lot_number"] = str(lot[0]), lot[1]
        if not changes:
            raise RuleViolation("correction_changes_nothing", "the corrected values equal the current ones")
        if "administered_at" in changes:
            moved = DoseFact(
                str(dose_id), dose["vaccine"], local_day(administered_at), dose["kind"], dose["interval_override"]
            )
            for violation in check_series(self.dose_facts(replace={str(dose_id): moved})):
                raise RuleViolation(violation.rule, violation.message)
        previous = {k: dose[k] for k in changes}
        before = dict(dose)
        self._record(self.DoseCorrected, prov, dose_id=dose_id, changes=changes, previous=previous, reason=reason)
        return before

    def report_adverse_event(
        self, *, dose_id: UUID, severity: str, symptoms: list, onset_at: datetime, prov: Provenance, now: datetime
    ) -> UUID:
        """Report an AEFI. A serious one must be investigated within 24 h and reach the council within 5 days."""
        require_code("severity", severity, AEFI_SEVERITIES)
        if str(dose_id) not in self.doses:
            raise Invalid("dose_id", f"this person has no dose {dose_id}")
        dose = self.doses[str(dose_id)]
        if not isinstance(symptoms, list) or not symptoms or not all(isinstance(s, str) for s in symptoms):
            raise Invalid("symptoms", "symptoms must be a non-empty list of descriptions")
        if onset_at.tzinfo is None:
            raise Invalid("onset_at", "onset_at must carry a time zone")
        if onset_at < datetime.fromisoformat(dose["administered_at"]):
            raise RuleViolation("aefi_before_dose", "an adverse event cannot start before the dose")
        if onset_at > now + _FUTURE_SKEW:
            raise Invalid("onset_at", "onset_at cannot be in the future")
        reported = prov.when(now)
        aefi_id = uuid4()
        serious = severity == "serious"
        self._record(
            self.AdverseEventReported,
            prov,
            aefi_id=aefi_id,
            dose_id=dose_id,
            severity=severity,
            symptoms=symptoms,
            onset_at=onset_at,
            investigation_due=reported + timedelta(hours=24) if serious else None,
            council_due=reported + timedelta(days=5) if serious else None,
        )
        return aefi_id

    def classify_adverse_event(self, *, aefi_id: UUID, causality: str, note: str | None, prov: Provenance) -> None:
        require_code("causality", causality, AEFI_CAUSALITY)
        if str(aefi_id) not in self.aefis:
            raise NotFound("adverse event", aefi_id)
        self._record(self.AdverseEventClassified, prov, aefi_id=aefi_id, causality=causality, note=note)


_LATE_STATE: dict = {**PersonTesting.STATE, **PersonTracing.STATE}
