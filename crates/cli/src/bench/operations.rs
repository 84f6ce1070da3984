//! The requests `rollcall bench` sends, one function per operation; each
//! says whether the answer was what it should be.

use anyhow::bail;
use rand::Rng;
use serde_json::json;

use hyper::{Method, StatusCode};

use super::connection::Connection;
use super::encode_query_value;
use super::populate::{self, prefix_block};

/// One kind of request the bench sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    /// `POST /Users`.
    Create,
    /// `PATCH /Users/{id}` replacing `displayName`.
    Patch,
    /// `GET /Users?filter=userName eq "…"` of a user this client created.
    Get,
    /// `userName eq` a random population user (exactly one result).
    FilterUsername,
    /// `emails[type eq "work"].value eq` a random population user's work
    /// email, in another letter case (exactly one result).
    FilterEmail,
    /// `userName sw` a prefix matching 10, 100 or 1,000 population users,
    /// `count=50` from a random `startIndex` within the result (paging).
    FilterPrefix,
}

impl Operation {
    /// Every operation, in the order `--help` lists them.
    pub const ALL: [Operation; 6] = [
        Operation::Create,
        Operation::Patch,
        Operation::Get,
        Operation::FilterUsername,
        Operation::FilterEmail,
        Operation::FilterPrefix,
    ];

    /// The operation's name on the command line and in the figures.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Patch => "patch",
            Operation::Get => "get",
            Operation::FilterUsername => "filter-username",
            Operation::FilterEmail => "filter-email",
            Operation::FilterPrefix => "filter-prefix",
        }
    }

    /// Parses an operation's name.
    pub fn parse(name: &str) -> anyhow::Result<Operation> {
        let name = name.trim();
        match Operation::ALL.into_iter().find(|op| op.name() == name) {
            Some(op) => Ok(op),
            None => {
                let names: Vec<_> = Operation::ALL.iter().map(|op| op.name()).collect();
                bail!("unknown operation {name:?}; use {}", names.join(", "))
            }
        }
    }

    /// Whether the operation reads the population rather than users the
    /// client created itself.
    pub fn reads_population(self) -> bool {
        matches!(
            self,
            Operation::FilterUsername | Operation::FilterEmail | Operation::FilterPrefix
        )
    }
}

/// One client's connection to the server.
pub struct Session {
    pub connection: Connection,
}

