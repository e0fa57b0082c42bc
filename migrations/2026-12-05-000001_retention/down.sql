DROP FUNCTION retention_preview(timestamptz, timestamptz, timestamptz, timestamptz, timestamptz,
                                timestamptz);
DROP FUNCTION retention_purge_audit(timestamptz, integer);
DROP FUNCTION retention_purge_requests(timestamptz, integer);
DROP FUNCTION retention_purge_events(timestamptz, bigint, bigint, integer);
DROP FUNCTION retention_purge_referrals(timestamptz, integer);
DROP FUNCTION retention_purge_disposed_calls(timestamptz, integer);
DROP FUNCTION retention_purge_incidents(timestamptz, integer);
DROP FUNCTION retention_purge_feed(bigint, integer);
DROP FUNCTION retention_old_events(timestamptz, bigint, bigint, bigint, integer);
DROP FUNCTION retention_final_referrals(timestamptz, bigint, integer);
DROP FUNCTION retention_disposed_calls(timestamptz, bigint, integer);
DROP FUNCTION retention_incident_roots(timestamptz, bigint, integer);
DROP FUNCTION retention_feed_target(timestamptz);
DROP FUNCTION retention_live_incidents();

CREATE OR REPLACE FUNCTION refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE OR REPLACE FUNCTION refuse_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
DROP FUNCTION retention_run_recorded();

DROP INDEX event_feed_published_at_brin;
DROP INDEX events_occurred_at_brin;
ALTER TABLE event_feed_state DROP COLUMN purged_through;

ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT DELETE ON TABLES TO dispatch_app;
GRANT DELETE ON ALL TABLES IN SCHEMA public TO dispatch_app;
REVOKE DELETE ON events, triage_records, incident_notes, audit_records, referral_history,
    eido_import_parts, public_alerts, event_feed, event_feed_state, __diesel_schema_migrations
    FROM dispatch_app;
