//! Checks a crate's `schema.rs` (diesel `table!` declarations, written by
//! hand) against the database its migrations build: the same tables, each
//! with the same primary key and the same columns, of the same SQL types
//! and nullability. That is what `diesel print-schema` and a diff would
//! check, without the CLI (one more tool to build on every machine).
//!
//! ```ignore
//! let url = test_support::fresh_database("bff", bff::MIGRATIONS).await;
//! test_support::schema::assert_matches(&url, include_str!("../../src/db/schema.rs")).await;
//! ```

use std::collections::BTreeMap;

use diesel::sql_types::{Nullable, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

/// A column as both sides describe it: PostgreSQL's type name
/// (`udt_name`: `uuid`, `int8`, `_text` for `text[]`) and nullability.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Column {
    pub name: String,
    pub pg_type: String,
    pub nullable: bool,
}

/// A table: its primary key (in order) and its columns (by name).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub primary_key: Vec<String>,
    pub columns: BTreeMap<String, Column>,
}

/// PostgreSQL's name of a diesel SQL type (the ones this workspace uses).
fn pg_type(diesel: &str) -> String {
    if let Some(inner) = diesel
        .strip_prefix("Array<")
        .and_then(|t| t.strip_suffix('>'))
    {
        return format!("_{}", pg_type(inner));
    }
    match diesel {
        "Uuid" => "uuid",
        "Text" | "Varchar" => "text",
        "Int8" | "BigInt" => "int8",
        "Int4" | "Integer" => "int4",
        "Int2" | "SmallInt" => "int2",
        "Bool" => "bool",
        "Timestamptz" => "timestamptz",
        "Timestamp" => "timestamp",
        "Jsonb" => "jsonb",
        "Bytea" => "bytea",
        other => return format!("unknown diesel type {other}"),
    }
    .to_owned()
}

/// The tables `schema.rs` declares.
pub fn parse(schema_rs: &str) -> BTreeMap<String, Table> {
    let mut tables = BTreeMap::new();
    let mut lines = schema_rs.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line != "diesel::table! {" {
            continue;
        }
        // `name (pk, ...) {`
        let Some(head) = lines.next() else { break };
        let (name, rest) = head.split_once(' ').unwrap_or((head, ""));
        let primary_key = rest
            .trim_end_matches('{')
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .split(',')
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect();
        let mut table = Table {
            primary_key,
            ..Table::default()
        };
        for line in lines.by_ref() {
            if line == "}" {
                break;
            }
            let Some((column, ty)) = line.trim_end_matches(',').split_once("->") else {
                continue; // a comment or an attribute
            };
            let (column, ty) = (column.trim().trim_start_matches("r#"), ty.trim());
            let (ty, nullable) = match ty
                .strip_prefix("Nullable<")
                .and_then(|t| t.strip_suffix('>'))
            {
                Some(inner) => (inner, true),
                None => (ty, false),
            };
            table.columns.insert(
                column.to_owned(),
                Column {
                    name: column.to_owned(),
                    pg_type: pg_type(ty),
                    nullable,
                },
            );
        }
        tables.insert(name.to_owned(), table);
    }
    tables
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    udt_name: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
    #[diesel(sql_type = Nullable<Text>)]
    key_position: Option<String>,
}

/// The tables of the database at `database_url` (public schema, diesel's
/// own bookkeeping left out). Panics (failing the test) when it cannot.
#[allow(clippy::expect_used)]
pub async fn read(database_url: &str) -> BTreeMap<String, Table> {
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .expect("connect to read the schema");
    let rows: Vec<ColumnRow> = diesel::sql_query(
        "SELECT c.table_name::text, c.column_name::text, c.udt_name::text, c.is_nullable::text, \
                (SELECT k.ordinal_position::text FROM information_schema.table_constraints t \
                   JOIN information_schema.key_column_usage k \
                     ON k.constraint_name = t.constraint_name AND k.table_name = t.table_name \
                  WHERE t.table_schema = 'public' AND t.constraint_type = 'PRIMARY KEY' \
                    AND t.table_name = c.table_name AND k.column_name = c.column_name) AS key_position \
           FROM information_schema.columns c \
          WHERE c.table_schema = 'public' AND c.table_name <> '__diesel_schema_migrations' \
          ORDER BY c.table_name, c.ordinal_position",
    )
    .load(&mut conn)
    .await
    .expect("read information_schema");
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    let mut keys: BTreeMap<String, Vec<(u32, String)>> = BTreeMap::new();
    for r in rows {
        if let Some(at) = r.key_position.as_deref().and_then(|p| p.parse().ok()) {
            keys.entry(r.table_name.clone())
                .or_default()
                .push((at, r.column_name.clone()));
        }
        tables.entry(r.table_name).or_default().columns.insert(
            r.column_name.clone(),
            Column {
                name: r.column_name,
                pg_type: r.udt_name,
                nullable: r.is_nullable == "YES",
            },
        );
    }
    for (table, mut key) in keys {
        key.sort();
        if let Some(t) = tables.get_mut(&table) {
            t.primary_key = key.into_iter().map(|(_, c)| c).collect();
        }
    }
    tables
}

/// Panics, naming every difference, unless `schema_rs` describes the
/// database at `database_url` exactly.
pub async fn assert_matches(database_url: &str, schema_rs: &str) {
    let declared = parse(schema_rs);
    let actual = read(database_url).await;
    let mut differences = Vec::new();
    for (name, table) in &actual {
        match declared.get(name) {
            None => differences.push(format!("table {name} is not in schema.rs")),
            Some(d) => {
                if d.primary_key != table.primary_key {
                    differences.push(format!(
                        "{name}: primary key {:?} in schema.rs, {:?} in the database",
                        d.primary_key, table.primary_key
                    ));
                }
                for (column, c) in &table.columns {
                    match d.columns.get(column) {
                        None => differences.push(format!("{name}.{column} is not in schema.rs")),
                        Some(dc) if dc != c => differences.push(format!(
                            "{name}.{column}: schema.rs says {} {}, the database {} {}",
                            dc.pg_type,
                            if dc.nullable { "null" } else { "not null" },
                            c.pg_type,
                            if c.nullable { "null" } else { "not null" },
                        )),
                        Some(_) => {}
                    }
                }
                for column in d.columns.keys().filter(|c| !table.columns.contains_key(*c)) {
                    differences.push(format!("{name}.{column} is in schema.rs only"));
                }
            }
        }
    }
    for name in declared.keys().filter(|t| !actual.contains_key(*t)) {
        differences.push(format!("table {name} is in schema.rs only"));
    }
    assert!(
        differences.is_empty(),
        "schema.rs does not match the migrations:\n  {}",
        differences.join("\n  ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tables_keys_types_and_nullability() {
        let t = parse(
            "diesel::table! {\n    resends (conversation_id, seq) {\n        conversation_id -> Uuid,\n        seq -> Int8,\n        note -> Nullable<Text>,\n        tags -> Array<Text>,\n    }\n}\n",
        );
        let r = &t["resends"];
        assert_eq!(r.primary_key, ["conversation_id", "seq"]);
        assert_eq!(r.columns["seq"].pg_type, "int8");
        assert!(r.columns["note"].nullable && !r.columns["seq"].nullable);
        assert_eq!(r.columns["tags"].pg_type, "_text");
    }
}
