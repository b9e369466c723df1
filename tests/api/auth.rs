//! API keys, roles and branch scoping.

use crate::common::TestApp;
use actix_web::web;
use postamat::db::models::api_key;
use postamat::domain::role::Role;
use postamat::workflows::keys::{self, LastAdmin};
use serde_json::json;

#[actix_web::test]
async fn an_admin_creates_a_branch_clerk_key_whose_token_is_shown_once() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    app.branch(&admin, "ALM01", "Алматы").await;

    let created = app
        .post(
            "/api/v1/admin/keys",
            Some(&admin),
            &json!({"name": "Айгерим, сектор накопления", "role": "accumulation_clerk", "branch": "alm01"}),
        )
        .await
        .assert_status(201);
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("pst_"));
    assert_eq!(created["key"]["branch"], "ALM01");

    let me = app.get("/api/v1/me", Some(&token)).await.assert_status(200);
    assert_eq!(me["role"], "accumulation_clerk");
    assert_eq!(me["branch"], "ALM01");
    assert_eq!(me["key_id"], created["key"]["id"]);

    let listed = app.get("/api/v1/admin/keys", Some(&admin)).await;
    listed.assert_status(200);
    assert!(
        !listed.text.contains(&token),
        "a listing never shows a token"
    );
    assert!(!listed.text.contains("token_hash"));
}

#[actix_web::test]
async fn a_revoked_key_stops_working_at_once() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let created = app
        .post(
            "/api/v1/admin/keys",
            Some(&admin),
            &json!({"name": "Kaspi", "role": "kaspi"}),
        )
        .await
        .assert_status(201);
    let token = created["token"].as_str().unwrap();
    let id = created["key"]["id"].as_str().unwrap();
    app.get("/api/v1/me", Some(token)).await.assert_status(200);

    let revoked = app
        .post(
            &format!("/api/v1/admin/keys/{id}/revoke"),
            Some(&admin),
            &json!({}),
        )
        .await
        .assert_status(200);
    assert!(revoked["revoked_at"].is_string());
    app.get("/api/v1/me", Some(token))
        .await
        .assert_problem(401, "invalid_token");

    // Revoking again keeps the first revocation time.
    let again = app
        .post(
            &format!("/api/v1/admin/keys/{id}/revoke"),
            Some(&admin),
            &json!({}),
        )
        .await
        .assert_status(200);
    assert_eq!(again["revoked_at"], revoked["revoked_at"]);
    app.post(
        &format!("/api/v1/admin/keys/{}/revoke", uuid::Uuid::now_v7()),
        Some(&admin),
        &json!({}),
    )
    .await
    .assert_problem(404, "not_found");
}

/// Issue 26: keys are cached by each instance on PostgreSQL; a revocation at one instance is
/// refused by the other on the very next request, and so is one made behind both (the CLI).
#[actix_web::test]
async fn a_key_revoked_at_one_instance_is_refused_at_once_by_another() {
    let a = TestApp::new().await;
    let b = a.another_instance().await;
    a.wait_for_key_cache().await;
    b.wait_for_key_cache().await;
    let admin = a.admin().await;
    let postgres = a.backend() == "postgres";
    for round in 0..20 {
        let created = a
            .post(
                "/api/v1/admin/keys",
                Some(&admin),
                &json!({"name": format!("Kaspi {round}"), "role": "kaspi"}),
            )
            .await
            .assert_status(201);
        let token = created["token"].as_str().unwrap();
        let id = created["key"]["id"].as_str().unwrap();
        for app in [&a, &b, &b] {
            app.get("/api/v1/me", Some(token)).await.assert_status(200);
        }
        if postgres {
            assert!(b.keys.get(token).is_some(), "the key is cached at b");
        }
        a.post(
            &format!("/api/v1/admin/keys/{id}/revoke"),
            Some(&admin),
            &json!({}),
        )
        .await
        .assert_status(200);
        b.get("/api/v1/me", Some(token))
            .await
            .assert_problem(401, "invalid_token");
        a.get("/api/v1/me", Some(token))
            .await
            .assert_problem(401, "invalid_token");
    }

    // Revoked behind both instances' backs (`postamat keys revoke` runs this): the notice
    // comes from the database's trigger, not from an instance.
    let token = a.token(Role::Kaspi, None).await;
    a.get("/api/v1/me", Some(&token)).await.assert_status(200);
    let me = b.get("/api/v1/me", Some(&token)).await.assert_status(200);
    let id: postamat::domain::ids::KeyId = me["key_id"].as_str().unwrap().parse().unwrap();
    let pool = a.pool.clone();
    let now = a.clock.now();
    web::block(move || keys::revoke(&mut pool.get().unwrap(), id, LastAdmin::Allow, now).unwrap())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    for app in [&a, &b] {
        while app.get("/api/v1/me", Some(&token)).await.status != 401 {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(3),
                "a key revoked in the database is refused within seconds"
            );
            actix_web::rt::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}

#[actix_web::test]
async fn keys_must_fit_their_role_and_name_an_existing_branch() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    app.branch(&admin, "ALM01", "Алматы").await;
    for body in [
        json!({"name": "clerk", "role": "issuance_clerk"}),
        json!({"name": "kaspi", "role": "kaspi", "branch": "ALM01"}),
        json!({"name": "courier", "role": "state_courier", "branch": "KRG01"}),
    ] {
        app.post("/api/v1/admin/keys", Some(&admin), &body)
            .await
            .assert_problem(422, "validation_failed");
    }
    app.post(
        "/api/v1/admin/keys",
        Some(&admin),
        &json!({"name": "x", "role": "root"}),
    )
    .await
    .assert_problem(400, "invalid_body");
    let keys = app
        .get("/api/v1/admin/keys", Some(&admin))
        .await
        .assert_status(200);
    assert_eq!(
        keys.as_array().unwrap().len(),
        1,
        "only the admin key exists"
    );
}

