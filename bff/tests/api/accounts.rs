use actors_common::jwt::{JwtKeys, AUDIENCE_GATEWAY, ISSUER_BFF};
use actors_common::UserId;
use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, start_user_store, SECRET};

#[actix_web::test]
async fn register_me_logout_login_round_trip() {
    let app = spawn_app().await;
    let registered = app
        .request(
            "POST",
            "/api/auth/register",
            Some(json!({"username": "alice", "password": "wonderland1", "display_name": "Alice Liddell"})),
            None,
        )
        .await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    let user = &registered.body["user"];
    assert_eq!(user["username"], "alice");
    assert_eq!(user["display_name"], "Alice Liddell");
    let id: UserId = serde_json::from_value(user["id"].clone()).unwrap();
    let cookie = registered.cookie.expect("register sets the session cookie");

    // The profile in user-store has the same id, username and display name.
    let (status, profile) = app.profile(id).await;
    assert_eq!(status, 200);
    assert_eq!(profile["user"], *user);

    let me = app.request("GET", "/api/me", None, Some(&cookie)).await;
    assert_eq!((me.status, &me.body["user"]), (200, user));

    let out = app
        .request("POST", "/api/auth/logout", None, Some(&cookie))
        .await;
    assert_eq!(out.status, 204);
    let me = app.request("GET", "/api/me", None, Some(&cookie)).await;
    assert_eq!(
        (me.status, me.body["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );

    let login = app.login("alice", "wonderland1").await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert_eq!(login.body["user"], *user);
    let cookie = login.cookie.expect("login sets the session cookie");
    let me = app.request("GET", "/api/me", None, Some(&cookie)).await;
    assert_eq!((me.status, &me.body["user"]), (200, user));
}

#[actix_web::test]
async fn session_cookie_is_http_only_and_lax() {
    let app = spawn_app().await;
    let resp = app
        .client
        .post(format!("{}/api/auth/register", app.base))
        .send_json(&json!({"username": "cookie_check", "password": "password123"}))
        .await
        .unwrap();
    let set_cookie = resp
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set_cookie.starts_with("chat_session="), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(
        !set_cookie.contains("Secure"),
        "plain HTTP: not Secure; {set_cookie}"
    );
}

#[actix_web::test]
async fn concurrent_registrations_of_one_username_make_one_account() {
    // Room for all twenty in the hash queue (sign-ups may fill half of it).
    let app = spawn_app_with(|s| s.hash_queue = 64).await;
    let answers = join_all((0..20).map(|_| app.register("racer", "password123"))).await;
    let created = answers.iter().filter(|a| a.status == 201).count();
    let taken = answers
        .iter()
        .filter(|a| a.status == 409 && a.body["error"]["code"] == "username_taken")
        .count();
    assert_eq!((created, taken), (1, 19), "{answers:?}");
    assert_eq!(app.account_count("racer").await, 1);
    assert_eq!(app.profile_count("racer").await, 1);
}

#[actix_web::test]
async fn wrong_password_and_unknown_user_answer_alike() {
    let app = spawn_app().await;
    assert_eq!(app.register("bob", "builder123").await.status, 201);
    let wrong = app.login("bob", "not-the-password").await;
    let unknown = app.login("nobody_here", "builder123").await;
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.body["error"]["code"], "invalid_credentials");
    assert!(wrong.cookie.is_none() && unknown.cookie.is_none());
}

#[actix_web::test]
async fn registration_fails_cleanly_while_user_store_is_down() {
    let mut app = spawn_app().await;
    app.user_store.take().unwrap().stop(true).await;

    let down = app.register("patient", "password123").await;
    assert_eq!(
        (down.status, down.body["error"]["code"].as_str()),
        (503, Some("unavailable")),
        "{}",
        down.body
    );
    assert!(down.cookie.is_none());
    assert_eq!(app.account_count("patient").await, 0, "no account is kept");

    app.user_store = Some(start_user_store(&app.user_store_db, app.user_store_port).await);
    let again = app.register("patient", "password123").await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(app.account_count("patient").await, 1);
    assert_eq!(app.profile_count("patient").await, 1);
}

#[actix_web::test]
async fn each_validation_rule_has_its_code() {
    let app = spawn_app().await;
    for (body, code) in [
        (
            json!({"username": "ab", "password": "password123"}),
            "invalid_username",
        ),
        (
            json!({"username": "x".repeat(33), "password": "password123"}),
            "invalid_username",
        ),
        (
            json!({"username": "Upper", "password": "password123"}),
            "invalid_username",
        ),
        (
            json!({"username": "sp ace", "password": "password123"}),
            "invalid_username",
        ),
        (
            json!({"username": "okname", "password": "short"}),
            "invalid_password",
        ),
        (
            json!({"username": "okname", "password": "p".repeat(257)}),
            "invalid_password",
        ),
        (
            json!({"username": "okname", "password": "password123", "display_name": "d".repeat(65)}),
            "invalid_display_name",
        ),
        (
            json!({"username": "okname", "password": "password123", "display_name": "nul\u{0}"}),
            "invalid_display_name",
        ),
        (
            json!({"username": "okname", "password": "password123", "display_name": "esc\u{1b}[2J"}),
            "invalid_display_name",
        ),
        (json!({"username": "okname"}), "invalid_json"),
    ] {
        let a = app
            .request("POST", "/api/auth/register", Some(body.clone()), None)
            .await;
        assert_eq!(
            (a.status, a.body["error"]["code"].as_str()),
            (400, Some(code)),
            "{body}"
        );
    }
    let resp = app
        .client
        .post(format!("{}/api/auth/register", app.base))
        .insert_header(("content-type", "application/json"))
        .send_body("{not json")
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(app.account_count("okname").await, 0);
}

#[actix_web::test]
async fn api_routes_need_a_session() {
    let app = spawn_app().await;
    for (method, path) in [
        ("GET", "/api/me"),
        ("GET", "/api/ws-token"),
        ("GET", "/api/users?q=a"),
        ("POST", "/api/auth/logout"),
    ] {
        let a = app
            .request(method, path, None, Some("chat_session=forged"))
            .await;
        assert_eq!(
            (a.status, a.body["error"]["code"].as_str()),
            (401, Some("unauthenticated")),
            "{path}"
        );
    }
}

#[actix_web::test]
async fn ws_token_is_a_gateway_token_for_sixty_seconds() {
    let app = spawn_app().await;
    let reg = app.register("wsuser", "password123").await;
    let id: UserId = serde_json::from_value(reg.body["user"]["id"].clone()).unwrap();
    let a = app
        .request("GET", "/api/ws-token", None, reg.cookie.as_deref())
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["url"], "ws://127.0.0.1:8180/ws");
    assert_eq!(a.body["expires_in"], 60);
    let claims = JwtKeys::new(SECRET.as_bytes())
        .verify(
            a.body["token"].as_str().unwrap(),
            AUDIENCE_GATEWAY,
            &[ISSUER_BFF],
        )
        .unwrap();
    assert_eq!(claims.sub, id);
    assert_eq!(claims.exp - claims.iat, 60);
}

#[actix_web::test]
async fn user_directory_goes_through_user_store() {
    let app = spawn_app().await;
    let me = app.register("finder", "password123").await;
    for name in ["zed_one", "zed_two", "zoe"] {
        assert_eq!(app.register(name, "password123").await.status, 201);
    }
    let found = app
        .request(
            "GET",
            "/api/users?q=zed&limit=5",
            None,
            me.cookie.as_deref(),
        )
        .await;
    assert_eq!(found.status, 200, "{}", found.body);
    let names: Vec<_> = found.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["zed_one", "zed_two"]);
    let id = found.body["users"][0]["id"].as_str().unwrap();
    let one = app
        .request(
            "GET",
            &format!("/api/users/{id}"),
            None,
            me.cookie.as_deref(),
        )
        .await;
    assert_eq!(
        (one.status, one.body["user"]["username"].as_str()),
        (200, Some("zed_one"))
    );
    let missing = app
        .request(
            "GET",
            &format!("/api/users/{}", UserId::new_random()),
            None,
            me.cookie.as_deref(),
        )
        .await;
    assert_eq!(
        (missing.status, missing.body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let too_many = app
        .request("GET", "/api/users?q=z&limit=51", None, me.cookie.as_deref())
        .await;
    assert_eq!(
        (too_many.status, too_many.body["error"]["code"].as_str()),
        (400, Some("invalid_limit"))
    );
    let nul = app
        .request("GET", "/api/users?q=a%00", None, me.cookie.as_deref())
        .await;
    assert_eq!(
        (nul.status, nul.body["error"]["code"].as_str()),
        (400, Some("invalid_query"))
    );
}

#[actix_web::test]
async fn login_attempts_are_rate_limited() {
    let app = spawn_app_with(|s| s.login_per_username_per_min = 2).await;
    assert_eq!(app.register("guarded", "password123").await.status, 201);
    // Burst is twice the per-minute rate: four attempts pass, the fifth is refused.
    for _ in 0..4 {
        assert_eq!(app.login("guarded", "wrong-password").await.status, 401);
    }
    let limited = app.login("guarded", "password123").await;
    assert_eq!(
        (limited.status, limited.body["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
}

#[actix_web::test]
async fn a_forged_forwarded_for_does_not_escape_the_address_limit() {
    let app = spawn_app_with(|s| {
        s.trust_proxy = true;
        s.login_per_address_per_min = 2; // burst 4 per address
    })
    .await;
    assert_eq!(app.register("forger", "password123").await.status, 201);
    // The client writes a new address each time; our proxy appends the real one.
    let forged: Vec<String> = (0..6)
        .map(|i| format!("10.9.0.{i}, 198.51.100.9"))
        .collect();
    let statuses: Vec<u16> = join_all(
        forged
            .iter()
            .map(|f| app.login_via("forger", "wrong-password", f)),
    )
    .await;
    assert_eq!(
        statuses.iter().filter(|&&s| s == 429).count(),
        2,
        "{statuses:?}"
    );
    // Another real address still has its own budget.
    assert_eq!(
        app.login_via("forger", "password123", "203.0.113.7").await,
        200
    );
}

#[actix_web::test]
async fn a_strangers_bad_logins_do_not_lock_the_owner_out() {
    let app = spawn_app_with(|s| {
        s.trust_proxy = true;
        s.login_per_username_per_min = 2; // burst 4 per (username, address)
    })
    .await;
    assert_eq!(app.register("owner", "password123").await.status, 201);
    let mut refused = 0;
    for _ in 0..21 {
        if app.login_via("owner", "guess-guess", "198.51.100.9").await == 429 {
            refused += 1;
        }
    }
    assert_eq!(refused, 17, "the stranger is limited");
    assert_eq!(
        app.login_via("owner", "password123", "203.0.113.7").await,
        200
    );
}

#[actix_web::test]
async fn sign_ups_are_limited_per_address() {
    let app = spawn_app_with(|s| s.signup_per_address_per_min = 1).await; // burst 2
    assert_eq!(app.register("first_one", "password123").await.status, 201);
    assert_eq!(app.register("second_one", "password123").await.status, 201);
    let third = app.register("third_one", "password123").await;
    assert_eq!(
        (third.status, third.body["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    assert_eq!(app.account_count("third_one").await, 0);
}

#[actix_web::test]
async fn metrics_count_requests_by_route_and_status_and_the_hash_pool() {
    let app = spawn_app().await;
    assert_eq!(app.register("counted", "password123").await.status, 201);
    assert_eq!(app.login("counted", "wrong-password").await.status, 401);
    let text = app.metrics().await;
    for line in [
        r#"http_requests_total{method="POST",route="/api/auth/register",status="201"} 1"#,
        r#"http_requests_total{method="POST",route="/api/auth/login",status="401"} 1"#,
        "bff_password_hash_waiting 0",
        "bff_password_hash_running 0",
        "bff_password_hash_refused_total 0",
    ] {
        assert!(text.contains(line), "{line} in:\n{text}");
    }
}

/// A profile whose registration was undone while its insert was still on
/// its way holds the username in user-store with no account behind it; the
/// next registration of that name takes it back instead of failing for
/// good. A profile that has an account is never touched.
#[actix_web::test]
async fn a_profile_left_without_an_account_does_not_hold_its_name() {
    let app = spawn_app().await;
    let ghost = UserId::new_random();
    let token = JwtKeys::new(SECRET.as_bytes()).mint(
        ISSUER_BFF,
        actors_common::jwt::AUDIENCE_USER_STORE,
        ghost,
        std::time::Duration::from_secs(60),
    );
    let status = app
        .client
        .post(format!("http://127.0.0.1:{}/users", app.user_store_port))
        .bearer_auth(token)
        .send_json(&json!({"id": ghost, "username": "phoebe"}))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 201);

    let registered = app.register("phoebe", "password123").await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    let id: UserId = serde_json::from_value(registered.body["user"]["id"].clone()).unwrap();
    assert_eq!(app.profile(ghost).await.0, 404, "the orphan went");
    assert_eq!(app.profile(id).await.1["user"]["username"], "phoebe");
    assert_eq!(
        (
            app.account_count("phoebe").await,
            app.profile_count("phoebe").await
        ),
        (1, 1)
    );

    // A real holder stays: the name is taken.
    let again = app.register("phoebe", "password456").await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(app.profile(id).await.0, 200);
}
