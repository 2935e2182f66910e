"""Closed sets of codes the ledger accepts, each from the document that set it (see docs/domain.md)."""

from __future__ import annotations

from .errors import Invalid

FACILITY_KINDS = frozenset(
    {
        "national_warehouse",
        "provincial_warehouse",
        "district_centre",
        "vaccination_point",
        "lab",
        "venue",
    }
)
#: Kinds of facility that hold vaccine stock.
STOCK_HOLDING_KINDS = frozenset(
    {"national_warehouse", "provincial_warehouse", "district_centre", "vaccination_point"}
)
#: Kinds of facility where doses are administered.
VACCINATING_KINDS = frozenset({"vaccination_point"})

#: Identity document types. `none` registers a person who has no id number (DOMAIN §8 `missing_id`).
ID_TYPES = frozenset({"cccd", "cmnd", "passport", "insurance", "none"})
SEXES = frozenset({"female", "male", "other", "unknown"})

#: Stock adjustment reasons (after OpenLMIS), DOMAIN §4. `found` and positive
#: `count_correction` add stock; the rest remove it.
ADJUSTMENT_REASONS = frozenset(
    {
        "damaged",
        "expired",
        "lost",
        "stolen",
        "open_vial_limit",
        "cold_chain_failure",
        "vvm_discard",
        "found",
        "count_correction",
    }
)
POSITIVE_ADJUSTMENT_REASONS = frozenset({"found", "count_correction"})
NEGATIVE_ADJUSTMENT_REASONS = ADJUSTMENT_REASONS - {"found"}

#: Reasons for a quantity received at the end of a transfer to differ from what was dispatched.
TRANSFER_DISCREPANCY_REASONS = frozenset(
    {"damaged", "lost", "stolen", "cold_chain_failure", "vvm_discard", "count_correction"}
)

#: Data-quality correction reasons (DOMAIN §8).
CORRECTION_REASONS = frozenset(
    {"missing_id", "invalid_id_format", "wrong_name", "wrong_dob", "wrong_sex", "duplicate_person", "contact_update"}
)
#: Which fields each correction reason may change (`contact_update` is ours: phone and address).
CORRECTION_FIELDS = {
    "missing_id": frozenset({"id_type", "id_number"}),
    "invalid_id_format": frozenset({"id_type", "id_number"}),
    "wrong_name": frozenset({"full_name"}),
    "wrong_dob": frozenset({"date_of_birth"}),
    "wrong_sex": frozenset({"sex"}),
    "duplicate_person": frozenset({"id_type", "id_number", "full_name", "date_of_birth", "sex"}),
    "contact_update": frozenset({"phone", "address"}),
}
VERIFICATION_RESULTS = frozenset({"match", "mismatch", "not_found"})

SCREENING_OUTCOMES = ("eligible", "caution", "delay", "contraindicated", "refer_to_hospital")
#: Outcomes after which a dose may be given (Decision 2995/QĐ-BYT, revised 3802/QĐ-BYT).
DOSE_ALLOWED_OUTCOMES = frozenset({"eligible", "caution"})

DOSE_VOID_REASONS = frozenset({"entered_in_error", "duplicate"})
DOSE_CORRECTION_REASONS = frozenset({"wrong_date", "wrong_lot", "data_entry_error"})
#: Why a dose may be given before the policy interval (recorded with the dose).
INTERVAL_OVERRIDE_REASONS = frozenset({"provincial_directive", "clinical_indication", "outbreak_response"})
DOSE_KINDS = frozenset({"primary", "booster", "additional"})

AEFI_SEVERITIES = frozenset({"common", "serious"})
#: WHO causality classes for adverse events following immunization.
AEFI_CAUSALITY = frozenset(
    {
        "vaccine_product_related",
        "quality_defect",
        "immunization_error",
        "immunization_anxiety",
        "coincidental",
        "indeterminate",
    }
)
LOT_RECALL_REASONS = frozenset({"quality_defect", "regulatory_order", "cold_chain_failure", "other"})
# testing and cases
#: Test methods and results (DOMAIN §5).
TEST_METHODS = frozenset({"rt_pcr", "rapid_antigen"})
TEST_RESULTS = frozenset({"positive", "negative", "invalid"})
#: Kinds of pooled sample: `community` (people of an area, Decision 3486/QĐ-BYT) or `household`.
POOL_KINDS = frozenset({"community", "household"})
#: Facilities where samples are taken (a lab may sample too); warehouses and venues do not.
SAMPLING_KINDS = frozenset({"district_centre", "vaccination_point", "lab"})
#: Why a recorded result was corrected (ours: the guidance names no closed set).
RESULT_CORRECTION_REASONS = frozenset({"transcription_error", "wrong_ct_value", "reanalysis", "lab_review"})
#: Why a recorded result was rejected (the sample then takes no further result: take a new one).
RESULT_REJECTION_REASONS = frozenset(
    {"sample_unsuitable", "contaminated", "wrong_subject", "entered_in_error", "lab_not_accredited"}
)
#: How an epidemiological link is declared with a sample (F0 rule 3 of 11042/BYT-DP).
EPI_LINK_KINDS = frozenset({"contact", "household_pool", "declared", "cluster", "travel"})
#: The F0 rules of the case definitions (`ledger.policies.testing`).
CASE_RULES = ("rt_pcr_positive", "f1_rapid_positive", "two_rapid_positive_with_link")
CASE_RETRACTION_REASONS = frozenset({"evidence_corrected", "evidence_rejected"})
# tracing: contacts, quarantine, declarations
#: How close a contact was (DOMAIN §5): physical contact is F1 whatever the mask and duration.
CONTACT_PROXIMITIES = frozenset({"physical", "within_2m", "same_closed_space"})
CONTACT_LEVELS = frozenset({"F1", "F2"})
QUARANTINE_LEVELS = frozenset({"F0", "F1", "F2"})
QUARANTINE_RELEASE_REASONS = frozenset({"completed", "became_case", "ordered_in_error", "transferred"})
#: Symptoms a follow-up or declaration may report (ours: the forms' tick boxes).
SYMPTOMS = frozenset({
    "fever", "cough", "sore_throat", "shortness_of_breath", "loss_of_taste_or_smell", "fatigue", "headache",
    "muscle_pain", "diarrhoea", "runny_nose",
})
DECLARATION_KINDS = frozenset({"domestic", "entry"})
DECLARED_CONTACT_KINDS = frozenset({"confirmed_case", "suspected_case", "contact_of_case", "from_outbreak_area"})
# check-ins
#: How a check-in was made: the citizen scanned the venue's QR code, or the venue's staff scanned the citizen.
CHECKIN_MODES = frozenset({"citizen_scan", "staff_scan"})
SOURCES = frozenset({"app", "portal", "import", "integration", "cli", "demo"})


def require_code(field: str, value: object, allowed: frozenset[str] | tuple[str, ...]) -> str:
    """Return `value` if it is one of `allowed`, else raise `Invalid` naming the field."""
    if not isinstance(value, str) or value not in allowed:
        raise Invalid(field, f"{field} must be one of {sorted(allowed)}, not {value!r}", allowed=sorted(allowed))
    return value
