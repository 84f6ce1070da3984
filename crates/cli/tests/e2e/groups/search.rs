//! Finding groups: filters on names, external ids and membership, a user's
//! `groups`, and `/.search` across both resource types.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{form_encode, spawn_app};

#[tokio::test]
async fn groups_filter_by_name_external_id_and_membership() {
    let app = spawn_app().await;
    let a = app.provision("a@contoso.com").await;
    let b = app.provision("b@contoso.com").await;
    let with_a = app.group_of("Team Alpha", &[&a]).await;
    let (_, body) = app
        .create_group(json!({"displayName": "Team Beta", "externalId": "BETA"}))
        .await;
    let beta = body["id"].as_str().unwrap().to_owned();

    let find = |filter: String, extra: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app
                .get(&format!("/Groups?filter={}{extra}", form_encode(&filter)))
                .await;
            assert_eq!(status, StatusCode::OK, "{filter}: {body}");
            body
        }
    };
    let ids_of = |body: &Value| -> Vec<String> {
        body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids_of(&find("displayName eq \"team alpha\"".into(), "").await),
        vec![with_a.clone()]
    );
    assert_eq!(
        ids_of(&find("externalId eq \"BETA\"".into(), "").await),
        vec![beta.clone()]
    );
    assert_eq!(
        ids_of(&find("externalId eq \"beta\"".into(), "").await),
        Vec::<String>::new()
    );
    assert_eq!(
        ids_of(&find(format!("members[value eq \"{a}\"]"), "").await),
        vec![with_a.clone()]
    );
    // Entra's legacy membership check, asking only for ids.
    let hit = find(
        format!("id eq \"{with_a}\" and members eq \"{a}\""),
        "&attributes=id",
    )
    .await;
    assert_eq!(hit["totalResults"], 1);
    assert_eq!(hit["Resources"][0]["id"], with_a);
    assert!(hit["Resources"][0].get("members").is_none(), "{hit}");
    assert!(hit["Resources"][0].get("displayName").is_none(), "{hit}");
    let miss = find(
        format!("id eq \"{with_a}\" and members eq \"{b}\""),
        "&attributes=id",
    )
    .await;
    assert_eq!(miss["totalResults"], 0);
    assert_eq!(miss["Resources"], json!([]));

    let (status, body) = app
        .get(&format!(
            "/Groups?filter={}",
            form_encode("emails[type eq \"work\"]")
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "invalidFilter");
    app.stop().await;
}

#[tokio::test]
async fn a_user_lists_its_direct_and_indirect_groups() {
    let app = spawn_app().await;
    let ada = app.provision("ada@contoso.com").await;
    let team = app.group_of("Team", &[&ada]).await;
    let department = app.group_of("Department", &[&team]).await;
    // A cycle must not loop: the department back into the team.
    let (status, _) = app
        .patch_group(
            &team,
            json!([{"op": "add", "path": "members", "value": [{"value": department}]}]),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, user) = app.get_user(&ada).await;
    assert_eq!(status, StatusCode::OK);
    let mut groups: Vec<(String, String, String)> = user["groups"]
        .as_array()
        .expect("a groups array")
        .iter()
        .map(|g| {
            (
                g["value"].as_str().unwrap().to_owned(),
                g["display"].as_str().unwrap().to_owned(),
                g["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    groups.sort();
    let mut expected = vec![
        (team.clone(), "Team".to_owned(), "direct".to_owned()),
        (
            department.clone(),
            "Department".to_owned(),
            "indirect".to_owned(),
        ),
    ];
    expected.sort();
    assert_eq!(groups, expected);

    let (_, listed) = app.filter_users("userName eq \"ada@contoso.com\"").await;
    assert_eq!(listed["Resources"][0]["groups"], user["groups"]);
    let (_, lean) = app
        .get(&format!("/Users/{ada}?excludedAttributes=groups"))
        .await;
    assert!(lean.get("groups").is_none(), "{lean}");

    // groups is read-only: a client cannot set it.
    let (status, patched) = app
        .patch_user(
            &ada,
            json!([{"op": "replace", "path": "displayName", "value": "Ada"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["groups"], user["groups"]);
    app.stop().await;
}

#[tokio::test]
async fn searches_find_groups_and_the_root_search_finds_both_types() {
    let app = spawn_app().await;
    let ada = app.provision("ada@contoso.com").await;
    let (status, created) = app.create_group(json!({"displayName": "ada@contoso.com", "members": [{"value": ada, "display": "Ada L."}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["members"][0]["display"], "Ada L.",
        "display comes back as sent"
    );
    let group = created["id"].as_str().unwrap().to_owned();
    let search = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "displayName eq \"ada@contoso.com\" or userName eq \"ada@contoso.com\"",
        "attributes": ["id"],
    });
    let (status, found) = app
        .send(app.scim(Method::POST, "/.search").body(search.to_string()))
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["totalResults"], 2, "{found}");
    let ids: BTreeSet<String> = found["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ids_of_pair(&ada, &group));

    // Paging runs across both types: users first, then groups.
    let second = json!({"filter": search["filter"], "startIndex": 2, "count": 1});
    let (_, page) = app
        .send(app.scim(Method::POST, "/.search").body(second.to_string()))
        .await;
    assert_eq!(page["totalResults"], 2);
    assert_eq!(page["Resources"][0]["id"], group);

    let groups_only = json!({"filter": "displayName sw \"ada\""});
    let (status, found) = app
        .send(
            app.scim(Method::POST, "/Groups/.search")
                .body(groups_only.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], group);
    app.stop().await;
}

fn ids_of_pair(a: &str, b: &str) -> BTreeSet<String> {
    [a.to_owned(), b.to_owned()].into()
}
