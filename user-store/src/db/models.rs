//! Row types and their wire shape.

use actors_common::UserId;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::users;

/// A profile as stored; it goes out as `actors_common::api::User`.
#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub created_at: DateTime<Utc>,
}

impl From<User> for actors_common::api::User {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            created_at: u.created_at,
        }
    }
}
