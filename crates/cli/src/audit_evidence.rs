//! `rollcall audit evidence` and `verify-evidence`: the signed pack an
//! auditor hands over for a period, and its check (audit::evidence).

use std::path::PathBuf;
use std::process::ExitCode;

use admin::tokens;
use anyhow::Context;
use audit::history::instant::parse_instant;
use clap::Subcommand;
use settings::knobs::SigningKeyArgs;

use crate::args::Db;
use rollcall::verify_organization::{ChainVerdict, verify_organization};
use time::OffsetDateTime;

#[derive(Subcommand)]
pub enum EvidenceCommand {
    /// Write the evidence pack of a period into --out: joiners and leavers
    /// (CSV and JSON), the period's events (NDJSON), a signed checkpoint of
    /// the organization's head, and manifest.json with every file's SHA-256,
    /// signed in manifest.sig with the key of ROLLCALL_SIGNING_KEY_FILE.
    /// Refused when the organization's chain does not verify.
    Evidence {
        /// The organization's name.
        #[arg(long)]
        org: String,
        /// The period's start, included (RFC 3339).
        #[arg(long, value_parser = instant("--since"))]
        since: OffsetDateTime,
        /// The period's end, excluded (RFC 3339).
        #[arg(long, value_parser = instant("--until"))]
        until: OffsetDateTime,
        /// The directory to write (created; must not hold a pack already).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        signing_key: SigningKeyArgs,
    },
    /// Check an evidence pack without the database: manifest.sig against
    /// manifest.json (and --public-key, the key you trust), and every
    /// file's digest. Exit 0 when it holds, 1 with the first thing that
    /// does not.
    VerifyEvidence {
        /// The pack's directory.
        #[arg(long)]
        dir: PathBuf,
        /// The signing public key (hex) you trust, e.g. from
        /// GET .../audit/signing-key.
        #[arg(long)]
        public_key: Option<String>,
    },
}

fn instant(name: &'static str) -> impl Fn(&str) -> Result<OffsetDateTime, String> + Clone {
    move |text| parse_instant(name, text)
}

/// Runs one of these verbs.
pub async fn run(command: EvidenceCommand) -> anyhow::Result<ExitCode> {
    match command {
        EvidenceCommand::Evidence {
            org,
            since,
            until,
            out,
            db,
            signing_key,
        } => {
            let path = signing_key.signing_key_file.as_deref().context(
                "no signing key: set ROLLCALL_SIGNING_KEY_FILE (or --signing-key-file) to the \
                 file `rollcall audit signing-key generate` wrote; the manifest must be signed",
            )?;
            let key = audit::signing_key::load(path)?;
            let (pool, _) = crate::connect(&db).await?;
            let org_id = tokens::organization_named(&pool, &org).await?;
            if let ChainVerdict::Broken { position, reason } =
                verify_organization(&pool, org_id, None).await?
            {
                anyhow::bail!(
                    "no evidence from a broken log: position {position}: {reason} \
                     (see `rollcall verify --org {org:?}`)"
                );
            }
            let manifest =
                audit::evidence::write_pack(&pool, &key, (org_id, &org), (since, until), &out)
                    .await?;
            println!(
                "wrote the evidence pack of {org:?} for [{since}, {until}) to {}: {} files, \
                 {} events exported; head hash {} at position {} ({} events); \
                 manifest signed by key {}",
                out.display(),
                manifest.files.len(),
                manifest.exported_events,
                manifest.head_hash,
                manifest.head_position,
                manifest.head_events,
                manifest.key_id
            );
            Ok(ExitCode::SUCCESS)
        }
        EvidenceCommand::VerifyEvidence { dir, public_key } => {
            match audit::evidence::verify_pack(&dir, public_key.as_deref()) {
                Ok(manifest) => {
                    println!(
                        "sound: the pack of {:?} for [{}, {}) is as key {} signed it: {} files \
                         match their digests; head hash {} at position {}",
                        manifest.org_name,
                        manifest.since,
                        manifest.until,
                        manifest.key_id,
                        manifest.files.len(),
                        manifest.head_hash,
                        manifest.head_position
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => {
                    println!("refused: {error:#}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}
