// Kept by hand to match migrations/postgres and migrations/sqlite, which stay equivalent.

diesel::table! {
    orgs (code) {
        code -> Text,
        parent_code -> Nullable<Text>,
        level -> Text,
        name -> Text,
        longitude -> Nullable<Double>,
        latitude -> Nullable<Double>,
        coordinates_generated -> Bool,
    }
}

diesel::table! {
    outbox (seq) {
        seq -> BigInt,
        message_id -> Text,
        kind -> Text,
        target -> Nullable<Text>,
        envelope -> Text,
        created_at -> Timestamp,
        next_attempt_at -> Timestamp,
        publish_attempts -> Integer,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    inbox (consumer, message_id) {
        consumer -> Text,
        message_id -> Text,
        handled_at -> Timestamp,
    }
}

diesel::table! {
    timers (key) {
        key -> Text,
        due_at -> Timestamp,
        kind -> Text,
        target -> Nullable<Text>,
        envelope -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    dead_letters (id) {
        id -> BigInt,
        message_id -> Text,
        kind -> Text,
        consumer -> Text,
        envelope -> Text,
        error -> Text,
        dead_at -> Timestamp,
        replayed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    deliveries (seq) {
        seq -> BigInt,
        consumer -> Text,
        message_id -> Text,
        envelope -> Text,
        due_at -> Timestamp,
    }
}

diesel::table! {
    cron_ticks (job, tick) {
        job -> Text,
        tick -> Timestamp,
        fired_at -> Timestamp,
    }
}

diesel::table! {
    people (id) {
        id -> Text,
        display_name -> Text,
        email -> Text,
        phone -> Nullable<Text>,
        preferred_channel -> Text,
        created_at -> Timestamp,
        active -> Bool,
    }
}

diesel::table! {
    outgoing_mail (id) {
        id -> Text,
        person_id -> Nullable<Text>,
        to_address -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        attachment_name -> Nullable<Text>,
        attachment_type -> Nullable<Text>,
        attachment_body -> Nullable<Text>,
    }
}

diesel::table! {
    role_assignments (id) {
        id -> BigInt,
        person_id -> Text,
        role -> Text,
        org_code -> Text,
        agency -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    permissions (role, action) {
        role -> Text,
        action -> Text,
        scope -> Text,
    }
}

diesel::table! {
    action_links (token_hash) {
        token_hash -> Text,
        purpose -> Text,
        subject -> Text,
        actor -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
        superseded_at -> Nullable<Timestamp>,
        superseded_by -> Nullable<Text>,
    }
}

diesel::table! {
    sessions (token_hash) {
        token_hash -> Text,
        person_id -> Text,
        csrf -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    api_tokens (token_hash) {
        token_hash -> Text,
        person_id -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    break_glass (id) {
        id -> BigInt,
        person_id -> Text,
        case_id -> Text,
        reason -> Text,
        granted_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (seq) {
        seq -> BigInt,
        at -> Timestamp,
        actor -> Text,
        action -> Text,
        subject -> Text,
        details -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(people, outgoing_mail, role_assignments);
diesel::joinable!(role_assignments -> people (person_id));
diesel::joinable!(outgoing_mail -> people (person_id));

diesel::table! {
    duty_roster (id) {
        id -> BigInt,
        county_code -> Text,
        person_id -> Text,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
    }
}

diesel::table! {
    campaigns (id) {
        id -> Text,
        name -> Text,
        year -> Integer,
        scope_org -> Text,
        rules -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    household_keys (key_hash) {
        key_hash -> Text,
        household_id -> Text,
    }
}

diesel::table! {
    households (id) {
        id -> Text,
        identity_hash -> Text,
        incident_flag -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    nominations (id) {
        id -> Text,
        campaign_id -> Text,
        village_code -> Text,
        household_id -> Text,
        category -> Text,
        channel -> Text,
        family -> Text,
        story -> Text,
        nominator -> Text,
        state -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        reference -> Nullable<Text>,
    }
}

diesel::table! {
    nomination_counters (county_code, year) {
        county_code -> Text,
        year -> Integer,
        last_seq -> Integer,
    }
}

diesel::table! {
    nomination_history (seq) {
        seq -> BigInt,
        nomination_id -> Text,
        at -> Timestamp,
        actor -> Text,
        event -> Text,
        from_state -> Text,
        to_state -> Text,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    review_tasks (id) {
        id -> Text,
        nomination_id -> Text,
        level -> Text,
        org_code -> Text,
        reviewer -> Text,
        created_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        decision -> Nullable<Text>,
        closed_at -> Nullable<Timestamp>,
        due_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    forwarded (campaign_id, level, nomination_id) {
        campaign_id -> Text,
        level -> Text,
        org_code -> Text,
        nomination_id -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(nominations, nomination_history, orgs, review_tasks);
diesel::joinable!(review_tasks -> nominations (nomination_id));

diesel::table! {
    referrals (id) {
        id -> Text,
        case_number -> Text,
        county_code -> Text,
        village_code -> Text,
        source -> Text,
        state -> Text,
        risk_level -> Nullable<Text>,
        risk_score -> Nullable<Integer>,
        consent_basis -> Text,
        assigned_officer -> Nullable<Text>,
        victim_sealed -> Text,
        reporter_sealed -> Nullable<Text>,
        incident_sealed -> Text,
        outcome -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    referral_counters (county_code, year) {
        county_code -> Text,
        year -> Integer,
        last_seq -> Integer,
    }
}

diesel::table! {
    referral_tasks (id) {
        id -> Text,
        referral_id -> Text,
        kind -> Text,
        agency -> Nullable<Text>,
        owner_unit -> Text,
        state -> Text,
        opened_at -> Timestamp,
        ack_due_at -> Timestamp,
        act_due_at -> Nullable<Timestamp>,
        acknowledged_at -> Nullable<Timestamp>,
        acknowledged_by -> Nullable<Text>,
        settled_at -> Nullable<Timestamp>,
        escalations -> Integer,
    }
}

diesel::table! {
    referral_events (id) {
        id -> Text,
        referral_id -> Text,
        task_id -> Nullable<Text>,
        at -> Timestamp,
        actor -> Text,
        kind -> Text,
        details -> Text,
        note_sealed -> Nullable<Text>,
    }
}

diesel::table! {
    referral_access (referral_id, person_id) {
        referral_id -> Text,
        person_id -> Text,
        reason -> Text,
        granted_at -> Timestamp,
    }
}

diesel::table! {
    referral_clocks (id) {
        id -> Text,
        referral_id -> Text,
        kind -> Text,
        started_at -> Timestamp,
        due_at -> Timestamp,
        warn_at -> Timestamp,
        state -> Text,
        settled_at -> Nullable<Timestamp>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    referrals,
    referral_tasks,
    referral_events,
    referral_access,
    referral_clocks
);
diesel::joinable!(referral_tasks -> referrals (referral_id));
diesel::joinable!(referral_access -> referrals (referral_id));

diesel::table! {
    nomination_objections (id) {
        id -> Text,
        nomination_id -> Text,
        name -> Text,
        phone_sealed -> Text,
        reason -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    nomination_investigations (nomination_id) {
        nomination_id -> Text,
        publicity -> Text,
        remaining_ms -> BigInt,
        opened_at -> Timestamp,
    }
}

diesel::table! {
    volunteers (person_id) {
        person_id -> Text,
        home_village -> Text,
        county_code -> Text,
        topics -> Text,
        max_per_day -> Integer,
        available_from -> Nullable<Text>,
        available_to -> Nullable<Text>,
        unavailable -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    tours (id) {
        id -> Text,
        name -> Text,
        county_code -> Text,
        spec -> Text,
        state -> Text,
        plan_request -> Nullable<Text>,
        plan -> Nullable<Text>,
        plan_note -> Nullable<Text>,
        removals -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        planned_at -> Nullable<Timestamp>,
        published_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    tour_villages (tour_id, village_code) {
        tour_id -> Text,
        village_code -> Text,
        venue -> Text,
        capacity -> Nullable<Integer>,
    }
}

diesel::table! {
    tour_sessions (id) {
        id -> Text,
        tour_id -> Text,
        village_code -> Text,
        n -> Integer,
        volunteer_id -> Nullable<Text>,
        day -> Text,
        starts -> Text,
        ends -> Text,
        sequence -> Integer,
        state -> Text,
        attendance -> Nullable<Integer>,
        topic_covered -> Nullable<Bool>,
        note -> Nullable<Text>,
        recorded_at -> Nullable<Timestamp>,
    }
}
