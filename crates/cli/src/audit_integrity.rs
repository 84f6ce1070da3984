//! `rollcall audit signing-key`, `checkpoint` and `checkpoints`: the
//! operator's key, and signed checkpoints of organizations' heads
//! (docs/audit-integrity.md).

use std::path::{Path, PathBuf};

use admin::tokens;
use anyhow::Context;
use audit::signing_key::{self, PublicKey};
use clap::Subcommand;
use domain::checkpoint::SignedCheckpoint;
use settings::knobs::SigningKeyArgs;
use time::OffsetDateTime;

use crate::args::Db;

#[derive(Subcommand)]
pub enum IntegrityCommand {
    /// The Ed25519 key that signs checkpoints.
    SigningKey {
        #[command(subcommand)]
        command: SigningKeyCommand,
    },
    /// Sign the organization's head now (every organization's without
    /// --org) with the key of ROLLCALL_SIGNING_KEY_FILE, keep the checkpoint
    /// and print it as JSON (one line per organization), or write it to
    /// --out: the file an auditor keeps for `rollcall verify --checkpoint`.
    Checkpoint {
        /// The organization's name.
        #[arg(long)]
        org: Option<String>,
        /// Write the checkpoint to this file instead of printing it.
        #[arg(long, requires = "org")]
        out: Option<PathBuf>,
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        signing_key: SigningKeyArgs,
    },
    /// List the organization's signed checkpoints as JSON lines, oldest
    /// first.
    Checkpoints {
        /// The organization's name.
        #[arg(long)]
        org: String,
        #[command(flatten)]
        db: Db,
    },
}

#[derive(Subcommand)]
pub enum SigningKeyCommand {
    /// Write a new Ed25519 private key (PKCS#8 PEM, mode 0600, never over an
    /// existing file) and print its public key as
    /// {"algorithm","public_key","key_id"}. Point ROLLCALL_SIGNING_KEY_FILE
    /// at the file.
    Generate {
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs one of these verbs.
pub async fn run(command: IntegrityCommand) -> anyhow::Result<()> {
    match command {
        IntegrityCommand::SigningKey {
            command: SigningKeyCommand::Generate { out },
        } => {
            let key = signing_key::generate(&out)?;
            println!(
                "{}",
                serde_json::to_string(&PublicKey::of(&key.verifying_key()))?
            );
            eprintln!(
                "wrote the private key to {}; keep it secret and set ROLLCALL_SIGNING_KEY_FILE={}",
                out.display(),
                out.display()
            );
        }
        IntegrityCommand::Checkpoint {
            org,
            out,
            db,
            signing_key,
        } => {
            let path = signing_key.signing_key_file.as_deref().context(
                "no signing key: set ROLLCALL_SIGNING_KEY_FILE (or --signing-key-file) to the \
                 file `rollcall audit signing-key generate` wrote",
            )?;
            let key = signing_key::load(path)?;
            let (pool, _) = crate::connect(&db).await?;
            let org_ids = match &org {
                Some(name) => vec![tokens::organization_named(&pool, name).await?],
                None => store::list_organizations(&pool).await?,
            };
            let now = OffsetDateTime::now_utc();
            for org_id in org_ids {
                let signed = audit::checkpoints::record(&pool, &key, org_id, now).await?;
                match &out {
                    Some(out) => write_file(out, &signed)?,
                    None => println!("{}", serde_json::to_string(&signed.to_file())?),
                }
            }
        }
        IntegrityCommand::Checkpoints { org, db } => {
            let (pool, _) = crate::connect(&db).await?;
            let org_id = tokens::organization_named(&pool, &org).await?;
            for listed in audit::checkpoints::list(&pool, org_id).await? {
                println!("{}", serde_json::to_string(&listed)?);
            }
        }
    }
    Ok(())
}

fn write_file(out: &Path, signed: &SignedCheckpoint) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(&signed.to_file())? + "\n";
    std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))?;
    let head = &signed.head;
    println!(
        "signed checkpoint of {:?}: {} events, head hash {} at position {}; written to {}",
        head.org_name,
        head.event_count,
        hex::encode(head.head_hash),
        head.head_position,
        out.display()
    );
    Ok(())
}
