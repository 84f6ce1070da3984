//! `GET /Users?filter=...&sortBy=...`: the whole RFC 7644 §3.4.2.2 grammar,
//! evaluated by PostgreSQL, and `sortBy`/`sortOrder` with stable paging.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, USER_SCHEMA, form_encode, spawn_app};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Four users that differ in every attribute the tests filter on, created in
/// this order (so the default order by id is alice, bob, carol, dave).
/// Carol's keys are spelled in odd cases, as some clients send them.
async fn four_users(app: &TestApp) -> Vec<String> {
    let bodies = [
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "alice@example.com",
            "externalId": "A-1",
            "displayName": "Alice Smith",
            "title": "Engineer",
            "active": true,
            "name": {"familyName": "Smith", "givenName": "Alice"},
            "emails": [
                {"type": "work", "value": "Alice@Example.com", "primary": true},
                {"type": "home", "value": "alice@home.org"}
            ],
            ENTERPRISE: {"employeeNumber": "1001", "department": "R&D"}
        }),
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "bob@example.com",
            "externalId": "B-2",
            "displayName": "Bob Jones",
            "title": "Manager",
            "active": false,
            "name": {"familyName": "Jones"},
            "emails": [{"type": "work", "value": "bob@example.com"}],
            ENTERPRISE: {"employeeNumber": "1002", "department": "Sales"}
        }),
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "carol@other.org",
            "DisplayName": "Carol",
            "Title": "Engineer",
            "active": true,
            "EMAILS": [{"TYPE": "Work", "Value": "CAROL@OTHER.ORG"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user":
                {"EmployeeNumber": "2001", "Department": "R&D"}
        }),
        json!({
            "schemas": [USER_SCHEMA],
            "userName": "dave@example.net",
            "active": false
        }),
    ];
    let mut ids = Vec::new();
    for body in bodies {
        let (status, created) = app.create_user(body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        ids.push(created["id"].as_str().expect("an id").to_owned());
    }
    app.wait_for_projector(Duration::from_secs(10)).await;
    ids
}

/// The userNames a list answer holds, in its order.
fn user_names(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("a list response, got {body}"))
        .iter()
        .map(|user| user["userName"].as_str().expect("a userName").to_owned())
        .collect()
}

/// The local parts (before `@`) of the users `filter` finds.
async fn found(app: &TestApp, filter: &str) -> Vec<String> {
    let (status, body) = app.filter_users(filter).await;
    assert_eq!(status, StatusCode::OK, "{filter}: {body}");
    assert_eq!(
        body["totalResults"],
        body["Resources"].as_array().map_or(0, Vec::len),
        "{filter}: {body}"
    );
    user_names(&body)
        .into_iter()
        .map(|name| name.split('@').next().unwrap_or_default().to_owned())
        .collect()
}

async fn check(app: &TestApp, cases: &[(&str, &[&str])]) {
    for (filter, expected) in cases {
        assert_eq!(found(app, filter).await, *expected, "filter {filter}");
    }
}

async fn refused(app: &TestApp, query: &str, scim_type: &str) {
    let (status, body) = app.list_users(query).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
    assert_eq!(body["scimType"], scim_type, "{query}: {body}");
}

