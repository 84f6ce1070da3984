//! Creating an organization with its first owner and SCIM enabled.

use anyhow::{Context, bail};
use domain::organization;
use domain::resource::UniqueKey;
use domain::{Event, RequestMeta};
use store::{AppendError, AppendRequest, Appender, Registration};
use uuid::Uuid;

/// A freshly created organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CreatedOrganization {
    pub org_id: Uuid,
    pub owner_id: Uuid,
}

/// Creates an organization with its owner and SCIM enabled.
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
            meta: RequestMeta::command_line("org create", Uuid::now_v7()),
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
