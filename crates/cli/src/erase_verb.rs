//! `rollcall erase --org NAME --user ID`: erases a person who has left,
//! through the `admin` crate's operation (the admin API calls the same).

use admin::{command_line, erasure, tokens};
use uuid::Uuid;

use crate::args::Db;

/// Erases SCIM user `user_id` of organization `org`, printing what it did;
/// fails with the refusal's message (recorded in the log) for an active
/// user.
pub async fn run(db: &Db, org: &str, user_id: Uuid) -> anyhow::Result<()> {
    let (pool, appender) = crate::connect(db).await?;
    let org_id = tokens::organization_named(&pool, org).await?;
    let erased = erasure::erase(&pool, &appender, org_id, user_id, &command_line("erase")).await?;
    println!("{}", serde_json::to_string(&erased)?);
    Ok(())
}
