-- Retention (issue 20): records are kept as long as the law says and no longer.
--
-- Only the owner role deletes, and only through the purge functions below, each run recorded in
-- the audit trail before it deletes anything:
-- * `dispatch_app` (the role queries run as) loses DELETE and TRUNCATE on every table: the
--   application never deletes (it appends history and ends things with states), so a bug or an
--   injected statement in it cannot remove a call, an audit record or an event.
-- * The append-only triggers still refuse UPDATE and TRUNCATE to everyone; they let a DELETE
--   through only inside a purge transaction that names, in the transaction-local setting
--   `dispatch.retention_run`, the audit record its run wrote when it started. Anyone may set a
--   custom setting, so this is not the barrier against `dispatch_app` (privileges are): it makes
--   every deletion of history by the owner a deliberate, recorded retention run rather than a
--   stray DELETE typed in psql.
-- * The purge functions are not executable by PUBLIC nor granted to `dispatch_app`.
-- * What is still referenced by an open incident or a referral not in a final state is kept by
--   the candidates' WHERE clauses, and foreign keys (none cascade) make any delete that would
--   orphan a kept row fail, rolling its batch back.

REVOKE DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public FROM dispatch_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE DELETE ON TABLES FROM dispatch_app;

-- The feed keeps positions dense above `purged_through`; a watcher resuming from a position
-- below it is told to resync (RESYNC_REASON_SEQUENCE_EXPIRED). A constant default: no rewrite.
ALTER TABLE event_feed_state ADD COLUMN purged_through bigint NOT NULL DEFAULT 0
    CHECK (purged_through >= 0 AND purged_through <= last_position);

-- Finding what is old: BRIN indexes are a few pages for tables written in time order, cheap to
-- build (no long write lock on the busiest tables) and to maintain on every insert.
CREATE INDEX events_occurred_at_brin ON events USING brin (occurred_at);
CREATE INDEX event_feed_published_at_brin ON event_feed USING brin (published_at);

-- True inside a purge transaction whose run is recorded in the audit trail.
CREATE FUNCTION retention_run_recorded() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $$
    SELECT EXISTS (
        SELECT 1 FROM audit_records
        WHERE id = nullif(current_setting('dispatch.retention_run', true), '')::bigint
          AND method = 'dispatchd/RetentionRun' AND detail LIKE 'started%')
$$;

CREATE OR REPLACE FUNCTION refuse_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND retention_run_recorded() THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the event log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE OR REPLACE FUNCTION refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND retention_run_recorded() THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

-- Incidents an open incident's timeline still needs: the open ones and, recursively, those
-- merged into them (a survivor's timeline reads its duplicates' events).
CREATE FUNCTION retention_live_incidents() RETURNS TABLE (id uuid)
LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $$
    WITH RECURSIVE live(id) AS (
        SELECT i.id FROM incidents i
        WHERE i.status IN ('new', 'triaged', 'dispatched', 'on_scene', 'resolved')
        UNION
        SELECT d.id FROM incidents d JOIN live l ON d.duplicate_of = l.id
    )
    SELECT live.id FROM live
$$;

-- The feed position below which every row may go: published before the cutoff, and below any
-- published event whose transaction the publisher still considers (its row must stay, or the
-- publisher would publish it again).
CREATE FUNCTION retention_feed_target(p_cutoff timestamptz) RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $$
    SELECT least(
        coalesce((SELECT max(f.position) FROM event_feed f WHERE f.published_at < p_cutoff), 0),
        coalesce((SELECT min(f.position) - 1 FROM event_feed f JOIN events e ON e.seq = f.seq
                  WHERE e.xid >= (SELECT s.horizon FROM event_feed_state s)), 'infinity'::numeric)
    )::bigint
$$;

-- Merge families (a root incident and everything merged into it, recursively) that are over:
-- every member closed or cancelled before the cutoff, none with a referral (whatever its state:
-- the referral policy removes closed ones first) or a committed unit, none with a call received
-- since the cutoff, and none of their events still at a feed position above `p_floor`.
CREATE FUNCTION retention_incident_roots(p_cutoff timestamptz, p_floor bigint, p_limit integer)
RETURNS TABLE (id uuid)
LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $$
    SELECT r.id FROM incidents r
    WHERE r.status IN ('closed', 'cancelled') AND r.closed_at < p_cutoff
      AND r.duplicate_of IS NULL
      AND NOT EXISTS (
          WITH RECURSIVE family(id) AS (
              SELECT r.id
              UNION
              SELECT d.id FROM incidents d JOIN family f ON d.duplicate_of = f.id
          )
          SELECT 1 FROM family f JOIN incidents i ON i.id = f.id
          WHERE i.status NOT IN ('closed', 'cancelled') OR i.closed_at >= p_cutoff
             OR EXISTS (SELECT 1 FROM referrals x WHERE x.incident_id = i.id)
             OR EXISTS (SELECT 1 FROM units u WHERE u.current_incident_id = i.id)
             OR EXISTS (SELECT 1 FROM calls c
                        WHERE c.incident_id = i.id AND c.received_at >= p_cutoff)
             OR EXISTS (SELECT 1 FROM events e JOIN event_feed ef ON ef.seq = e.seq
                        WHERE ef.position > p_floor
                          AND (e.incident_id = i.id
                               OR e.call_id IN (SELECT c.id FROM calls c
                                                WHERE c.incident_id = i.id))))
    ORDER BY r.closed_at, r.id
    LIMIT p_limit
