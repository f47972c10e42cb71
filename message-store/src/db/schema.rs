// Written by hand, in diesel's `table!` form; `tests/api/schema.rs` checks
// it against the database the migrations build.

diesel::table! {
    conversations (id) {
        id -> Uuid,
        kind -> Text,
        name -> Nullable<Text>,
        private_low -> Nullable<Uuid>,
        private_high -> Nullable<Uuid>,
        created_at -> Timestamptz,
        membership_version -> Int8,
        activity_at -> Timestamptz,
        participant_count -> Int8,
    }
}

diesel::table! {
    ingest_offsets (topic, partition) {
        topic -> Text,
        partition -> Int4,
        next_offset -> Int8,
    }
}

diesel::table! {
    log_members (conversation_id, user_id) {
        conversation_id -> Uuid,
        user_id -> Uuid,
        active -> Bool,
        seq -> Int8,
        version -> Int8,
    }
}

diesel::table! {
    messages (conversation_id, id) {
        conversation_id -> Uuid,
        id -> Uuid,
        sender_id -> Uuid,
        body -> Text,
        created_at -> Timestamptz,
        client_id -> Nullable<Uuid>,
        seq -> Int8,
    }
}

diesel::table! {
    resends (conversation_id, seq) {
        conversation_id -> Uuid,
        seq -> Int8,
        sender_id -> Uuid,
        client_id -> Uuid,
    }
}

diesel::table! {
    outbox (id) {
        id -> Int8,
        topic -> Text,
        key -> Text,
        payload -> Jsonb,
        created_at -> Timestamptz,
        event -> Text,
    }
}

diesel::table! {
    participants (conversation_id, user_id) {
        conversation_id -> Uuid,
        user_id -> Uuid,
        joined_at -> Timestamptz,
        left_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    user_conversation_counts (user_id) {
        user_id -> Uuid,
        active -> Int8,
    }
}

diesel::joinable!(log_members -> conversations (conversation_id));
diesel::joinable!(messages -> conversations (conversation_id));
diesel::joinable!(participants -> conversations (conversation_id));
diesel::joinable!(resends -> conversations (conversation_id));

diesel::allow_tables_to_appear_in_same_query!(
    conversations,
    ingest_offsets,
    log_members,
    messages,
    outbox,
    participants,
    resends,
    user_conversation_counts,
);
