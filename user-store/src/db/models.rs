//! Row types and their wire shape.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use super::schema::users;

/// A profile as stored and as sent: PROTOCOL.md's `User`.
#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    #[serde(with = "actors_common::time::rfc3339_millis")]
    pub created_at: DateTime<Utc>,
}
