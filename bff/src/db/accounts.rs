//! Queries on `accounts`.

use actors_common::UserId;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::accounts;

/// An account row.
#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = accounts, check_for_backend(diesel::pg::Pg))]
pub struct Account {
    pub id: UserId,
    pub username: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

/// Inserts an account; a taken username is a unique violation on
/// `accounts_username_key`.
pub async fn insert(conn: &mut AsyncPgConnection, account: &Account) -> QueryResult<()> {
    diesel::insert_into(accounts::table)
        .values(account)
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn find_by_username(
    conn: &mut AsyncPgConnection,
    username: &str,
) -> QueryResult<Option<Account>> {
    accounts::table
        .filter(accounts::username.eq(username))
        .select(Account::as_select())
        .first(conn)
        .await
        .optional()
}

/// Whether an account with this id exists.
pub async fn exists(conn: &mut AsyncPgConnection, id: UserId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(accounts::table.find(id)))
        .get_result(conn)
        .await
}

/// Removes an account (its sessions go with it).
pub async fn delete(conn: &mut AsyncPgConnection, id: UserId) -> QueryResult<usize> {
    diesel::delete(accounts::table.find(id)).execute(conn).await
}