#[actix_web::test]
async fn branch_staff_see_only_their_own_branch() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    app.branch(&admin, "ALM01", "Алматы").await;
    app.branch(&admin, "AST01", "Астана").await;
    let clerk = app.token(Role::IssuanceClerk, Some("ALM01")).await;
    let national = app.token(Role::Supervisor, None).await;
    let branch_supervisor = app.token(Role::Supervisor, Some("AST01")).await;

    let seen = app
        .get("/api/v1/branches", Some(&clerk))
        .await
        .assert_status(200);
    let codes: Vec<&str> = seen
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["ALM01"]);
    app.get("/api/v1/branches/ALM01", Some(&clerk))
        .await
        .assert_status(200);
    app.get("/api/v1/branches/AST01", Some(&clerk))
        .await
        .assert_problem(403, "branch_forbidden");

    let seen = app
        .get("/api/v1/branches", Some(&national))
        .await
        .assert_status(200);
    assert_eq!(seen.as_array().unwrap().len(), 2);
    let seen = app
        .get("/api/v1/branches", Some(&branch_supervisor))
        .await
        .assert_status(200);
    assert_eq!(seen[0]["code"], "AST01");
    assert_eq!(seen.as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn the_first_start_creates_one_admin_key_and_never_again() {
    let app = TestApp::new().await;
    let pool = app.pool.clone();
    let now = app.clock.now();
    let (first, second) = web::block(move || {
        let mut conn = pool.get().unwrap();
        let first = api_key::bootstrap_admin(&mut conn, now).unwrap();
        let second = api_key::bootstrap_admin(&mut conn, now).unwrap();
        (first, second)
    })
    .await
    .unwrap();
    let (key, token) = first.expect("an empty database gets an admin key");
    assert_eq!(key.role, Role::Admin);
    assert!(second.is_none());
    let me = app.get("/api/v1/me", Some(&token)).await.assert_status(200);
    assert_eq!(me["role"], "admin");

    // Revoking every key (the last admin key only by force, as the CLI does) does not bring
    // the bootstrap back.
    app.post(
        &format!("/api/v1/admin/keys/{}/revoke", key.id),
        Some(&token),
        &json!({}),
    )
    .await
    .assert_problem(409, "last_admin_key");
    let pool = app.pool.clone();
    let again = web::block(move || {
        let mut conn = pool.get().unwrap();
        keys::revoke(&mut conn, key.id, LastAdmin::Allow, now).unwrap();
        api_key::bootstrap_admin(&mut conn, now).unwrap()
    })
    .await
    .unwrap();
    assert!(again.is_none());
}

#[actix_web::test]
async fn no_bootstrap_key_when_keys_already_exist() {
    let app = TestApp::new().await;
    app.token(Role::Kaspi, None).await;
    let pool = app.pool.clone();
    let now = app.clock.now();
    let created =
        web::block(move || api_key::bootstrap_admin(&mut pool.get().unwrap(), now).unwrap())
            .await
            .unwrap();
    assert!(created.is_none());
}

#[actix_web::test]
async fn the_last_active_admin_key_is_not_revoked_over_http() {
    let app = TestApp::new().await;
    let first = app.admin().await;
    let me = app.get("/api/v1/me", Some(&first)).await.assert_status(200);
    let first_id = me["key_id"].as_str().unwrap().to_owned();
    let second = app
        .post(
            "/api/v1/admin/keys",
            Some(&first),
            &json!({"name": "second admin", "role": "admin"}),
        )
        .await
        .assert_status(201);
    let (second_token, second_id) = (
        second["token"].as_str().unwrap().to_owned(),
        second["key"]["id"].as_str().unwrap().to_owned(),
    );
    // Two active admin keys: one may go, even the caller's own.
    app.post(
        &format!("/api/v1/admin/keys/{first_id}/revoke"),
        Some(&first),
        &json!({}),
    )
    .await
    .assert_status(200);
    let refused = app
        .post(
            &format!("/api/v1/admin/keys/{second_id}/revoke"),
            Some(&second_token),
            &json!({}),
        )
        .await
        .assert_problem(409, "last_admin_key");
    assert!(refused["detail"].as_str().unwrap().contains("--force"));
    app.get("/api/v1/me", Some(&second_token))
        .await
        .assert_status(200);
    // Other keys are revoked as before.
    let kaspi = app.token(Role::Kaspi, None).await;
    let kaspi_id = app.get("/api/v1/me", Some(&kaspi)).await.assert_status(200)["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        &format!("/api/v1/admin/keys/{kaspi_id}/revoke"),
        Some(&second_token),
        &json!({}),
    )
    .await
    .assert_status(200);
}

/// Security review, issue 28 finding 3: a State courier's key read every citizen's full IIN,
/// phone and name. Each role now sees what `domain::personal_data` gives it, in the API as in
/// the console, and no answer of the API may be kept by a cache.
#[actix_web::test]
async fn each_role_sees_of_a_citizen_only_what_its_work_needs() {
    use crate::common::{Pilot, iin};
    let p = Pilot::new().await;
    let registered = p.register("PD-1", "con").await;
    // Kaspi sent the data itself and reads it back whole.
    assert_eq!(registered["applicant_iin"], iin(12));
    assert_eq!(registered["phone"], "+77011234567");
    p.execute("PD-1").await;
    let taken = p.intake(&["PD-1"], Some("РАГС-реестр 1/2026")).await;
    let id = taken["items"][0]["shipment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let issue = json!({"recipient": {"type": "representative", "iin": iin(40), "name": "Нұрлан", "power_of_attorney": "Доверенность №5"}});
    p.app
        .post(
            &format!("/api/v1/shipments/{id}/issue"),
            Some(&p.issuance),
            &issue,
        )
        .await
        .assert_status(200);

    let masked_iin = format!("••••••••{}", &iin(12)[8..]);
    let branch_supervisor = p.app.token(Role::Supervisor, Some("ALM01")).await;
    let national = p.app.token(Role::Supervisor, None).await;
    for (who, token, shown) in [
        ("accumulation clerk", &p.clerk, true),
        ("issuance clerk", &p.issuance, true),
        ("branch supervisor", &branch_supervisor, true),
        ("national supervisor", &national, true),
        ("state courier", &p.courier, false),
    ] {
        let answer = p.app.get("/api/v1/applications/PD-1", Some(token)).await;
        assert_eq!(
            answer.header("cache-control").as_deref(),
            Some("no-store"),
            "{who}"
        );
        let view = answer.assert_status(200);
        let shipment = p
            .app
            .get(&format!("/api/v1/shipments/{id}"), Some(token))
            .await
            .assert_status(200);
        let issued = shipment["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["event"] == "issued")
            .unwrap()
            .clone();
        if shown {
            assert_eq!(view["applicant_iin"], masked_iin.as_str(), "{who}");
            assert_eq!(view["phone"], "••••••••••67", "{who}");
            assert_eq!(view["applicant_name"], "Нұрланова Айгерім", "{who}");
            assert_eq!(shipment["recipient_name"], "Нұрлан", "{who}");
            assert_eq!(shipment["power_of_attorney"], "Доверенность №5", "{who}");
            assert_eq!(issued["details"]["power_of_attorney"], "Доверенность №5");
        } else {
            for field in ["applicant_iin", "phone", "applicant_name"] {
                assert_eq!(view[field], json!(null), "{who}: {field}");
            }
            assert_eq!(shipment["recipient_name"], json!(null), "{who}");
            assert_eq!(shipment["power_of_attorney"], json!(null), "{who}");
            assert_eq!(issued["details"]["power_of_attorney"], json!(null), "{who}");
            assert_eq!(
                shipment["application_number"], "PD-1",
                "a handover needs the number"
            );
        }
        let body = serde_json::to_string(&view).unwrap() + &shipment.to_string();
        assert!(!body.contains(&iin(12)), "{who} saw the whole IIN");
        assert!(
            !body.contains(&iin(40)),
            "{who} saw the representative's IIN"
        );
    }
    // Refusals are not cached either.
    let refused = p.app.get("/api/v1/applications/NONE", Some(&p.clerk)).await;
    assert_eq!(refused.header("cache-control").as_deref(), Some("no-store"));
}
