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
SOURCES = frozenset({"app", "portal", "import", "integration", "cli", "demo"})


def require_code(field: str, value: object, allowed: frozenset[str] | tuple[str, ...]) -> str:
    """Return `value` if it is one of `allowed`, else raise `Invalid` naming the field."""
    if not isinstance(value, str) or value not in allowed:
        raise Invalid(field, f"{field} must be one of {sorted(allowed)}, not {value!r}", allowed=sorted(allowed))
    return value
