-- Projection "stock": quantities per lot per location, in doses.
CREATE TABLE stock_facilities (
    facility_id text PRIMARY KEY,
    code text NOT NULL,
    name text NOT NULL,
    kind text NOT NULL,
    province_code text NOT NULL,
    district_code text,
    ward_code text,
    parent_id text
);
CREATE INDEX stock_facilities_province_idx ON stock_facilities (province_code);

CREATE TABLE stock_lots (
    lot_id text PRIMARY KEY,
    vaccine text NOT NULL,
    manufacturer text NOT NULL,
    lot_number text NOT NULL,
    expiry date NOT NULL,
    doses_per_vial integer NOT NULL,
    recalled boolean NOT NULL
);

-- One row per stock card (lot at facility). on_hand = received + transferred_in + returned
-- + adjusted_in - adjusted_out + count_difference + reversed - dispatched - administered.
CREATE TABLE stock_levels (
    card_id text PRIMARY KEY,
    lot_id text NOT NULL,
    facility_id text NOT NULL,
    on_hand bigint NOT NULL,
    received bigint NOT NULL,
    transferred_in bigint NOT NULL,
    dispatched bigint NOT NULL,
    returned bigint NOT NULL,
    administered bigint NOT NULL,
    adjusted_in bigint NOT NULL,
    adjusted_out bigint NOT NULL,
    count_difference bigint NOT NULL,
    reversed bigint NOT NULL
);
CREATE INDEX stock_levels_facility_idx ON stock_levels (facility_id);
CREATE INDEX stock_levels_lot_idx ON stock_levels (lot_id);

CREATE TABLE stock_adjustments (
    card_id text NOT NULL,
    reason text NOT NULL,
    quantity_in bigint NOT NULL,
    quantity_out bigint NOT NULL,
    PRIMARY KEY (card_id, reason)
);

CREATE TABLE stock_transfer_lines (
    transfer_id text NOT NULL,
    lot_id text NOT NULL,
    document_number text NOT NULL,
    source_id text NOT NULL,
    destination_id text NOT NULL,
    dispatched bigint NOT NULL,
    received bigint,
    discrepancy_reason text,
    status text NOT NULL,
    PRIMARY KEY (transfer_id, lot_id)
);
CREATE INDEX stock_transfer_lines_status_idx ON stock_transfer_lines (status);