#[tokio::test]
async fn every_operator_compares_strings_by_the_schema_case_rules() {
    let app = spawn_app().await;
    let ids = four_users(&app).await;
    check(
        &app,
        &[
            ("userName eq \"ALICE@example.com\"", &["alice"]),
            (
                "userName ne \"alice@example.com\"",
                &["bob", "carol", "dave"],
            ),
            ("userName co \"EXAMPLE\"", &["alice", "bob", "dave"]),
            ("userName sw \"B\"", &["bob"]),
            ("userName ew \".ORG\"", &["carol"]),
            ("userName gt \"bob@example.com\"", &["carol", "dave"]),
            ("userName ge \"BOB@example.com\"", &["bob", "carol", "dave"]),
            ("userName lt \"bob@example.com\"", &["alice"]),
            ("userName le \"bob@example.com\"", &["alice", "bob"]),
            ("userName pr", &["alice", "bob", "carol", "dave"]),
            ("title eq \"engineer\"", &["alice", "carol"]),
            // An absent attribute is not equal to anything, so `ne` finds dave.
            ("title ne \"Engineer\"", &["bob", "dave"]),
            ("title co \"NAG\"", &["bob"]),
            ("title sw \"eng\"", &["alice", "carol"]),
            ("title ew \"ER\"", &["alice", "bob", "carol"]),
            ("title gt \"F\"", &["bob"]),
            ("title pr", &["alice", "bob", "carol"]),
            ("nickName pr", &[]),
            ("name.familyName eq \"smith\"", &["alice"]),
            ("name.familyName lt \"K\"", &["bob"]),
            ("name.givenName pr", &["alice"]),
            ("displayName sw \"CAROL\"", &["carol"]),
            // externalId and id compare exactly.
            ("externalId eq \"A-1\"", &["alice"]),
            ("externalId eq \"a-1\"", &[]),
            ("externalId ne \"A-1\"", &["bob", "carol", "dave"]),
            ("externalId sw \"B\"", &["bob"]),
            ("externalId pr", &["alice", "bob"]),
            ("externalId eq null", &["carol", "dave"]),
            ("id eq \"not-a-uuid\"", &[]),
        ],
    )
    .await;
    assert_eq!(
        found(&app, &format!("id eq \"{}\"", ids[2])).await,
        ["carol"]
    );
    assert_eq!(
        found(&app, &format!("id ne \"{}\"", ids[2])).await,
        ["alice", "bob", "dave"]
    );
    assert_eq!(
        found(
            &app,
            &format!("ID EQ \"{}\" or id eq \"{}\"", ids[0], ids[3])
        )
        .await,
        ["alice", "dave"]
    );
    app.stop().await;
}

