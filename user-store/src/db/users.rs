//! Queries on `users`.

use actors_common::UserId;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::models::User;
use super::schema::users;

/// Inserts a profile.
pub async fn insert(conn: &mut AsyncPgConnection, user: &User) -> QueryResult<User> {
    diesel::insert_into(users::table)
        .values(user)
        .returning(User::as_returning())
        .get_result(conn)
        .await
}

/// Removes a profile; how many rows went (0 or 1).
pub async fn delete(conn: &mut AsyncPgConnection, id: UserId) -> QueryResult<usize> {
    diesel::delete(users::table.find(id)).execute(conn).await
}

pub async fn find(conn: &mut AsyncPgConnection, id: UserId) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

/// Profiles with these ids (unknown ids are skipped), ordered by username.
pub async fn find_many(conn: &mut AsyncPgConnection, ids: &[UserId]) -> QueryResult<Vec<User>> {
    users::table
        .filter(users::id.eq_any(ids))
        .order(users::username)
        .select(User::as_select())
        .load(conn)
        .await
}

/// Escapes LIKE's wildcards so a username prefix matches literally.
fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Usernames starting with `prefix`, after `after`, in username order: a
/// range scan of the unique index (C collation), whatever the page.
pub async fn search(
    conn: &mut AsyncPgConnection,
    prefix: &str,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<User>> {
    let mut query = users::table
        .filter(users::username.like(like_prefix(prefix)))
        .order(users::username)
        .limit(limit)
        .select(User::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(users::username.gt(after.to_owned()));
    }
    query.load(conn).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_prefix_escapes_wildcards() {
        assert_eq!(super::like_prefix("a_b%c\\"), "a\\_b\\%c\\\\%");
        assert_eq!(super::like_prefix(""), "%");
    }
}
