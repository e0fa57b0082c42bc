//! diesel's view of the tables in `migrations/`. Written by hand to match them; the schema test in
//! `tests/` checks every table here exists with these columns.

diesel::table! {
    idempotency_keys (request_id, method) {
        request_id -> Uuid,
        method -> Text,
        principal -> Text,
        request -> Bytea,
        resource -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    folio_counters (kind, day) {
        kind -> Text,
        day -> Date,
        last_number -> Int4,
    }
}

diesel::table! {
    agencies (id) {
        id -> Uuid,
        code -> Text,
        display_name -> Text,
        kind -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    stations (id) {
        id -> Uuid,
        agency_id -> Uuid,
        code -> Text,
        display_name -> Text,
        latitude -> Float8,
        longitude -> Float8,
        address -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    units (id) {
        id -> Uuid,
        agency_id -> Uuid,
        home_station_id -> Nullable<Uuid>,
        call_sign -> Text,
        unit_type -> Text,
        capabilities -> Array<Text>,
        status -> Text,
        status_at -> Timestamptz,
        version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        latitude -> Nullable<Float8>,
        longitude -> Nullable<Float8>,
        accuracy_m -> Nullable<Float8>,
        heading_deg -> Nullable<Float8>,
        speed_mps -> Nullable<Float8>,
        fix_time -> Nullable<Timestamptz>,
        current_incident_id -> Nullable<Uuid>,
        decommissioned_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    recommendations (id) {
        id -> Uuid,
        incident_id -> Uuid,
        created_by -> Text,
        plan -> Jsonb,
        plan_overridden -> Bool,
        incident_latitude -> Float8,
        incident_longitude -> Float8,
        fills -> Jsonb,
        total_shortfall -> Int4,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    assignments (id) {
        id -> Int8,
        incident_id -> Uuid,
        unit_id -> Uuid,
        recommendation_id -> Nullable<Uuid>,
        override_reason -> Text,
        assigned_by -> Text,
        dispatched_at -> Timestamptz,
        en_route_at -> Nullable<Timestamptz>,
        on_scene_at -> Nullable<Timestamptz>,
        transporting_at -> Nullable<Timestamptz>,
        at_hospital_at -> Nullable<Timestamptz>,
        cleared_at -> Nullable<Timestamptz>,
        released_at -> Nullable<Timestamptz>,
        release_reason -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    cameras (id) {
        id -> Uuid,
        code -> Text,
        kind -> Text,
        latitude -> Float8,
        longitude -> Float8,
        description -> Text,
        agency_id -> Nullable<Uuid>,
        active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    incidents (id) {
        id -> Uuid,
        folio -> Text,
        status -> Text,
        incident_type -> Nullable<Text>,
        priority -> Nullable<Int2>,
        latitude -> Float8,
        longitude -> Float8,
        uncertainty_m -> Float8,
        location_source -> Text,
        civic_address -> Text,
        summary -> Text,
        linked_call_count -> Int4,
        first_call_at -> Timestamptz,
        last_call_at -> Timestamptz,
        closing_code -> Nullable<Text>,
        duplicate_of -> Nullable<Uuid>,
        version -> Int8,
        created_by -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        closed_at -> Nullable<Timestamptz>,
        determinant_code -> Nullable<Text>,
        determinant_level -> Nullable<Text>,
        determinant_description -> Text,
        response_plan -> Jsonb,
        triaged_at -> Nullable<Timestamptz>,
        status_at -> Timestamptz,
        closing_note -> Text,
        area -> Text,
        close_area -> Nullable<Text>,
        station_area -> Text,
        h3_cell -> Nullable<Int8>,
    }
}

diesel::table! {
    unit_status_history (id) {
        id -> Int8,
        unit_id -> Uuid,
        status -> Text,
        status_at -> Timestamptz,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    triage_records (id) {
        id -> Int8,
        incident_id -> Uuid,
        triaged_by -> Text,
        incident_type -> Text,
        answers -> Jsonb,
        determinant_code -> Text,
        determinant_level -> Text,
        determinant_description -> Text,
        priority -> Int2,
        previous_priority -> Nullable<Int2>,
        response_plan -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    incident_notes (id) {
        id -> Int8,
        incident_id -> Uuid,
        author -> Text,
        text -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    calls (id) {
        id -> Uuid,
        folio -> Text,
        channel -> Text,
        state -> Text,
        received_at -> Timestamptz,
        answered_at -> Nullable<Timestamptz>,
        back_entered -> Bool,
        call_taker -> Text,
        callback_number -> Text,
        caller_name -> Text,
        language -> Text,
        latitude -> Float8,
        longitude -> Float8,
        uncertainty_m -> Float8,
        location_source -> Text,
        civic_address -> Text,
        account -> Text,
        incident_type_hint -> Text,
        source_device_id -> Text,
        incident_id -> Nullable<Uuid>,
        disposition -> Nullable<Text>,
        disposition_note -> Text,
        version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        operation_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    call_locations (id) {
        id -> Int8,
        call_id -> Uuid,
        latitude -> Float8,
        longitude -> Float8,
        uncertainty_m -> Float8,
        source -> Text,
        civic_address -> Text,
        recorded_by -> Text,
        recorded_at -> Timestamptz,
    }
}

diesel::table! {
    events (seq) {
        seq -> Int8,
        occurred_at -> Timestamptz,
        actor -> Text,
        kind -> Text,
        call_id -> Nullable<Uuid>,
        incident_id -> Nullable<Uuid>,
        unit_id -> Nullable<Uuid>,
        details -> Jsonb,
        referral_id -> Nullable<Uuid>,
        partner_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    partners (id) {
        id -> Uuid,
        code -> Text,
        display_name -> Text,
        kind -> Text,
        services -> Array<Text>,
        areas -> Jsonb,
        latitude -> Nullable<Float8>,
        longitude -> Nullable<Float8>,
        address -> Text,
        available_slots -> Int4,
        total_slots -> Int4,
        not_accepting -> Bool,
        capacity_note -> Text,
        capacity_updated_at -> Timestamptz,
        contacts -> Jsonb,
        version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    referrals (id) {
        id -> Uuid,
        incident_id -> Uuid,
        partner_id -> Uuid,
        status -> Text,
        victim -> Jsonb,
        needs -> Array<Text>,
        consent_given_by -> Nullable<Text>,
        consent_given_at -> Nullable<Timestamptz>,
        consent_scope -> Nullable<Text>,
        life_threat_medical_handoff -> Bool,
        decline_reason -> Text,
        notes -> Text,
        requested_by -> Text,
        version -> Int8,
        status_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    referral_history (id) {
        id -> Int8,
        referral_id -> Uuid,
        kind -> Text,
        actor -> Text,
        from_status -> Nullable<Text>,
        to_status -> Nullable<Text>,
        partner_id -> Nullable<Uuid>,
        note -> Text,
        follow_up -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    follow_ups (id) {
        id -> Uuid,
        referral_id -> Uuid,
        due_at -> Timestamptz,
        state -> Text,
        done_at -> Nullable<Timestamptz>,
        outcome -> Nullable<Text>,
        outcome_note -> Text,
        recorded_by -> Text,
        scheduled -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    principals (id) {
        id -> Uuid,
        name -> Text,
        display_name -> Text,
        role -> Text,
        agency_id -> Nullable<Uuid>,
        unit_id -> Nullable<Uuid>,
        partner_id -> Nullable<Uuid>,
        created_by -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        disabled_at -> Nullable<Timestamptz>,
        version -> Int8,
    }
}

diesel::table! {
    credentials (id) {
        id -> Uuid,
        principal_id -> Uuid,
        kind -> Text,
        token_prefix -> Text,
        salt -> Nullable<Bytea>,
        token_hash -> Nullable<Bytea>,
        certificate_sha256 -> Nullable<Text>,
        description -> Text,
        created_by -> Text,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        revoke_reason -> Text,
    }
}

diesel::table! {
    audit_records (id) {
        id -> Int8,
        occurred_at -> Timestamptz,
        principal -> Text,
        role -> Text,
        agency -> Text,
        action -> Text,
        method -> Text,
        resource -> Text,
        peer -> Text,
        outcome -> Text,
        status_code -> Text,
        request_id -> Text,
        detail -> Text,
    }
}

diesel::table! {
    public_alerts (id) {
        id -> Uuid,
        identifier -> Text,
        sender -> Text,
        sent -> Text,
        sent_at -> Timestamptz,
        status -> Text,
        msg_type -> Text,
        original_id -> Nullable<Uuid>,
        original_sender -> Nullable<Text>,
        incident_id -> Uuid,
        issued_by -> Text,
        headline -> Text,
        cap_xml -> Text,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(stations -> agencies (agency_id));
diesel::joinable!(units -> agencies (agency_id));
diesel::joinable!(units -> stations (home_station_id));
diesel::joinable!(calls -> incidents (incident_id));
// EIDO imports (migration 2026-12-04-000002_eido_imports).
diesel::table! {
    eido_imports (tracking_id) {
        tracking_id -> Text,
        incident_id -> Uuid,
        version_at -> Timestamptz,
        issuing_element -> Text,
        agency -> Text,
        common_type -> Text,
        internal_type -> Text,
        internal_type_text -> Text,
        document -> Jsonb,
        imported_by -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    eido_import_parts (tracking_id, component, foreign_id) {
        tracking_id -> Text,
        component -> Text,
        foreign_id -> Text,
        call_id -> Nullable<Uuid>,
        note_id -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(eido_import_parts -> eido_imports (tracking_id));
diesel::allow_tables_to_appear_in_same_query!(eido_imports, eido_import_parts);

diesel::joinable!(call_locations -> calls (call_id));
diesel::joinable!(triage_records -> incidents (incident_id));
diesel::joinable!(units -> incidents (current_incident_id));
diesel::joinable!(unit_status_history -> units (unit_id));
diesel::joinable!(recommendations -> incidents (incident_id));
diesel::joinable!(assignments -> units (unit_id));
diesel::joinable!(assignments -> incidents (incident_id));
diesel::joinable!(assignments -> recommendations (recommendation_id));
diesel::joinable!(cameras -> agencies (agency_id));
diesel::joinable!(referrals -> partners (partner_id));
diesel::joinable!(referrals -> incidents (incident_id));
diesel::joinable!(referral_history -> referrals (referral_id));
diesel::joinable!(follow_ups -> referrals (referral_id));
diesel::joinable!(incident_notes -> incidents (incident_id));
diesel::joinable!(principals -> agencies (agency_id));
diesel::joinable!(principals -> units (unit_id));
diesel::joinable!(credentials -> principals (principal_id));
diesel::joinable!(public_alerts -> incidents (incident_id));

diesel::allow_tables_to_appear_in_same_query!(
    idempotency_keys,
    folio_counters,
    agencies,
    stations,
    units,
    unit_status_history,
    incidents,
    calls,
    call_locations,
    events,
    triage_records,
    incident_notes,
    recommendations,
    assignments,
    cameras,
    principals,
    credentials,
    audit_records,
    partners,
    referrals,
    referral_history,
    follow_ups,
    public_alerts,
);

// Planned operations (migration 2026-12-07-000002_operations).
diesel::table! {
    operations (id) {
        id -> Uuid,
        name -> Text,
        zones -> Jsonb,
        starts_at -> Timestamptz,
        ends_at -> Nullable<Timestamptz>,
        command_post_id -> Nullable<Uuid>,
        crowd_radius_m -> Float8,
        crowd_window_s -> Int4,
        crowd_type_required -> Bool,
        crowd_calls_per_day -> Float8,
        created_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    operation_agencies (operation_id, agency_id) {
        operation_id -> Uuid,
        agency_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    operation_units (operation_id, unit_id) {
        operation_id -> Uuid,
        unit_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    operation_cameras (operation_id, camera_id) {
        operation_id -> Uuid,
        camera_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    watch_orders (id) {
        id -> Uuid,
        operation_id -> Uuid,
        camera_id -> Nullable<Uuid>,
        zone_index -> Nullable<Int4>,
        instruction -> Text,
        until -> Timestamptz,
        created_by -> Text,
        created_at -> Timestamptz,
    }
}

// The columns of `incidents` an operation reads, apart: `incidents` is at diesel's 32 columns.
diesel::table! {
    #[sql_name = "incidents"]
    incident_operations (id) {
        id -> Uuid,
        operation_id -> Nullable<Uuid>,
        incident_type -> Nullable<Text>,
        priority -> Nullable<Int2>,
        latitude -> Float8,
        longitude -> Float8,
        first_call_at -> Timestamptz,
        duplicate_of -> Nullable<Uuid>,
        area -> Text,
        station_area -> Text,
    }
}

diesel::joinable!(operation_agencies -> operations (operation_id));
diesel::joinable!(operation_units -> operations (operation_id));
diesel::joinable!(operation_cameras -> operations (operation_id));
diesel::joinable!(watch_orders -> operations (operation_id));
diesel::allow_tables_to_appear_in_same_query!(
    operations,
    operation_agencies,
    operation_units,
    operation_cameras,
    watch_orders,
    incident_operations,
);
