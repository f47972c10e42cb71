//! Rebuilds the crate when a migration changes: `embed_migrations!` reads
//! the SQL at compile time, and without this cargo would keep the old SQL.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