#[tokio::test]
async fn booleans_and_timestamps_compare_by_type() {
    let app = spawn_app().await;
    let ids = four_users(&app).await;
    check(
        &app,
        &[
            ("active eq true", &["alice", "carol"]),
            ("active eq false", &["bob", "dave"]),
            ("active eq \"True\"", &["alice", "carol"]),
            ("active eq \"False\"", &["bob", "dave"]),
            ("active ne true", &["bob", "dave"]),
            ("active pr", &["alice", "bob", "carol", "dave"]),
            ("emails[primary eq true]", &["alice"]),
            ("emails[primary eq \"True\"]", &["alice"]),
            ("emails[primary ne true]", &["alice", "bob", "carol"]),
        ],
    )
    .await;
    refused(
        &app,
        &format!("filter={}", form_encode("active gt true")),
        "invalidFilter",
    )
    .await;
    refused(
        &app,
        &format!("filter={}", form_encode("emails[primary le false]")),
        "invalidFilter",
    )
    .await;

    let (_, bob) = app.get_user(&ids[1]).await;
    let created = bob["meta"]["created"]
        .as_str()
        .expect("meta.created")
        .to_owned();
    let modified = bob["meta"]["lastModified"]
        .as_str()
        .expect("meta.lastModified");
    for (op, expected) in [
        ("eq", &["bob"][..]),
        ("ne", &["alice", "carol", "dave"]),
        ("gt", &["carol", "dave"]),
        ("ge", &["bob", "carol", "dave"]),
        ("lt", &["alice"]),
        ("le", &["alice", "bob"]),
    ] {
        let filter = format!("meta.created {op} \"{created}\"");
        assert_eq!(found(&app, &filter).await, expected, "{filter}");
    }
    check(
        &app,
        &[
            (
                "meta.lastModified gt \"2000-01-01T00:00:00Z\"",
                &["alice", "bob", "carol", "dave"],
            ),
            ("meta.created lt \"2000-01-01T00:00:00+02:00\"", &[]),
            ("meta.created pr", &["alice", "bob", "carol", "dave"]),
        ],
    )
    .await;
    assert_eq!(
        found(&app, &format!("meta.lastModified eq \"{modified}\"")).await,
        ["bob"]
    );
    refused(
        &app,
        &format!("filter={}", form_encode("meta.created gt \"yesterday\"")),
        "invalidFilter",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn and_binds_tighter_than_or_and_parentheses_and_not_group() {
    let app = spawn_app().await;
    four_users(&app).await;
    check(
        &app,
        &[
            (
                "title eq \"Engineer\" or title eq \"Manager\" and active eq false",
                &["alice", "bob", "carol"],
            ),
            (
                "(title eq \"Engineer\" or title eq \"Manager\") and active eq false",
                &["bob"],
            ),
            (
                "title eq \"Engineer\" and (active eq false or userName sw \"c\")",
                &["carol"],
            ),
            ("not (active eq true) and userName sw \"d\"", &["dave"]),
            (
                "not (title eq \"Engineer\" or userName sw \"b\")",
                &["dave"],
            ),
            ("not (not (title pr))", &["alice", "bob", "carol"]),
            (
                "userName sw \"a\" OR userName SW \"b\" AND title EQ \"Manager\"",
                &["alice", "bob"],
            ),
        ],
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn complex_attribute_filters_match_one_element() {
    let app = spawn_app().await;
    four_users(&app).await;
    check(
        &app,
        &[
            (
                "emails[type eq \"work\" and value co \"@example.com\"]",
                &["alice", "bob"],
            ),
            ("emails[type eq \"home\"]", &["alice"]),
            // Both conditions must hold for the same element.
            (
                "emails[type eq \"work\" and value eq \"alice@home.org\"]",
                &[],
            ),
            (
                "emails[type eq \"work\" or value ew \".org\"]",
                &["alice", "bob", "carol"],
            ),
            ("emails[not (type eq \"work\")]", &["alice"]),
            ("emails.value eq \"ALICE@HOME.ORG\"", &["alice"]),
            ("emails.value ew \".org\"", &["alice", "carol"]),
            ("emails.type eq \"home\"", &["alice"]),
            ("emails pr", &["alice", "bob", "carol"]),
            ("not (emails pr)", &["dave"]),
            (
                "emails.value pr and not (emails[type eq \"home\"])",
                &["bob", "carol"],
            ),
        ],
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn entra_work_email_matching_ignores_case() {
    let app = spawn_app().await;
    four_users(&app).await;
    check(
        &app,
        &[
            (
                "emails[type eq \"work\"].value eq \"ALICE@example.COM\"",
                &["alice"],
            ),
            (
                "emails[type eq \"Work\"].value eq \"carol@other.org\"",
                &["carol"],
            ),
            (
                "emails[TYPE EQ \"WORK\"].VALUE EQ \"bob@EXAMPLE.com\"",
                &["bob"],
            ),
            ("emails[type eq \"work\"].value eq \"alice@home.org\"", &[]),
            (
                "emails[type eq \"home\"].value eq \"Alice@Home.org\"",
                &["alice"],
            ),
        ],
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn enterprise_attributes_and_odd_key_cases_are_found() {
    let app = spawn_app().await;
    four_users(&app).await;
    check(
        &app,
        &[
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"1002\"",
                &["bob"],
            ),
            ("employeeNumber eq \"2001\"", &["carol"]),
            (
                "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:department eq \"r&d\"",
                &["alice", "carol"],
            ),
            ("department ne \"R&D\"", &["bob", "dave"]),
            ("employeenumber sw \"100\"", &["alice", "bob"]),
            ("DISPLAYNAME eq \"carol\"", &["carol"]),
            ("urn:ietf:params:scim:schemas:core:2.0:User:title eq \"manager\"", &["bob"]),
            ("urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"DAVE\"", &["dave"]),
        ],
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn sorting_pages_in_a_stable_order() {
    let app = spawn_app().await;
    four_users(&app).await;
    let sorted = |query: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app.list_users(query).await;
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
            user_names(&body)
                .into_iter()
                .map(|n| n.split('@').next().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(sorted("").await, ["alice", "bob", "carol", "dave"]);
    assert_eq!(
        sorted("sortBy=userName&sortOrder=descending").await,
        ["dave", "carol", "bob", "alice"]
    );
    assert_eq!(
        sorted("SORTBY=title&SortOrder=Ascending").await,
        ["alice", "carol", "bob", "dave"]
    );
    // Users without a family name sort last, ties by id.
    assert_eq!(
        sorted("sortBy=name.familyName").await,
        ["bob", "alice", "carol", "dave"]
    );
    // emails.value sorts by the primary (else first) address, case-insensitively.
    assert_eq!(
        sorted("sortBy=emails.value&sortOrder=descending").await,
        ["carol", "bob", "alice", "dave"]
    );
    assert_eq!(
        sorted("sortBy=meta.created&sortOrder=descending").await,
        ["dave", "carol", "bob", "alice"]
    );
    assert_eq!(
        sorted("sortBy=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber&sortOrder=descending").await,
        ["carol", "bob", "alice", "dave"]
    );
    assert_eq!(
        sorted("filter=active+eq+false&sortBy=userName&sortOrder=descending").await,
        ["dave", "bob"]
    );

    // Ten more users with equal titles: pages of three walk the whole list once.
    for n in 0..10 {
        let name = format!("page{n:02}@example.com");
        let (status, body) = app
            .create_user(json!({"schemas": [USER_SCHEMA], "userName": name, "title": "Same"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    app.wait_for_projector(Duration::from_secs(10)).await;
    let mut paged = Vec::new();
    for start in (1..=14).step_by(3) {
        let (status, body) = app
            .list_users(&format!(
                "sortBy=title&sortOrder=descending&startIndex={start}&count=3"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["totalResults"], 14);
        paged.extend(user_names(&body));
    }
    let (_, all) = app.list_users("sortBy=title&sortOrder=descending").await;
    assert_eq!(paged, user_names(&all));
    let same: Vec<_> = paged
        .iter()
        .filter(|n| n.starts_with("page"))
        .cloned()
        .collect();
    let mut by_creation = same.clone();
    by_creation.sort();
    assert_eq!(same, by_creation, "ties keep the order of creation");
    assert_eq!(paged.len(), 14);

    refused(&app, "sortOrder=sideways", "invalidValue").await;
    refused(
        &app,
        "sortBy=userName%3Bdrop+table+scim_users",
        "invalidValue",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn injection_attempts_are_plain_values() {
    let app = spawn_app().await;
    four_users(&app).await;
    check(
        &app,
        &[
            ("userName eq \"x' or '1'='1\"", &[]),
            ("userName eq \"\\\"); drop table scim_users; --\"", &[]),
            ("title co \"' or 1=1 --\"", &[]),
            ("userName co \"%\"", &[]),
            ("userName sw \"_\"", &[]),
            ("emails[type eq \"work\"].value eq \"a' or true --\"", &[]),
        ],
    )
    .await;
    // Attribute names are never values: one that is not a name does not parse.
    refused(
        &app,
        &format!("filter={}", form_encode("urn:x'--:2.0:User:title eq \"x\"")),
        "invalidFilter",
    )
    .await;
    let (status, body) = app.list_users("").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalResults"], 4, "the table is still there: {body}");
    app.stop().await;
}

/// The plan PostgreSQL picks for `filter` in `org_id`, as the store would run it.
async fn plan(client: &tokio_postgres::Client, org_id: uuid::Uuid, filter: &str) -> String {
    let query = store::UserFilter::new(scim::Filter::parse(filter).expect("a filter"))
        .expect("a filter the store evaluates");
    let condition = query.condition();
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&org_id];
    params.extend(condition.params.iter().map(store::Param::as_sql));
    let rows = client
        .query(
            &format!(
                "explain select user_id from scim_users where org_id = $1 and {}",
                condition.text
            ),
            &params,
        )
        .await
        .expect("a plan");
    rows.iter()
        .map(|row| row.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The generic plan (made without the values) of `filter` as a named
/// prepared statement: what the plan cache may switch a statement to.
async fn generic_plan(client: &tokio_postgres::Client, org_id: uuid::Uuid, filter: &str) -> String {
    let query = store::UserFilter::new(scim::Filter::parse(filter).expect("a filter"))
        .expect("a filter the store evaluates");
    let condition = query.condition();
    let mut values = vec![format!("'{org_id}'")];
    for param in &condition.params {
        match param {
            store::Param::Text(text) => values.push(format!("'{}'", text.replace('\'', "''"))),
            other => panic!("this check binds text only, not {other:?}"),
        }
    }
    client
        .batch_execute(&format!(
            "set plan_cache_mode = force_generic_plan; \
             prepare generic_check as select user_id from scim_users \
             where org_id = $1::uuid and {}",
            condition.text
        ))
        .await
        .expect("a prepared statement");
    let rows = client
        .query(
            &format!("explain execute generic_check({})", values.join(", ")),
            &[],
        )
        .await
        .expect("a plan");
    client
        .batch_execute("deallocate generic_check")
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn matching_filters_are_index_lookups() {
    let app = spawn_app().await;
    let client = app.sql().await;
    // An organization large enough that a scan of its rows costs what it does
    // in production, written straight into the read table.
    let org_id = uuid::Uuid::now_v7();
    client
        .execute(
            "with r as (select i, json_build_object('userName', 'user' || i || '@example.com', 'Emails', \
             json_build_array(json_build_object('Type', 'work', 'value', 'User' || i || '@Example.com'))) \
             as resource from generate_series(1, 5000) as i) \
             insert into scim_users (org_id, user_id, user_name, external_id, active, resource, \
             version, created_at, updated_at, doc, user_name_folded, work_emails_folded) \
             select $1, gen_random_uuid(), 'user' || i || '@example.com', 'ext-' || i, true, \
             resource, 1, now(), now(), scim_fold_keys(resource::jsonb), \
             'user' || i || '@example.com', array['user' || i || '@example.com'] from r",
            &[&org_id],
        )
        .await
        .expect("5,000 users");
    client
        .batch_execute("analyze scim_users")
        .await
        .expect("fresh statistics");
    let email = plan(
        &client,
        org_id,
        "emails[type eq \"work\"].value eq \"user42@EXAMPLE.com\"",
    )
    .await;
    assert!(email.contains("scim_users_work_emails"), "{email}");
    let user_name = plan(&client, org_id, "userName eq \"User42@example.com\"").await;
    assert!(user_name.contains("scim_users_user_name"), "{user_name}");
    let external = plan(&client, org_id, "externalId eq \"ext-42\"").await;
    assert!(external.contains("scim_users_external_id"), "{external}");
    let prefix = plan(&client, org_id, "userName sw \"user42\"").await;
    assert!(prefix.contains("scim_users_user_name"), "{prefix}");
    // A plan made without the value (the plan cache may switch a prepared
    // statement to one) must still be a range over the name's index.
    let generic = generic_plan(&client, org_id, "userName sw \"user42\"").await;
    assert!(generic.contains("scim_users_user_name"), "{generic}");
    assert!(generic.contains("~>=~"), "a range, not a scan: {generic}");
    client.batch_execute("reset plan_cache_mode").await.unwrap();

    // And the filter finds the user through the API's own path too.
    let query = store::UserQuery::filter(
        scim::Filter::parse("emails[type eq \"work\"].value eq \"user42@EXAMPLE.com\"").unwrap(),
    )
    .unwrap();
    let (total, users) = store::list_users(app.pool(), org_id, &query, None, 0, 10)
        .await
        .expect("a page");
    assert_eq!(total, 1);
    assert_eq!(users[0].row.user_name, "user42@example.com");
    app.stop().await;
}

#[tokio::test]
async fn entras_group_lookups_are_index_lookups() {
    let app = spawn_app().await;
    let client = app.sql().await;
    let org_id = uuid::Uuid::now_v7();
    client
        .execute(
            "insert into scim_groups (org_id, group_id, display_name, external_id, resource, doc, \
             version, created_at, updated_at, display_name_folded) \
             select $1, gen_random_uuid(), 'Group ' || i, 'ext-' || i, '{}', '{}', 1, now(), \
             now(), 'group ' || i from generate_series(1, 5000) as i",
            &[&org_id],
        )
        .await
        .expect("5,000 groups");
    client
        .batch_execute("analyze scim_groups")
        .await
        .expect("fresh statistics");
    // Entra looks a group up by displayName before it creates it (docs/entra.md, A.3.1).
    for (filter, index) in [
        ("displayName eq \"Group 42\"", "scim_groups_display_name"),
        ("externalId eq \"ext-42\"", "scim_groups_external_id"),
    ] {
        let store::GroupQuery::Filter(condition) =
            store::GroupQuery::filter(&scim::Filter::parse(filter).unwrap()).unwrap()
        else {
            panic!("{filter} is a filter");
        };
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&org_id];
        params.extend(condition.params.iter().map(store::Param::as_sql));
        let plan = client
            .query(
                &format!(
                    "explain select group_id from scim_groups where org_id = $1 and {}",
                    condition.text
                ),
                &params,
            )
            .await
            .expect("a plan")
            .iter()
            .map(|row| row.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(plan.contains(index), "{filter}: {plan}");
    }
    app.stop().await;
}
