// Written by hand, in diesel's `table!` form; `tests/api/schema.rs` checks
// it against the database the migrations build.

diesel::table! {
    users (id) {
        id -> Uuid,
        username -> Text,
        display_name -> Text,
        created_at -> Timestamptz,
    }
}
