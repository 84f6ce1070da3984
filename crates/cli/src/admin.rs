//! The owners' verbs: create an organisation, issue a SCIM token.

use anyhow::{Context, bail};
use base64::Engine;
use domain::organization;
use domain::user::UniqueKey;
use domain::{Event, RequestMeta};
use store::{AppendError, AppendRequest, Appender, Pool, Registration};
use time::OffsetDateTime;
use uuid::Uuid;

/// A freshly created organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CreatedOrganization {
    pub org_id: Uuid,
    pub owner_id: Uuid,
}

/// A token, shown once: the caller prints it and forgets it.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub token_id: Uuid,
    pub expires_at: OffsetDateTime,
}

/// Creates an organisation with its owner and SCIM enabled.
pub async fn create_organization(
    appender: &Appender,
    name: &str,
    owner_email: &str,
) -> anyhow::Result<CreatedOrganization> {
    let org_id = Uuid::now_v7();
    let owner_id = Uuid::now_v7();
    let events = organization::create(name, owner_email, owner_id)
        .map_err(|rejection| anyhow::anyhow!("{rejection}"))?;
    let name = match &events[0] {
        Event::OrganizationCreated { name } => name.clone(),
        _ => unreachable!("create starts with OrganizationCreated"),
    };
    let appended = appender
        .append(AppendRequest {
            org_id,
            stream_id: org_id,
            expected_version: 0,
            commutes: false,
            events,
            claims: Vec::new(),
            releases: Vec::new(),
            registrations: vec![Registration::Organization { name: name.clone() }],
            meta: RequestMeta::command_line("org create", Uuid::new_v4()),
        })
        .await;
    match appended {
        Ok(_) => Ok(CreatedOrganization { org_id, owner_id }),
        Err(AppendError::Taken(UniqueKey {
            kind: "organization",
            ..
        })) => {
            bail!("an organization named {name:?} already exists; pick another name")
        }
        Err(error) => Err(error).context("recording the new organization"),
    }
}

/// Issues a SCIM token for an organisation found by name.
pub async fn issue_token(
    pool: &Pool,
    appender: &Appender,
    org_name: &str,
    now: OffsetDateTime,
) -> anyhow::Result<IssuedToken> {
    let org_id = store::find_organization(pool, org_name)
        .await?
        .with_context(|| {
            format!("no organization named {org_name:?}; create it with `rollcall org create`")
        })?;
    issue_token_for(pool, appender, org_id, now).await
}

/// Issues a SCIM token for an organisation found by id.
pub async fn issue_token_for(
    pool: &Pool,
    appender: &Appender,
    org_id: Uuid,
    now: OffsetDateTime,
) -> anyhow::Result<IssuedToken> {
    let token = format!(
        "{}{}",
        domain::token::TOKEN_PREFIX,
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
    );
    let token_id = Uuid::now_v7();
    let event = organization::issue_token(token_id, now);
    let Event::ScimTokenIssued { expires_at, .. } = event else {
        unreachable!("issue_token makes a ScimTokenIssued event")
    };
    loop {
        let version = store::read_stream(pool, org_id, org_id).await?.len() as i64;
        let appended = appender
            .append(AppendRequest {
                org_id,
                stream_id: org_id,
                expected_version: version,
                commutes: false,
                events: vec![event.clone()],
                claims: Vec::new(),
                releases: Vec::new(),
                registrations: vec![Registration::Token {
                    token_id,
                    sha256: domain::token::digest(&token).to_vec(),
                    expires_at,
                }],
                meta: RequestMeta::command_line("token issue", Uuid::new_v4()),
            })
            .await;
        match appended {
            Ok(_) => {
                return Ok(IssuedToken {
                    token,
                    token_id,
                    expires_at,
                });
            }
            Err(AppendError::VersionConflict) => continue,
            Err(error) => return Err(error).context("recording the new token"),
        }
    }
}
