//! `rollcall bench --populate N`: fills the organization with N predictably
//! named users through the real write path (`POST /Users`), so that the read
//! tables and their indexes are exactly what production has.
//!
//! User `i` is `pop-<i, seven digits>@bench.example.com` with the work email
//! `Pop-<i>@Work.Bench.Example.com`. Populating is idempotent: it counts the
//! population users already there, starts after them, and takes a 409 as
//! "already created". The filter operations pick users of `0..size`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

use super::encode_query_value;

/// What every population user name starts with.
pub const PREFIX: &str = "pop-";
/// Digits of the zero-padded index: room for ten million users.
pub const DIGITS: u32 = 7;

/// The userName of population user `i`.
pub fn user_name(i: usize) -> String {
    format!("{PREFIX}{i:07}@bench.example.com")
}

/// The externalId of population user `i`.
pub fn external_id(i: usize) -> String {
    format!("{PREFIX}{i:07}")
}

/// The work email of population user `i`, in mixed case as a client may send it.
pub fn work_email(i: usize) -> String {
    format!("Pop-{i:07}@Work.Bench.Example.com")
}

/// The `userName sw` prefix made of `PREFIX` and the first `digits` digits
/// of user `i`'s index, and how many of the users `0..size` it matches.
///
/// A prefix with `d` of the seven digits matches a block of `10^(7-d)`
/// consecutive indexes, so the result size depends on the prefix length, not
/// on the organization's size (as long as the block is populated).
pub fn prefix_block(i: usize, digits: u32, size: usize) -> (String, usize) {
    let digits = digits.clamp(1, DIGITS);
    let block = 10usize.pow(DIGITS - digits);
    let first = i / block * block;
    let prefix = format!("{PREFIX}{:0width$}", i / block, width = digits as usize);
    let matches = size.min(first + block).saturating_sub(first);
    (prefix, matches)
}

/// The SCIM resource of population user `i`.
fn resource(i: usize) -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name(i),
        "externalId": external_id(i),
        "name": {"givenName": "Population", "familyName": format!("User {i}")},
        "displayName": format!("Population User {i}"),
        "emails": [
            {"type": "work", "value": work_email(i), "primary": true},
            {"type": "home", "value": format!("pop-{i:07}@home.example.net")}
        ],
        "active": true
    })
}

/// How many population users the organization has (`userName sw "pop-"`).
pub async fn count(client: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<usize> {
    let filter = encode_query_value(&format!("userName sw \"{PREFIX}\""));
    let body: serde_json::Value = client
        .get(format!("{base}/Users?filter={filter}&count=0"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    body["totalResults"]
        .as_u64()
        .map(|n| n as usize)
        .context("a list response without totalResults")
}

/// Creates population users until there are `target`, with `clients`
/// concurrent clients; prints progress and creates/s to stderr. Returns the
/// population size.
pub async fn populate(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    clients: usize,
    target: usize,
) -> anyhow::Result<usize> {
    let existing = count(client, base, token).await?;
    if existing >= target {
        eprintln!("population: {existing} users already there (asked for {target})");
        return Ok(existing);
    }
    eprintln!("population: creating users {existing}..{target} with {clients} clients",);
    let next = Arc::new(AtomicUsize::new(existing));
    let done = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, base, token) = (client.clone(), base.to_owned(), token.to_owned());
        let (next, done, failed) = (next.clone(), done.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= target {
                    break;
                }
                if create(&client, &base, &token, i).await {
                    done.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let progress = {
        let (done, total) = (done.clone(), target - existing);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            tick.tick().await;
            loop {
                tick.tick().await;
                let n = done.load(Ordering::Relaxed);
                eprintln!(
                    "population: {n}/{total} created, {:.0} creates/s",
                    n as f64 / started.elapsed().as_secs_f64()
                );
            }
        })
    };
    for task in tasks {
        task.await?;
    }
    progress.abort();
    let (created, failed) = (done.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "population: {created} created in {elapsed:.1} s ({:.0} creates/s), {failed} failed",
        created as f64 / elapsed
    );
    if failed > 0 {
        bail!("{failed} population users could not be created; the population has gaps");
    }
    Ok(target)
}

/// Creates user `i`, retrying twice; a 409 means an earlier run created it.
async fn create(client: &reqwest::Client, base: &str, token: &str, i: usize) -> bool {
    let body = resource(i);
    for _ in 0..3 {
        let sent = client
            .post(format!("{base}/Users"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await;
        if let Ok(response) = sent
            && matches!(response.status().as_u16(), 201 | 409)
        {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_predictable_and_sort_by_index() {
        assert_eq!(user_name(42), "pop-0000042@bench.example.com");
        assert_eq!(external_id(1_234_567), "pop-1234567");
        assert_eq!(work_email(7), "Pop-0000007@Work.Bench.Example.com");
        assert!(user_name(999) < user_name(1_000));
    }

    #[test]
    fn prefix_blocks_match_the_same_count_at_any_size() {
        assert_eq!(
            prefix_block(12_345, 4, 100_000),
            ("pop-0012".to_owned(), 1_000)
        );
        assert_eq!(
            prefix_block(12_345, 5, 100_000),
            ("pop-00123".to_owned(), 100)
        );
        assert_eq!(
            prefix_block(12_345, 6, 100_000),
            ("pop-001234".to_owned(), 10)
        );
        assert_eq!(prefix_block(345, 4, 1_000), ("pop-0000".to_owned(), 1_000));
        assert_eq!(prefix_block(345, 6, 1_000), ("pop-000034".to_owned(), 10));
        // A block the population only partly fills.
        assert_eq!(prefix_block(1_020, 4, 1_050), ("pop-0001".to_owned(), 50));
        assert_eq!(prefix_block(5, 7, 10), ("pop-0000005".to_owned(), 1));
    }

    #[test]
    fn every_name_in_a_block_has_its_prefix() {
        let size = 2_345;
        for digits in 4..=6 {
            for i in [0, 999, 1_000, 2_344] {
                let (prefix, matches) = prefix_block(i, digits, size);
                let found = (0..size)
                    .filter(|&j| user_name(j).starts_with(&prefix))
                    .count();
                assert_eq!(found, matches, "{prefix}");
            }
        }
    }
}
