//! An organization's email domains: add (with the DNS challenge the owner
//! publishes), verify (the challenge's TXT record looked up through a real
//! resolver), drop, list; decided by `domain::domains` on the organization's
//! own stream. A verification that finds the wrong value, or none, is a
//! refusal like any other: recorded, and answered with what was found.

use anyhow::Context;
use dns::TxtResolver;
use domain::domains::{self, ClaimedDomain, DomainState};
use domain::{Event, RequestMeta, StoredEvent};
use serde::Serialize;
use store::{Appender, Pool, Registration};
use uuid::Uuid;

use crate::decide_on_organization;

/// One domain as the admin API and `rollcall domain` show it:
/// `{"id","domain","txt_name","txt_value","state"}`, state `pending` or
/// `verified`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainView {
    pub id: Uuid,
    pub domain: String,
    pub txt_name: String,
    pub txt_value: String,
    pub state: &'static str,
}

impl From<&ClaimedDomain> for DomainView {
    fn from(claimed: &ClaimedDomain) -> Self {
        DomainView {
            id: claimed.domain_id,
            domain: claimed.domain.clone(),
            txt_name: claimed.txt_name.clone(),
            txt_value: claimed.txt_value.clone(),
            state: claimed.state.as_str(),
        }
    }
}

/// The domains the organization's stream holds.
fn claimed(stream: &[StoredEvent]) -> Vec<ClaimedDomain> {
    domains::claimed(stream.iter().map(|stored| &stored.event))
}

/// Adds `domain` (as the owner typed it) to `org_id`, pending, with a TXT
/// value of its own; refused when it is no domain an organization may claim
/// or the organization has it already.
pub async fn add(
    pool: &Pool,
    appender: &Appender,
    org_id: Uuid,
    meta: &RequestMeta,
    domain: &str,
) -> anyhow::Result<DomainView> {
    let secret = hex::encode(rand::random::<[u8; 16]>());
    let domain_id = Uuid::now_v7();
    let events = decide_on_organization(pool, appender, org_id, meta, "domain add", |stream| {
        let event = domains::add(&claimed(stream), domain_id, domain, &secret)?;
        Ok((vec![event], Vec::new()))
    })
    .await?;
    let Some(Event::DomainAdded {
        domain_id,
        domain,
        txt_name,
        txt_value,
    }) = events.into_iter().next()
    else {
        unreachable!("domains::add makes a DomainAdded event")
    };
    Ok(DomainView {
        id: domain_id,
        domain,
        txt_name,
        txt_value,
        state: DomainState::Pending.as_str(),
    })
}

/// Verifies `domain_id` of `org_id`: looks its TXT record up through
/// `resolver` and, when one holds its value exactly, records it verified
/// (and registers it, for the rules that ask). A wrong value or none is a
/// recorded refusal saying what was found; a nameserver that does not
/// answer is an error (a `dns::DnsError`) and records nothing.
pub async fn verify(
    pool: &Pool,
    appender: &Appender,
    resolver: &TxtResolver,
    org_id: Uuid,
    meta: &RequestMeta,
    domain_id: Uuid,
) -> anyhow::Result<DomainView> {
    let stream = store::read_stream(pool, org_id, org_id).await?;
    let awaiting = domains::awaiting_verification(&claimed(&stream), domain_id).cloned();
    let found = match &awaiting {
        Ok(claim) => resolver.txt(&claim.txt_name).await?,
        // Nothing to look up: deciding below refuses, and records it.
        Err(_) => Vec::new(),
    };
    decide_on_organization(pool, appender, org_id, meta, "domain verify", |stream| {
        let event = domains::verify(&claimed(stream), domain_id, &found)?;
        let Event::DomainVerified { domain, .. } = &event else {
            unreachable!("domains::verify makes a DomainVerified event")
        };
        let registration = Registration::DomainVerified {
            domain_id,
            domain: domain.clone(),
        };
        Ok((vec![event], vec![registration]))
    })
    .await?;
    // Verified, so it was awaiting verification when read: a domain's
    // challenge never changes once added.
    let claim = awaiting.context("a verified domain was awaiting verification")?;
    Ok(DomainView {
        state: DomainState::Verified.as_str(),
        ..DomainView::from(&claim)
    })
}

/// Drops `domain_id` of `org_id`, pending or verified: from the commit on,
/// the organization no longer has it verified.
pub async fn drop(
    pool: &Pool,
    appender: &Appender,
    org_id: Uuid,
    meta: &RequestMeta,
    domain_id: Uuid,
) -> anyhow::Result<()> {
    decide_on_organization(pool, appender, org_id, meta, "domain drop", |stream| {
        let event = domains::drop(&claimed(stream), domain_id)?;
        let Event::DomainDropped { domain, .. } = &event else {
            unreachable!("domains::drop makes a DomainDropped event")
        };
        let registration = Registration::DomainDropped {
            domain: domain.clone(),
        };
        Ok((vec![event], vec![registration]))
    })
    .await?;
    Ok(())
}

/// Every domain of `org_id`, in the order they were added.
pub async fn list(pool: &Pool, org_id: Uuid) -> anyhow::Result<Vec<DomainView>> {
    let stream = store::read_stream(pool, org_id, org_id).await?;
    Ok(claimed(&stream).iter().map(DomainView::from).collect())
}
