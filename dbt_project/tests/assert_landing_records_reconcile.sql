-- Reconciliation: every record a landing row's payload holds was staged or rejected,
-- no more and no fewer. A failing row names the source and landing id (and the three
-- counts); its rejects are in landing_rejects. Checks the landing rows loaded in the
-- test window (var test_window_hours; 0 = all history).
select
    source_name,
    landing_id,
    records_in_payload,
    records_staged,
    records_rejected
from {{ ref('landing_reconciliation') }}
where
    records_in_payload <> records_staged + records_rejected
    and {{ landed_in_test_window('loaded_at') }}
