//! `rollcall bench-groups`: what member changes and group reads cost on a
//! big group, beside the same member changes on an empty one.
//!
//! It makes sure the population has `members + spare` users, fetches their
//! ids, builds a group of `members` members (PATCHes of 1,000) and an empty
//! group, then measures one kind of request at a time, each for `duration`
//! with `clients` concurrent clients:
//!
//! - `add-1` / `remove-1`: a PATCH adding one spare user, then one removing
//!   it (so the group stays at its size), on the empty group and on the big;
//! - `add-1000` / `remove-1000`: the same with 1,000 spare users at once;
//! - `get-lean`: `GET /Groups/{id}?excludedAttributes=members`;
//! - `get-full`: `GET /Groups/{id}`, the whole streamed body read and its
//!   member count checked.
//!
//! Every answer is checked; a wrong one counts as an error, not a sample.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::{encode_query_value, percentile, populate};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Members per PATCH when the big group is built, and per `add-1000`.
const BATCH: usize = 1_000;

/// What to run.
#[derive(Debug, Clone)]
pub struct GroupBenchPlan {
    pub url: String,
    pub token: String,
    pub clients: usize,
    /// Per measured request kind.
    pub duration: Duration,
    /// Members of the big group.
    pub members: usize,
    /// Only make the population and the big group (a later run reuses them).
    pub setup_only: bool,
}

/// Figures for one request kind on one group.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GroupFigures {
    pub operation: String,
    pub group_members: usize,
    pub count: usize,
    pub errors: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

struct Target<'a> {
    client: &'a reqwest::Client,
    base: &'a str,
    token: &'a str,
}

impl Target<'_> {
    async fn patch_members(&self, group: &str, op: &str, ids: &[String]) -> bool {
        let value: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
        let body = json!({"schemas": [PATCH_OP],
                          "Operations": [{"op": op, "path": "members", "value": value}]});
        let sent = self
            .client
            .patch(format!("{}/Groups/{group}", self.base))
            .bearer_auth(self.token)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
            .await;
        matches!(sent, Ok(response) if response.status() == reqwest::StatusCode::NO_CONTENT)
    }

    async fn get(&self, path: &str) -> Option<Value> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.token)
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }

    async fn create_group(&self, name: &str) -> anyhow::Result<String> {
        let body: Value = self
            .client
            .post(format!("{}/Groups", self.base))
            .bearer_auth(self.token)
            .header("content-type", "application/scim+json")
            .body(json!({"schemas": [GROUP_SCHEMA], "displayName": name}).to_string())
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        body["id"]
            .as_str()
            .map(str::to_owned)
            .context("a created group without an id")
    }

    /// The ids of population users 0..n, in index order.
    async fn population_ids(&self, n: usize) -> anyhow::Result<Vec<String>> {
        let filter = encode_query_value(&format!("userName sw \"{}\"", populate::PREFIX));
        let mut ids = Vec::with_capacity(n);
        while ids.len() < n {
            let page = self
                .get(&format!(
                    "/Users?filter={filter}&sortBy=userName&attributes=id&count=1000&startIndex={}",
                    ids.len() + 1
                ))
                .await
                .context("listing the population failed")?;
            let resources = page["Resources"].as_array().cloned().unwrap_or_default();
            if resources.is_empty() {
                bail!("the population has {} users, {n} needed", ids.len());
            }
            ids.extend(
                resources
                    .iter()
                    .filter_map(|user| user["id"].as_str().map(str::to_owned)),
            );
        }
        ids.truncate(n);
        Ok(ids)
    }
}

/// Runs the plan; returns figures per request kind and group.
pub async fn run(plan: &GroupBenchPlan) -> anyhow::Result<Vec<GroupFigures>> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(plan.clients)
        .timeout(Duration::from_secs(120))
        .build()?;
    let base = plan.url.trim_end_matches('/').to_owned();
    let target = Target {
        client: &client,
        base: &base,
        token: &plan.token,
    };
    let spare = plan.clients * BATCH;
    populate::populate(&client, &base, &plan.token, 64, plan.members + spare).await?;
    eprintln!("groups: reading {} user ids", plan.members + spare);
    let ids = target.population_ids(plan.members + spare).await?;
    let (members, spare) = ids.split_at(plan.members);

    let big = big_group(&target, members).await?;
    if plan.setup_only {
        return Ok(Vec::new());
    }
    let run = uuid::Uuid::new_v4().simple().to_string();
    let empty = target
        .create_group(&format!("bench-empty-{}", &run[..8]))
        .await?;

    let mut figures = Vec::new();
    for (group, size) in [(&empty, 0), (&big, members.len())] {
        for batch in [1, BATCH] {
            let samples = measure_adds(&target, group, spare, batch, plan).await;
            figures.push(summary(&format!("add-{batch}"), size, &samples.0));
            figures.push(summary(&format!("remove-{batch}"), size, &samples.1));
        }
    }
    for (label, path, expected) in [
        (
            "get-lean",
            format!("/Groups/{big}?excludedAttributes=members"),
            None,
        ),
        ("get-full", format!("/Groups/{big}"), Some(members.len())),
    ] {
        let samples = measure_gets(&target, &path, expected, plan).await;
        figures.push(summary(label, members.len(), &samples));
    }
    Ok(figures)
}

