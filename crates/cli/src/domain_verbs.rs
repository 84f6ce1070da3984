//! `rollcall domain`: an organization's verified email domains, through the
//! `admin` crate's operations (the admin API calls the same).

use admin::{command_line, domains, tokens};
use clap::Subcommand;
use settings::knobs::DnsArgs;

use crate::args::Db;

#[derive(Subcommand)]
pub enum DomainCommand {
    /// Add an email domain, pending until its TXT record is found; prints
    /// {"id","domain","txt_name","txt_value","state"}: publish a TXT record
    /// named txt_name holding txt_value, then verify.
    Add {
        /// The organization's name.
        #[arg(long)]
        org: String,
        /// The domain, e.g. example.com (no public mail domains).
        #[arg(long)]
        domain: String,
    },
    /// Look the domain's TXT record up and verify it; prints the domain, or
    /// fails saying what DNS holds instead.
    Verify {
        /// The organization's name.
        #[arg(long)]
        org: String,
        /// The domain's id (from `rollcall domain list`).
        #[arg(long)]
        id: uuid::Uuid,
        #[command(flatten)]
        dns: DnsArgs,
    },
    /// List the organization's domains as JSON lines
    /// ({"id","domain","txt_name","txt_value","state"}).
    List {
        /// The organization's name.
        #[arg(long)]
        org: String,
    },
    /// Drop a domain, pending or verified.
    Drop {
        /// The organization's name.
        #[arg(long)]
        org: String,
        /// The domain's id (from `rollcall domain list`).
        #[arg(long)]
        id: uuid::Uuid,
    },
}

/// Runs one `rollcall domain` verb, printing what it made or found.
pub async fn run(db: &Db, command: DomainCommand) -> anyhow::Result<()> {
    let (pool, appender) = crate::connect(db).await?;
    match command {
        DomainCommand::Add { org, domain } => {
            let org_id = tokens::organization_named(&pool, &org).await?;
            let added = domains::add(
                &pool,
                &appender,
                org_id,
                &command_line("domain add"),
                &domain,
            )
            .await?;
            println!("{}", serde_json::to_string(&added)?);
        }
        DomainCommand::Verify { org, id, dns } => {
            let org_id = tokens::organization_named(&pool, &org).await?;
            let resolver = dns::TxtResolver::new(dns.dns_server)?;
            let verified = domains::verify(
                &pool,
                &appender,
                &resolver,
                org_id,
                &command_line("domain verify"),
                id,
            )
            .await?;
            println!("{}", serde_json::to_string(&verified)?);
        }
        DomainCommand::List { org } => {
            let org_id = tokens::organization_named(&pool, &org).await?;
            for listed in domains::list(&pool, org_id).await? {
                println!("{}", serde_json::to_string(&listed)?);
            }
        }
        DomainCommand::Drop { org, id } => {
            let org_id = tokens::organization_named(&pool, &org).await?;
            domains::drop(&pool, &appender, org_id, &command_line("domain drop"), id).await?;
            println!("dropped domain {id}");
        }
    }
    Ok(())
}
