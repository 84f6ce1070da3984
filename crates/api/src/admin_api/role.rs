//! TEMPORARY, until `admin::members::role_of` lands on main (memberships,
//! issue 10): at the merge, delete this file and call
//! `admin::members::role_of` from `owners.rs` instead; the signature is the
//! same. Until then the organization's stream says who its owners are
//! (`OwnerAdded`) and knows no other members.

use domain::Event;
use domain::provisioning::OWNER;
use uuid::Uuid;

/// The role of `account_id` in `org_id` if it is an active member there,
/// else `None`.
pub(super) async fn role_of(
    pool: &store::Pool,
    org_id: Uuid,
    account_id: Uuid,
) -> anyhow::Result<Option<String>> {
    let stream = store::read_stream(pool, org_id, org_id).await?;
    let is_owner = stream.iter().any(|stored| {
        matches!(&stored.event, Event::OwnerAdded { account_id: owner, .. } if *owner == account_id)
    });
    Ok(is_owner.then(|| OWNER.to_owned()))
}
