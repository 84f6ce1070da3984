//! `rollcall audit`: the auditors' queries for operators with the database,
//! through the `audit` crate (the admin API's audit routes call the same).
//! Each family of verbs lives in its own file and is flattened in here.

use std::process::ExitCode;

use clap::Subcommand;

use crate::audit_evidence::{self, EvidenceCommand};
use crate::audit_history::{self, HistoryCommand};
use crate::audit_integrity::{self, IntegrityCommand};
use crate::audit_log::{self, LogCommand};

#[derive(Subcommand)]
pub enum AuditCommand {
    #[command(flatten)]
    History(HistoryCommand),
    #[command(flatten)]
    Log(LogCommand),
    #[command(flatten)]
    Integrity(IntegrityCommand),
    #[command(flatten)]
    Evidence(EvidenceCommand),
}

/// Runs one `rollcall audit` verb.
pub async fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::History(command) => audit_history::run(command).await,
        AuditCommand::Log(command) => audit_log::run(command).await,
        AuditCommand::Evidence(command) => audit_evidence::run(command).await,
        AuditCommand::Integrity(command) => {
            audit_integrity::run(command).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
