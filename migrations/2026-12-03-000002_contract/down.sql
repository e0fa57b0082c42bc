ALTER TABLE call_locations DROP CONSTRAINT call_locations_uncertainty_m_check,
    ADD CONSTRAINT call_locations_uncertainty_m_check
        CHECK (uncertainty_m >= 0 AND uncertainty_m <= 1000000);
ALTER TABLE incidents DROP CONSTRAINT incidents_uncertainty_m_check,
    ADD CONSTRAINT incidents_uncertainty_m_check
        CHECK (uncertainty_m >= 0 AND uncertainty_m <= 1000000);
ALTER TABLE calls DROP CONSTRAINT calls_uncertainty_m_check,
    ADD CONSTRAINT calls_uncertainty_m_check
        CHECK (uncertainty_m >= 0 AND uncertainty_m <= 1000000);

-- Fails if one request id was since used for two methods: those rows cannot share one key.
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (request_id);
