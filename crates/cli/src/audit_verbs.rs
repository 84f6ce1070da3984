//! `rollcall audit`: the auditors' queries for operators with the database,
//! through the `audit` crate (the admin API's audit routes call the same).
//! Each family of verbs lives in its own file and is flattened in here.

use std::process::ExitCode;

use clap::Subcommand;
use rollcall::Config;

use crate::audit_integrity::IntegrityCommand;

#[derive(Subcommand)]
pub enum AuditCommand {
    #[command(flatten)]
    Integrity(IntegrityCommand),
}

/// Runs one `rollcall audit` verb.
pub async fn run(config: &Config, command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Integrity(command) => crate::audit_integrity::run(config, command).await?,
    }
    Ok(ExitCode::SUCCESS)
}
