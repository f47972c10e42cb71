// Written by hand, in diesel's `table!` form; `tests/api/schema.rs` checks
// it against the database the migrations build.

diesel::table! {
    accounts (id) {
        id -> Uuid,
        username -> Text,
        password_hash -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    sessions (token_hash) {
        token_hash -> Bytea,
        user_id -> Uuid,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::joinable!(sessions -> accounts (user_id));

diesel::allow_tables_to_appear_in_same_query!(accounts, sessions,);
