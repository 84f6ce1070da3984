//! Typed helpers for `/Groups`, read like the protocol:
//! `app.group_of("Ops", &[&ada])`, `app.patch_group(&id, operations)`,
//! `app.member_ids(&id)`.

use std::collections::BTreeSet;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use super::{PATCH_OP, TestApp};

pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

impl TestApp {
    /// A request with the test's token and a SCIM JSON body type, for what
    /// the typed helpers do not cover (headers, raw responses, searches).
    pub fn scim(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path)
            .header("content-type", "application/scim+json")
    }

    pub async fn create_group(&self, body: Value) -> (StatusCode, Value) {
        self.send(self.scim(Method::POST, "/Groups").body(body.to_string()))
            .await
    }

    /// Creates a group with these member ids; fails the test unless 201.
    pub async fn group_of(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
        let (status, body) = self
            .create_group(
                json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": members}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().expect("an id").to_owned()
    }

    pub async fn get_group(&self, id: &str) -> (StatusCode, Value) {
        self.get(&format!("/Groups/{id}")).await
    }

    pub async fn patch_group(&self, id: &str, operations: Value) -> (StatusCode, Value) {
        self.patch_group_query(id, "", operations).await
    }

    /// `PATCH /Groups/{id}<query>`, the query given raw (`?attributes=...`).
    pub async fn patch_group_query(
        &self,
        id: &str,
        query: &str,
        operations: Value,
    ) -> (StatusCode, Value) {
        let body = json!({"schemas": [PATCH_OP], "Operations": operations});
        self.send(
            self.scim(Method::PATCH, &format!("/Groups/{id}{query}"))
                .body(body.to_string()),
        )
        .await
    }

    pub async fn replace_group(&self, id: &str, body: Value) -> (StatusCode, Value) {
        self.send(
            self.scim(Method::PUT, &format!("/Groups/{id}"))
                .body(body.to_string()),
        )
        .await
    }

    pub async fn delete_group(&self, id: &str) -> (StatusCode, Value) {
        self.send(self.scim(Method::DELETE, &format!("/Groups/{id}")))
            .await
    }

    /// The member ids a full GET returns.
    pub async fn member_ids(&self, id: &str) -> BTreeSet<String> {
        let (status, body) = self.get_group(id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["members"]
            .as_array()
            .expect("a members array")
            .iter()
            .map(|member| member["value"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// A set of ids, to compare with [`TestApp::member_ids`].
pub fn ids(values: &[&String]) -> BTreeSet<String> {
    values.iter().map(|id| (*id).clone()).collect()
}

/// A `members` value as Entra sends it: `{"$ref": null, "value": id}` each.
pub fn member_values(ids: &[&String]) -> Value {
    Value::Array(
        ids.iter()
            .map(|id| json!({"$ref": null, "value": id}))
            .collect(),
    )
}
