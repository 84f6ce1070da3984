//! What changed in an organization between two instants.

use domain::history::diff::{Diff, diff};
use domain::history::state::OrganizationState;
use serde::Serialize;
use store::Pool;
use uuid::Uuid;

use super::instant::{At, Resolved, resolve};
use super::state::fold_to;

/// The changes from one instant to another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiffAnswer {
    pub org_id: Uuid,
    pub from: Resolved,
    pub to: Resolved,
    #[serde(flatten)]
    pub diff: Diff,
}

/// What changed in `org_id` from `from` to `to` (`from` not after `to`):
/// the log is read once, up to `to`.
pub async fn diff_between(
    pool: &Pool,
    org_id: Uuid,
    from: At,
    to: At,
) -> anyhow::Result<DiffAnswer> {
    let from = resolve(pool, org_id, from).await?;
    let to = resolve(pool, org_id, to).await?;
    let before = fold_to(pool, OrganizationState::new(org_id), from.position).await?;
    let after = fold_to(pool, before.clone(), to.position.max(from.position)).await?;
    Ok(DiffAnswer {
        org_id,
        from,
        to,
        diff: diff(&before, &after),
    })
}