/// The group `bench-big-<n>` with the first `n` population users, made
/// (with PATCHes of 1,000) unless an earlier run left it.
async fn big_group(target: &Target<'_>, members: &[String]) -> anyhow::Result<String> {
    let name = format!("bench-big-{}", members.len());
    let filter = encode_query_value(&format!("displayName eq \"{name}\""));
    let found = target
        .get(&format!(
            "/Groups?filter={filter}&excludedAttributes=members"
        ))
        .await
        .context("looking for the big group failed")?;
    if let Some(id) = found["Resources"][0]["id"].as_str() {
        eprintln!("groups: reusing {name}");
        return Ok(id.to_owned());
    }
    let big = target.create_group(&name).await?;
    let started = Instant::now();
    for (n, chunk) in members.chunks(BATCH).enumerate() {
        if !target.patch_members(&big, "add", chunk).await {
            bail!("adding members {}.. to the big group failed", n * BATCH);
        }
    }
    eprintln!(
        "groups: built {name} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(big)
}

type Samples = Vec<(Duration, bool)>;

/// Each client adds `batch` of its own spare users and removes them again,
/// until the time is up; returns (add samples, remove samples).
async fn measure_adds(
    target: &Target<'_>,
    group: &str,
    spare: &[String],
    batch: usize,
    plan: &GroupBenchPlan,
) -> (Samples, Samples) {
    let deadline = Instant::now() + plan.duration;
    let clients = (0..plan.clients).map(|client| {
        let own = &spare[client * BATCH..(client + 1) * BATCH];
        async move {
            let (mut adds, mut removes) = (Vec::new(), Vec::new());
            let mut step = 0;
            while Instant::now() < deadline {
                let start = (step * batch) % BATCH;
                let chosen = &own[start..start + batch];
                let began = Instant::now();
                let added = target.patch_members(group, "add", chosen).await;
                adds.push((began.elapsed(), added));
                let began = Instant::now();
                let removed = target.patch_members(group, "remove", chosen).await;
                removes.push((began.elapsed(), removed));
                step += 1;
            }
            (adds, removes)
        }
    });
    let results = futures::future::join_all(clients).await;
    let mut adds = Vec::new();
    let mut removes = Vec::new();
    for (a, r) in results {
        adds.extend(a);
        removes.extend(r);
    }
    (adds, removes)
}

async fn measure_gets(
    target: &Target<'_>,
    path: &str,
    expected_members: Option<usize>,
    plan: &GroupBenchPlan,
) -> Samples {
    let deadline = Instant::now() + plan.duration;
    let clients = (0..plan.clients).map(|_| async move {
        let mut samples = Vec::new();
        while Instant::now() < deadline {
            let began = Instant::now();
            let body = target.get(path).await;
            let elapsed = began.elapsed();
            let ok = body.is_some_and(|group| {
                let members = group.get("members").and_then(Value::as_array).map(Vec::len);
                members == expected_members
            });
            samples.push((elapsed, ok));
        }
        samples
    });
    futures::future::join_all(clients)
        .await
        .into_iter()
        .flatten()
        .collect()
}

fn summary(operation: &str, group_members: usize, samples: &[(Duration, bool)]) -> GroupFigures {
    let mut latencies: Vec<Duration> = samples
        .iter()
        .filter(|(_, ok)| *ok)
        .map(|(latency, _)| *latency)
        .collect();
    latencies.sort();
    GroupFigures {
        operation: operation.to_owned(),
        group_members,
        count: latencies.len(),
        errors: samples.len() - latencies.len(),
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
    }
}

/// The figures as a table for people.
pub fn table(figures: &[GroupFigures]) -> String {
    let mut out = format!(
        "{:<12} {:>14} {:>8} {:>7} {:>9} {:>9}\n",
        "op", "group members", "count", "errors", "p50 ms", "p99 ms"
    );
    for f in figures {
        out.push_str(&format!(
            "{:<12} {:>14} {:>8} {:>7} {:>9.2} {:>9.2}\n",
            f.operation, f.group_members, f.count, f.errors, f.p50_ms, f.p99_ms
        ));
    }
    out
}