/// The body of a bench user's `POST /Users`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct NewUser<'a> {
    schemas: [&'static str; 1],
    user_name: &'a str,
    external_id: &'a str,
    name: Name,
    display_name: String,
    emails: [Email<'a>; 1],
    active: bool,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Name {
    given_name: &'static str,
    family_name: String,
}

#[derive(serde::Serialize)]
struct Email<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    value: &'a str,
    primary: bool,
}

/// What the bench reads of a created user: only its id (the rest is
/// skipped, not built).
#[derive(serde::Deserialize)]
struct Created {
    id: String,
}

impl Session {
    /// `GET /Users?filter=…&extra`, its body when the status is 200.
    async fn list(&mut self, filter: &str, extra: &str) -> Option<serde_json::Value> {
        let filter = encode_query_value(filter);
        let path = format!("/Users?filter={filter}{extra}");
        let (status, body) = self.connection.send(Method::GET, &path, None).await?;
        if status != StatusCode::OK {
            return None;
        }
        serde_json::from_slice(&body).ok()
    }

    /// `POST /Users`; the new user's id and userName on a 201.
    pub async fn create(
        &mut self,
        user_name: String,
        external_id: String,
        step: usize,
    ) -> Option<(String, String)> {
        let user = NewUser {
            schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
            user_name: &user_name,
            external_id: &external_id,
            name: Name {
                given_name: "Bench",
                family_name: format!("User {step}"),
            },
            display_name: format!("Bench User {step}"),
            emails: [Email {
                kind: "work",
                value: &user_name,
                primary: true,
            }],
            active: true,
        };
        let body = serde_json::to_vec(&user).ok()?;
        let (status, answer) = self
            .connection
            .send(Method::POST, "/Users", Some(body))
            .await?;
        if status != StatusCode::CREATED {
            return None;
        }
        let created: Created = serde_json::from_slice(&answer).ok()?;
        Some((created.id, user_name))
    }

    /// `PATCH /Users/{id}` replacing `displayName`.
    pub async fn patch(&mut self, id: &str, step: usize) -> bool {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "displayName", "value": format!("Renamed {step}")}]
        });
        let path = format!("/Users/{id}");
        let body = serde_json::to_vec(&body).ok();
        matches!(
            self.connection.send(Method::PATCH, &path, body).await,
            Some((status, _)) if status.is_success()
        )
    }

    /// `userName eq` a user this client created; any 200 will do.
    pub async fn get(&mut self, user_name: &str) -> bool {
        self.list(&format!("userName eq \"{user_name}\""), "")
            .await
            .is_some()
    }

    /// `userName eq` population user `i`: exactly that user.
    pub async fn filter_username(&mut self, i: usize) -> bool {
        let expected = populate::user_name(i);
        let found = self.list(&format!("userName eq \"{expected}\""), "").await;
        found.is_some_and(|body| is_only(&body, &expected))
    }

    /// `emails[type eq "work"].value eq` population user `i`'s work email in
    /// upper case (it was created in mixed case): exactly that user.
    pub async fn filter_email(&mut self, i: usize) -> bool {
        let email = populate::work_email(i).to_uppercase();
        let found = self
            .list(
                &format!("emails[type eq \"work\"].value eq \"{email}\""),
                "",
            )
            .await;
        found.is_some_and(|body| is_only(&body, &populate::user_name(i)))
    }

    /// `userName sw` a prefix of population user `i` (in upper case: the
    /// comparison ignores case), one page of 50 from a random `startIndex`.
    pub async fn filter_prefix(&mut self, i: usize, size: usize, rng: &mut impl Rng) -> bool {
        let digits = rng.random_range(4..=6);
        let (prefix, matches) = prefix_block(i, digits, size);
        let start = rng.random_range(1..=matches.max(1));
        let filter = format!("userName sw \"{}\"", prefix.to_uppercase());
        let Some(body) = self
            .list(&filter, &format!("&startIndex={start}&count=50"))
            .await
        else {
            return false;
        };
        let resources = body["Resources"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        body["totalResults"].as_u64() == Some(matches as u64)
            && resources.len() == 50.min(matches + 1 - start)
            && resources.iter().all(|user| {
                user["userName"]
                    .as_str()
                    .is_some_and(|name| name.starts_with(&prefix))
            })
    }
}

/// Whether a list response holds exactly the user `user_name`.
fn is_only(body: &serde_json::Value, user_name: &str) -> bool {
    body["totalResults"].as_u64() == Some(1)
        && body["Resources"][0]["userName"]
            .as_str()
            .is_some_and(|name| name.eq_ignore_ascii_case(user_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_parse_by_name() {
        for op in Operation::ALL {
            assert_eq!(Operation::parse(op.name()).unwrap(), op);
            assert_eq!(serde_json::to_value(op).unwrap(), op.name());
        }
        assert_eq!(
            Operation::parse(" filter-email ").unwrap(),
            Operation::FilterEmail
        );
        assert!(Operation::parse("filter").is_err());
    }

    #[test]
    fn a_list_with_one_user_is_only_that_user() {
        let body = json!({"totalResults": 1, "Resources": [{"userName": "POP-1@x"}]});
        assert!(is_only(&body, "pop-1@x"));
        assert!(!is_only(&body, "pop-2@x"));
        assert!(!is_only(
            &json!({"totalResults": 2, "Resources": [{"userName": "pop-1@x"}]}),
            "pop-1@x"
        ));
    }
}
