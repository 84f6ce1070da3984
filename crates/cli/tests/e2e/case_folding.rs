//! One case folding (`scim::fold_case`) for uniqueness, filters and sorting:
//! whatever spelling of a name was created, every other spelling that folds
//! alike is refused with 409 and finds that one resource.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, entra_user, form_encode, spawn_app};

const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// The ids a list response holds, in order.
fn ids(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .expect("Resources")
        .iter()
        .map(|resource| resource["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// The userNames a list response holds, in order.
fn user_names(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .expect("Resources")
        .iter()
        .map(|resource| {
            resource["userName"]
                .as_str()
                .expect("a userName")
                .to_owned()
        })
        .collect()
}

async fn users_named(app: &TestApp, user_name: &str) -> Vec<String> {
    let (status, body) = app
        .filter_users(&format!("userName eq \"{user_name}\""))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    ids(&body)
}

async fn create_group(app: &TestApp, name: &str) -> (StatusCode, Value) {
    let body = json!({"schemas": [GROUP_SCHEMA], "displayName": name});
    app.send(
        app.request_as(&app.token, Method::POST, "/Groups")
            .header("content-type", "application/scim+json")
            .body(body.to_string()),
    )
    .await
}

async fn groups_named(app: &TestApp, name: &str) -> Vec<String> {
    let filter = form_encode(&format!("displayName eq \"{name}\""));
    let (status, body) = app.get(&format!("/Groups?filter={filter}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    ids(&body)
}

/// The three spellings of one Greek name, in every order of creation.
const SIGMAS: [&str; 3] = ["ΣΑΣ", "σας", "σασ"];

#[tokio::test]
async fn every_spelling_of_a_sigma_name_is_one_user_name() {
    let app = spawn_app().await;
    for (domain, first) in SIGMAS.iter().enumerate() {
        let name = |spelling: &str| format!("{spelling}@x{domain}.example");
        let id = app.provision(&name(first)).await;
        for other in SIGMAS.iter().filter(|other| *other != first) {
            let (status, body) = app.create_user(entra_user(&name(other))).await;
            assert_eq!(
                status,
                StatusCode::CONFLICT,
                "{} after {}: {body}",
                name(other),
                name(first)
            );
            assert_eq!(body["scimType"], "uniqueness");
        }
        for spelling in SIGMAS {
            assert_eq!(
                users_named(&app, &name(spelling)).await,
                std::slice::from_ref(&id),
                "userName eq {} after creating {}",
                name(spelling),
                name(first)
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_dotted_capital_i_is_i_with_a_combining_dot_and_not_a_plain_i() {
    let app = spawn_app().await;
    let dotted = app.provision("İnfo@y.example").await;
    let (status, body) = app.create_user(entra_user("i\u{307}nfo@y.example")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    for spelling in [
        "İnfo@y.example",
        "i\u{307}nfo@y.example",
        "I\u{307}NFO@Y.example",
    ] {
        assert_eq!(
            users_named(&app, spelling).await,
            std::slice::from_ref(&dotted),
            "{spelling}"
        );
    }
    // Without the dot it is another name, kept apart by uniqueness and filters alike.
    let plain = app.provision("INFO@y.example").await;
    assert_eq!(users_named(&app, "info@y.example").await, [plain]);
    app.stop().await;
}

#[tokio::test]
async fn group_display_names_fold_alike_for_uniqueness_and_filters() {
    let app = spawn_app().await;
    for (n, first) in SIGMAS.iter().enumerate() {
        let name = |spelling: &str| format!("{spelling} team {n}");
        let (status, body) = create_group(&app, &name(first)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_str().expect("an id").to_owned();
        for other in SIGMAS.iter().filter(|other| *other != first) {
            let (status, body) = create_group(&app, &name(other)).await;
            assert_eq!(
                status,
                StatusCode::CONFLICT,
                "{} after {}: {body}",
                name(other),
                name(first)
            );
        }
        for spelling in SIGMAS {
            assert_eq!(
                groups_named(&app, &name(spelling)).await,
                std::slice::from_ref(&id)
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn sorting_and_prefixes_follow_the_fold() {
    let app = spawn_app().await;
    // Folded: σa, σb, σc. PostgreSQL's lower() keeps ς (U+03C2) before σ.
    for name in ["Σc@s.example", "ςb@s.example", "σa@s.example"] {
        app.provision(name).await;
    }
    let query = |order: &str| {
        format!(
            "filter={}&sortBy=userName&sortOrder={order}",
            form_encode("userName ew \"@S.EXAMPLE\"")
        )
    };
    let (status, body) = app.list_users(&query("ascending")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        user_names(&body),
        ["σa@s.example", "ςb@s.example", "Σc@s.example"]
    );
    let (_, body) = app.list_users(&query("descending")).await;
    assert_eq!(
        user_names(&body),
        ["Σc@s.example", "ςb@s.example", "σa@s.example"]
    );
    for prefix in ["Σ", "σ", "ς"] {
        let (_, body) = app.filter_users(&format!("userName sw \"{prefix}\"")).await;
        assert_eq!(body["totalResults"], 3, "userName sw {prefix}: {body}");
    }
    let (_, body) = app
        .list_users(&format!(
            "filter={}&sortBy=userName",
            form_encode("userName gt \"ςA@S.EXAMPLE\"")
        ))
        .await;
    assert_eq!(
        user_names(&body),
        ["ςb@s.example", "Σc@s.example"],
        "gt compares folded texts"
    );
    app.stop().await;
}

#[tokio::test]
async fn entras_work_email_match_folds_like_user_names() {
    let app = spawn_app().await;
    let mut body = entra_user("someone@z.example");
    body["emails"] = json!([{"type": "Work", "value": "ΣΑΣ@Z.example", "primary": true}]);
    let (status, created) = app.create_user(body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    for spelling in SIGMAS {
        let (status, found) = app
            .filter_users(&format!(
                "emails[type eq \"work\"].value eq \"{spelling}@z.example\""
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{found}");
        assert_eq!(ids(&found), [created["id"].as_str().unwrap()], "{spelling}");
    }
    app.stop().await;
}

/// A database from before V0008: claims keyed by `to_lowercase`, read rows
/// without folded columns. Migrating again folds them, so the old name is
/// still taken in every spelling, found by every spelling, and given up
/// whole when the user is renamed.
#[tokio::test]
async fn migrating_folds_the_claims_and_rows_written_before() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let id = app.provision("ΣΑΣ@old.example").await;
    let (status, group) = create_group(&app, "ΣΑΣ old").await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let sql = app.sql().await;
    // What the previous release left: its keys, its rows, and V0008's list.
    let other = uuid::Uuid::now_v7();
    sql.batch_execute(&format!(
        "update unique_claims set key = 'σας@old.example' where key = 'σασ@old.example'; \
         update unique_claims set key = 'σας old' where key = 'σασ old'; \
         insert into unique_claims (org_id, kind, key, owner) values \
             ('{org_id}', 'userName', 'σασ@dup.example', '{other}'), \
             ('{org_id}', 'userName', 'σας@dup.example', '{id}'); \
         insert into unique_claims_to_fold (org_id, kind, key) \
             select org_id, kind, key from unique_claims \
              where kind in ('userName', 'groupDisplayName'); \
         update scim_users set user_name_folded = null, work_emails_folded = '{{}}'; \
         update scim_groups set display_name_folded = null"
    ))
    .await
    .expect("an old database");
    let database = store::Database::parse(&app.database_url).unwrap();
    store::migrate(&database).await.expect("migrating again");

    let left: i64 = sql
        .query_one("select count(*) from unique_claims_to_fold", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    // Two names that to_lowercase told apart fold alike: the claim already
    // under the folded key stays; the other is dropped.
    let dup = sql
        .query(
            "select key, owner from unique_claims where key like '%@dup.example'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(dup.len(), 1);
    assert_eq!(dup[0].get::<_, String>(0), "σασ@dup.example");
    assert_eq!(dup[0].get::<_, uuid::Uuid>(1), other);

    for spelling in SIGMAS {
        let name = format!("{spelling}@old.example");
        let (status, body) = app.create_user(entra_user(&name)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: {body}");
        assert_eq!(
            users_named(&app, &name).await,
            std::slice::from_ref(&id),
            "{name}"
        );
        let (status, body) = create_group(&app, &format!("{spelling} old")).await;
        assert_eq!(status, StatusCode::CONFLICT, "{spelling} old: {body}");
        assert_eq!(
            groups_named(&app, &format!("{spelling} old")).await.len(),
            1
        );
    }
    let (status, body) = app
        .patch_user(
            &id,
            json!([{"op": "replace", "path": "userName", "value": "renamed@old.example"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let keys: Vec<String> = sql
        .query(
            "select key from unique_claims where kind = 'userName' and owner = $1",
            &[&uuid::Uuid::parse_str(&id).unwrap()],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        keys,
        ["renamed@old.example"],
        "the old claim is given up whole"
    );
    app.provision("σας@old.example").await;
    app.stop().await;
}

/// The folded columns are derived in the store, not in the domain's rows, so
/// `verify` checks each against the fold of its row's own values.
#[tokio::test]
async fn a_folded_key_that_is_not_the_fold_of_its_row_fails_verify() {
    use rollcall::verify::{Verdict, verify};
    let app = spawn_app().await;
    app.provision("ΣΑΣ@verify.example").await;
    let (status, body) = create_group(&app, "ΣΑΣ verify").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.wait_for_projector(std::time::Duration::from_secs(10))
        .await;
    let sound = verify(app.pool()).await.unwrap();
    assert!(matches!(sound, Verdict::Sound { .. }), "{sound:?}");
    let sql = app.sql().await;
    for forgery in [
        "update scim_users set user_name_folded = user_name",
        "update scim_users set work_emails_folded = '{}'",
        "update scim_groups set display_name_folded = display_name",
    ] {
        sql.batch_execute(forgery).await.unwrap();
        match verify(app.pool()).await.unwrap() {
            Verdict::Broken { reason, .. } => assert!(reason.contains("case-folded"), "{reason}"),
            other => panic!("{forgery} passed verify: {other:?}"),
        }
        // Keys that are missing are made again by the migration step.
        sql.batch_execute(
            "update scim_users set user_name_folded = null; \
             update scim_groups set display_name_folded = null",
        )
        .await
        .unwrap();
        let database = store::Database::parse(&app.database_url).unwrap();
        store::migrate(&database).await.expect("migrating again");
        let sound = verify(app.pool()).await.unwrap();
        assert!(
            matches!(sound, Verdict::Sound { .. }),
            "after {forgery}: {sound:?}"
        );
    }
    app.stop().await;
}
