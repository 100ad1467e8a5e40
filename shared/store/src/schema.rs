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
    }
}

diesel::allow_tables_to_appear_in_same_query!(people, outgoing_mail);
diesel::joinable!(outgoing_mail -> people (person_id));