$$;

-- Disposed calls (never linked) received before the cutoff and not brought by an EIDO import.
CREATE FUNCTION retention_disposed_calls(p_cutoff timestamptz, p_floor bigint, p_limit integer)
RETURNS TABLE (id uuid)
LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $$
    SELECT c.id FROM calls c
    WHERE c.received_at < p_cutoff AND c.state = 'disposed' AND c.updated_at < p_cutoff
      AND NOT EXISTS (SELECT 1 FROM eido_import_parts p WHERE p.call_id = c.id)
      AND NOT EXISTS (SELECT 1 FROM events e JOIN event_feed ef ON ef.seq = e.seq
                      WHERE e.call_id = c.id AND ef.position > p_floor)
    ORDER BY c.received_at, c.id
    LIMIT p_limit
$$;

-- Referrals in a final state (completed, cancelled) since before the cutoff, with their victim
-- data. A declined referral may still be re-addressed: it is not final.
CREATE FUNCTION retention_final_referrals(p_cutoff timestamptz, p_floor bigint, p_limit integer)
RETURNS TABLE (id uuid)
LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $$
    SELECT r.id FROM referrals r
    WHERE r.status IN ('completed', 'cancelled') AND r.status_at < p_cutoff
      AND r.updated_at < p_cutoff
      AND NOT EXISTS (SELECT 1 FROM events e JOIN event_feed ef ON ef.seq = e.seq
                      WHERE e.referral_id = r.id AND ef.position > p_floor)
    ORDER BY r.status_at, r.id
    LIMIT p_limit
$$;

-- Events older than the cutoff (seq in (p_after, p_through]) that nothing open needs: not at a
-- feed position above the floor, not about a live incident, an open call or one linked to a
-- live incident, nor a referral that is not final.
CREATE FUNCTION retention_old_events(p_cutoff timestamptz, p_floor bigint, p_after bigint,
                                     p_through bigint, p_limit integer)
RETURNS TABLE (seq bigint)
LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $$
    WITH live AS MATERIALIZED (SELECT id FROM retention_live_incidents())
    SELECT e.seq FROM events e
    WHERE e.seq > p_after AND e.seq <= p_through AND e.occurred_at < p_cutoff
      AND (e.xid IS NULL OR e.xid < (SELECT s.horizon FROM event_feed_state s))
      AND NOT EXISTS (SELECT 1 FROM event_feed ef WHERE ef.seq = e.seq AND ef.position > p_floor)
      AND (e.incident_id IS NULL OR e.incident_id NOT IN (SELECT id FROM live))
      AND (e.call_id IS NULL OR NOT EXISTS (
              SELECT 1 FROM calls c WHERE c.id = e.call_id
                AND (c.state = 'open' OR c.incident_id IN (SELECT id FROM live))))
      AND (e.referral_id IS NULL OR NOT EXISTS (
              SELECT 1 FROM referrals r WHERE r.id = e.referral_id
                AND r.status NOT IN ('completed', 'cancelled')))
    ORDER BY e.seq
    LIMIT p_limit
$$;

-- One batch of each kind. Each returns what it deleted; the caller commits per batch.

CREATE FUNCTION retention_purge_feed(p_through bigint, p_limit integer) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    from_position bigint;
    to_position   bigint;
    deleted       bigint;
BEGIN
    SELECT s.purged_through INTO from_position FROM event_feed_state s;
    to_position := least(p_through, from_position + p_limit);
    IF to_position <= from_position THEN
        RETURN 0;
    END IF;
    DELETE FROM event_feed WHERE position > from_position AND position <= to_position;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    -- Last: the publisher's row is locked only from here to the commit.
    UPDATE event_feed_state SET purged_through = to_position;
    RETURN deleted;
END $$;

