-- The contract, to the letter (issue 15).

-- Request ids are keyed by (RPC method, request_id), as common.proto says: one id used for
-- CreateCall may also be used for AddIncidentNote. Existing rows are unique by request_id alone,
-- so they are unique by the pair too. The id leads the key so that a look-up by id alone still
-- uses the index. Servers one migration behind keep working: their inserts say ON CONFLICT DO
-- NOTHING without a target, which honours whichever unique key there is (so does record_call).
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (request_id, method);

-- A location's uncertainty is 0..50,000 m (common.proto, Location.uncertainty_m). The old
-- bound was 1,000 km; a value above 50 km was never valid under the contract, and a location
-- that vague says no more than "somewhere in the metropolitan area", so it is stored as the
-- largest the contract allows rather than refused on every later write of its row. Each table
-- is scanned once to validate its constraint (no rewrite).
UPDATE calls SET uncertainty_m = 50000 WHERE uncertainty_m > 50000;
UPDATE incidents SET uncertainty_m = 50000 WHERE uncertainty_m > 50000;
UPDATE call_locations SET uncertainty_m = 50000 WHERE uncertainty_m > 50000;
ALTER TABLE calls DROP CONSTRAINT calls_uncertainty_m_check,
    ADD CONSTRAINT calls_uncertainty_m_check
        CHECK (uncertainty_m >= 0 AND uncertainty_m <= 50000);
ALTER TABLE incidents DROP CONSTRAINT incidents_uncertainty_m_check,
    ADD CONSTRAINT incidents_uncertainty_m_check
        CHECK (uncertainty_m >= 0 AND uncertainty_m <= 50000);
ALTER TABLE call_locations DROP CONSTRAINT call_locations_uncertainty_m_check,
    ADD CONSTRAINT call_locations_uncertainty_m_check
        CHECK (uncertainty_m >= 0 AND uncertainty_m <= 50000);
