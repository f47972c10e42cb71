//! `src/db/schema.rs` is written by hand: it must say what the migrations build.

#[actix_web::test]
async fn schema_rs_matches_the_migrations() {
    let url = test_support::fresh_database("message_store", message_store::MIGRATIONS).await;
    test_support::schema::assert_matches(&url, include_str!("../../src/db/schema.rs")).await;
}