CREATE FUNCTION retention_purge_incidents(p_cutoff timestamptz, p_limit integer,
                                          OUT incidents bigint, OUT calls bigint,
                                          OUT events bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    floor_position bigint;
    family         uuid[];
    family_calls   uuid[];
BEGIN
    SELECT s.purged_through INTO floor_position FROM event_feed_state s;
    WITH RECURSIVE fam(id) AS (
        SELECT r.id FROM retention_incident_roots(p_cutoff, floor_position, p_limit) r
        UNION
        SELECT d.id FROM incidents d JOIN fam f ON d.duplicate_of = f.id
    )
    SELECT coalesce(array_agg(fam.id), '{}') INTO family FROM fam;
    -- Locked: a referral or a link to one of them now waits for this batch, then fails on
    -- its foreign key; one that came first makes this batch fail on ours.
    PERFORM 1 FROM incidents i WHERE i.id = ANY (family) FOR UPDATE;
    SELECT coalesce(array_agg(c.id), '{}') INTO family_calls
        FROM calls c WHERE c.incident_id = ANY (family);
    DELETE FROM events e WHERE e.incident_id = ANY (family) OR e.call_id = ANY (family_calls);
    GET DIAGNOSTICS events = ROW_COUNT;
    DELETE FROM eido_import_parts p
        WHERE p.call_id = ANY (family_calls)
           OR p.tracking_id IN (SELECT x.tracking_id FROM eido_imports x
                                WHERE x.incident_id = ANY (family))
           OR p.note_id IN (SELECT n.id FROM incident_notes n WHERE n.incident_id = ANY (family));
    DELETE FROM eido_imports x WHERE x.incident_id = ANY (family);
    DELETE FROM public_alerts a WHERE a.incident_id = ANY (family);
    DELETE FROM assignments a WHERE a.incident_id = ANY (family);
    DELETE FROM recommendations r WHERE r.incident_id = ANY (family);
    DELETE FROM triage_records t WHERE t.incident_id = ANY (family);
    DELETE FROM incident_notes n WHERE n.incident_id = ANY (family);
    DELETE FROM call_locations l WHERE l.call_id = ANY (family_calls);
    DELETE FROM calls c WHERE c.id = ANY (family_calls);
    GET DIAGNOSTICS calls = ROW_COUNT;
    DELETE FROM incidents i WHERE i.id = ANY (family);
    GET DIAGNOSTICS incidents = ROW_COUNT;
END $$;

CREATE FUNCTION retention_purge_disposed_calls(p_cutoff timestamptz, p_limit integer,
                                               OUT calls bigint, OUT events bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    doomed uuid[];
BEGIN
    SELECT coalesce(array_agg(d.id), '{}') INTO doomed
        FROM retention_disposed_calls(p_cutoff,
                                      (SELECT s.purged_through FROM event_feed_state s),
                                      p_limit) d;
    PERFORM 1 FROM calls c WHERE c.id = ANY (doomed) FOR UPDATE;
    DELETE FROM events e WHERE e.call_id = ANY (doomed);
    GET DIAGNOSTICS events = ROW_COUNT;
    DELETE FROM call_locations l WHERE l.call_id = ANY (doomed);
    DELETE FROM calls c WHERE c.id = ANY (doomed);
    GET DIAGNOSTICS calls = ROW_COUNT;
END $$;

CREATE FUNCTION retention_purge_referrals(p_cutoff timestamptz, p_limit integer,
                                          OUT referrals bigint, OUT events bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    doomed uuid[];
BEGIN
    SELECT coalesce(array_agg(d.id), '{}') INTO doomed
        FROM retention_final_referrals(p_cutoff,
                                       (SELECT s.purged_through FROM event_feed_state s),
                                       p_limit) d;
    PERFORM 1 FROM referrals r WHERE r.id = ANY (doomed) FOR UPDATE;
    DELETE FROM events e WHERE e.referral_id = ANY (doomed);
    GET DIAGNOSTICS events = ROW_COUNT;
    DELETE FROM follow_ups f WHERE f.referral_id = ANY (doomed);
    DELETE FROM referral_history h WHERE h.referral_id = ANY (doomed);
    DELETE FROM referrals r WHERE r.id = ANY (doomed);
    GET DIAGNOSTICS referrals = ROW_COUNT;
END $$;

-- Returns how many it deleted and the last seq it looked at (the next batch starts after it).
CREATE FUNCTION retention_purge_events(p_cutoff timestamptz, p_after bigint, p_through bigint,
                                       p_limit integer, OUT events bigint, OUT last_seq bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    doomed bigint[];
BEGIN
    SELECT coalesce(array_agg(o.seq), '{}') INTO doomed
        FROM retention_old_events(p_cutoff,
                                  (SELECT s.purged_through FROM event_feed_state s),
                                  p_after, p_through, p_limit) o;
    DELETE FROM events e WHERE e.seq = ANY (doomed);
    GET DIAGNOSTICS events = ROW_COUNT;
    last_seq := CASE WHEN cardinality(doomed) < p_limit THEN p_through
                     ELSE (SELECT max(d) FROM unnest(doomed) d) END;
END $$;

-- Request ids kept to answer retries: they hold the request's bytes (a caller's name, a
-- victim's details), so they go with the shortest period of the records they describe.
CREATE FUNCTION retention_purge_requests(p_cutoff timestamptz, p_limit integer) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    deleted bigint;
BEGIN
    DELETE FROM idempotency_keys k
        WHERE (k.request_id, k.method) IN (
            SELECT o.request_id, o.method FROM idempotency_keys o
            WHERE o.created_at < p_cutoff ORDER BY o.created_at LIMIT p_limit);
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END $$;

CREATE FUNCTION retention_purge_audit(p_cutoff timestamptz, p_limit integer) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    deleted bigint;
BEGIN
    DELETE FROM audit_records a
        WHERE a.id IN (SELECT o.id FROM audit_records o
                       WHERE o.occurred_at < p_cutoff ORDER BY o.occurred_at LIMIT p_limit);
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END $$;

-- What a run would purge now (a dry run): NULL cutoffs keep forever and count nothing. Events
-- of calls, incidents and referrals are counted with them; `events` counts the others.
CREATE FUNCTION retention_preview(p_audit timestamptz, p_calls timestamptz,
                                  p_referrals timestamptz, p_events timestamptz,
                                  p_requests timestamptz, p_feed timestamptz,
                                  OUT audit_records bigint, OUT incidents bigint,
                                  OUT calls bigint, OUT referrals bigint, OUT events bigint,
                                  OUT feed_positions bigint, OUT request_records bigint)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public AS $$
DECLARE
    floor_position bigint;
    family         uuid[];
BEGIN
    SELECT s.purged_through INTO floor_position FROM event_feed_state s;
    IF p_feed IS NOT NULL THEN
        floor_position := greatest(floor_position, retention_feed_target(p_feed));
    END IF;
    feed_positions := floor_position - (SELECT s.purged_through FROM event_feed_state s);
    audit_records := CASE WHEN p_audit IS NULL THEN 0 ELSE
        (SELECT count(*) FROM audit_records a WHERE a.occurred_at < p_audit) END;
    request_records := CASE WHEN p_requests IS NULL THEN 0 ELSE
        (SELECT count(*) FROM idempotency_keys k WHERE k.created_at < p_requests) END;
    referrals := CASE WHEN p_referrals IS NULL THEN 0 ELSE
        (SELECT count(*) FROM retention_final_referrals(p_referrals, floor_position, NULL)) END;
    incidents := 0;
    calls := 0;
    IF p_calls IS NOT NULL THEN
        WITH RECURSIVE fam(id) AS (
            SELECT r.id FROM retention_incident_roots(p_calls, floor_position, NULL) r
            UNION
            SELECT d.id FROM incidents d JOIN fam f ON d.duplicate_of = f.id
        )
        SELECT coalesce(array_agg(fam.id), '{}') INTO family FROM fam;
        incidents := cardinality(family);
        calls := (SELECT count(*) FROM calls c WHERE c.incident_id = ANY (family))
               + (SELECT count(*) FROM retention_disposed_calls(p_calls, floor_position, NULL));
    END IF;
    events := CASE WHEN p_events IS NULL THEN 0 ELSE
        (SELECT count(*) FROM retention_old_events(p_events, floor_position, 0,
                                                   9223372036854775807, NULL)) END;
END $$;

REVOKE ALL ON FUNCTION retention_live_incidents(), retention_feed_target(timestamptz),
    retention_incident_roots(timestamptz, bigint, integer),
    retention_disposed_calls(timestamptz, bigint, integer),
    retention_final_referrals(timestamptz, bigint, integer),
    retention_old_events(timestamptz, bigint, bigint, bigint, integer),
    retention_purge_feed(bigint, integer),
    retention_purge_incidents(timestamptz, integer),
    retention_purge_disposed_calls(timestamptz, integer),
    retention_purge_referrals(timestamptz, integer),
    retention_purge_events(timestamptz, bigint, bigint, integer),
    retention_purge_requests(timestamptz, integer),
    retention_purge_audit(timestamptz, integer),
    retention_preview(timestamptz, timestamptz, timestamptz, timestamptz, timestamptz,
                      timestamptz)
    FROM PUBLIC;
