//! An organization's provisioning settings (SCIM on or off, the default
//! role) and its roles, decided by `domain::provisioning`.

use domain::Event;
use domain::provisioning::{self, SettingsChange};
use serde::Serialize;
use store::{Appender, Pool, Registration};
use uuid::Uuid;

use crate::{command_line, decide_on_organization};

/// The settings as owners see them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProvisioningView {
    pub scim_enabled: bool,
    pub default_role: String,
}

/// The organization's settings now.
pub async fn show(pool: &Pool, org_id: Uuid) -> anyhow::Result<ProvisioningView> {
    let stream = store::read_stream(pool, org_id, org_id).await?;
    Ok(view(&provisioning::of(&stream)))
}

/// Applies `change`; returns the settings after it.
pub async fn set(
    pool: &Pool,
    appender: &Appender,
    org_id: Uuid,
    change: SettingsChange,
) -> anyhow::Result<ProvisioningView> {
    decide_on_organization(
        pool,
        appender,
        org_id,
        &command_line("provisioning set"),
        "provisioning set",
        |stream| {
            let events = provisioning::change_settings(&provisioning::of(stream), &change)?;
            let registrations = events
                .iter()
                .filter_map(|event| match event {
                    Event::ScimEnabled { .. } => Some(Registration::ScimSwitched { enabled: true }),
                    Event::ScimDisabled {} => Some(Registration::ScimSwitched { enabled: false }),
                    _ => None,
                })
                .collect();
            Ok((events, registrations))
        },
    )
    .await?;
    show(pool, org_id).await
}

/// Every role of the organization, built-in first.
pub async fn roles(pool: &Pool, org_id: Uuid) -> anyhow::Result<Vec<String>> {
    let stream = store::read_stream(pool, org_id, org_id).await?;
    Ok(provisioning::of(&stream).roles())
}

/// Adds the custom role `name`.
pub async fn add_role(
    pool: &Pool,
    appender: &Appender,
    org_id: Uuid,
    name: &str,
) -> anyhow::Result<()> {
    decide_on_organization(
        pool,
        appender,
        org_id,
        &command_line("role add"),
        "role add",
        |stream| {
            let event = provisioning::add_role(&provisioning::of(stream), name)?;
            Ok((vec![event], Vec::new()))
        },
    )
    .await?;
    Ok(())
}

fn view(state: &provisioning::Provisioning) -> ProvisioningView {
    ProvisioningView {
        scim_enabled: state.scim_enabled,
        default_role: state.default_role.clone(),
    }
}
