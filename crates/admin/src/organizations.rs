//! Creating an organization with its first owner (an account, made when
//! the email has none) and SCIM enabled.

use anyhow::{Context, bail};
use domain::membership::{MemberState, Source};
use domain::organization;
use domain::resource::UniqueKey;
use domain::{Event, RequestMeta};
use store::{AppendError, AppendRequest, Appender, Pool, Registration};

use crate::accounts;
use uuid::Uuid;

/// A freshly created organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CreatedOrganization {
    pub org_id: Uuid,
    pub owner_id: Uuid,
}

/// Creates an organization with its owner and SCIM enabled. The owner is
/// the account with `owner_email`, made first when there is none.
pub async fn create_organization(
    pool: &Pool,
    appender: &Appender,
    name: &str,
    owner_email: &str,
) -> anyhow::Result<CreatedOrganization> {
    let org_id = Uuid::now_v7();
    // Checked before an account is made for the email.
    organization::create(name, owner_email, Uuid::nil())
        .map_err(|rejection| anyhow::anyhow!("{rejection}"))?;
    let meta = RequestMeta::command_line("org create", Uuid::now_v7());
    let owner_id = accounts::ensure(pool, appender, owner_email, &meta).await?;
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
            registrations: vec![
                Registration::Organization { name: name.clone() },
                Registration::Membership {
                    account_id: owner_id,
                    role: domain::provisioning::OWNER.into(),
                    source: Source::Manual.as_str(),
                    state: MemberState::Active.as_str(),
                    entry_id: None,
                    entry_version: 0,
                },
            ],
            meta,
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
