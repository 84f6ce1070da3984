//! Helpers for memberships: Entra-like users with an email, waiting for the
//! linker to make a member what a test expects, verifying a domain through
//! a loopback nameserver.

use std::time::{Duration, Instant};

use admin::members::{self, MemberView};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use super::TestApp;
use crate::domains::{TestNameserver, verify_through, with_domain};

/// A user as Entra sends it, with a work email.
pub fn entra_user(email: &str, given: &str, family: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "externalId": email.split('@').next().unwrap(),
        "active": true,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": true, "type": "work", "value": email}],
    })
}

/// Waits until the member with `email` satisfies `wanted` (60 s at most:
/// the linker is background work, slow on a loaded machine).
pub async fn member_until(
    app: &TestApp,
    org_id: Uuid,
    email: &str,
    wanted: impl Fn(&MemberView) -> bool,
) -> MemberView {
    let stack = app.stack.as_ref().unwrap();
    let started = Instant::now();
    loop {
        let listed = members::list(&stack.pool, org_id).await.unwrap();
        let found = listed
            .iter()
            .find(|member| member.email.eq_ignore_ascii_case(email));
        if let Some(member) = found.filter(|member| wanted(member)) {
            return member.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the member {email} is still {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn deactivate(app: &TestApp, id: &str) -> (StatusCode, Value) {
    app.patch_user(
        id,
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    )
    .await
}

/// Verifies `domain` for the test's organization through a loopback
/// nameserver.
pub async fn verify_domain(app: &TestApp, domain: &str) {
    let nameserver = TestNameserver::start();
    let (org_id, added) = with_domain(app, domain).await;
    nameserver.set_txt(&added.txt_name, &[&added.txt_value]);
    verify_through(app, &nameserver.resolver(), org_id, added.id)
        .await
        .unwrap();
}
