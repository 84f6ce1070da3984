//! An organization's provisioning settings (SCIM on or off, the default
//! role) and its roles, decided by `domain::provisioning`.

use domain::provisioning::{self, SettingsChange};
use domain::{Event, RequestMeta};
use serde::Serialize;
use store::{Appender, Pool, Registration};
use uuid::Uuid;

use crate::decide_on_organization;

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

/// The settings after a change, and whether it changed (and recorded)
/// anything: a change to what already holds records nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsSet {
    pub settings: ProvisioningView,
    pub changed: bool,
}

/// Applies `change`; returns the settings after it.
pub async fn set(
    pool: &Pool,
    appender: &Appender,
    org_id: Uuid,
    meta: &RequestMeta,
    change: SettingsChange,
) -> anyhow::Result<SettingsSet> {
    let events =
        decide_on_organization(pool, appender, org_id, meta, "provisioning set", |stream| {
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
        })
        .await?;
    Ok(SettingsSet {
        settings: show(pool, org_id).await?,
        changed: !events.is_empty(),
    })
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
    meta: &RequestMeta,
    name: &str,
) -> anyhow::Result<()> {
    decide_on_organization(pool, appender, org_id, meta, "role add", |stream| {
        let event = provisioning::add_role(&provisioning::of(stream), name)?;
        Ok((vec![event], Vec::new()))
    })
    .await?;
    Ok(())
}

fn view(state: &provisioning::Provisioning) -> ProvisioningView {
    ProvisioningView {
        scim_enabled: state.scim_enabled,
        default_role: state.default_role.clone(),
    }
}
