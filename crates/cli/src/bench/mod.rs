//! `rollcall bench`: a load generator that drives SCIM creates, PATCHes and
//! filtered GETs over HTTP and reports throughput and latency per operation.
//!
//! Each client runs its operations in rotation. `create`, `patch` and `get`
//! work on users the client created itself, so every PATCH and GET hits a
//! real user and clients never contend for one stream. The `filter-*`
//! operations read a population of predictably named users that `--populate
//! N` creates first ([`populate`]), and count an error unless they found
//! exactly what they should. Figures, never assertions: the machines are shared.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::{Rng, SeedableRng};

mod connection;
pub mod groups;
mod operations;
pub mod populate;

use connection::{Connection, Target};
pub use operations::Operation;
use operations::Session;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    pub url: String,
    pub token: String,
    pub clients: usize,
    /// How long to run the operations; zero only populates.
    pub duration: Duration,
    pub operations: Vec<Operation>,
    /// Create population users until there are this many, before the run.
    pub populate: Option<usize>,
}

/// Figures for one operation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OperationFigures {
    pub operation: Operation,
    pub count: usize,
    pub errors: usize,
    pub ops_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Runs the plan and returns figures per operation.
pub async fn run(plan: &BenchPlan) -> anyhow::Result<Vec<OperationFigures>> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(plan.clients)
        .timeout(Duration::from_secs(30))
        .build()?;
    let base = plan.url.trim_end_matches('/').to_owned();
    let probe = client
        .get(format!("{base}/Users?count=0"))
        .bearer_auth(&plan.token)
        .send()
        .await
        .with_context(|| format!("cannot reach {base}; is `rollcall serve` running?"))?;
    if !probe.status().is_success() {
        bail!(
            "{base}/Users answered {}; check the URL (it ends in /scim_v2) and the token",
            probe.status()
        );
    }
    let mut population = match plan.populate {
        Some(target) => {
            Some(populate::populate(&client, &base, &plan.token, plan.clients, target).await?)
        }
        None => None,
    };
    if plan.duration.is_zero() {
        return Ok(Vec::new());
    }
    if plan.operations.iter().any(|op| op.reads_population()) && population.is_none() {
        population = Some(populate::count(&client, &base, &plan.token).await?);
    }
    let population = population.unwrap_or(0);
    if population == 0 && plan.operations.iter().any(|op| op.reads_population()) {
        bail!("the filter operations read the population; create it with --populate N");
    }
    let target = Target::new(&base, &plan.token)?;
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let started = Instant::now();
    let deadline = started + plan.duration;
    let mut tasks = Vec::new();
    for client_no in 0..plan.clients {
        let mut session = Session {
            connection: Connection::new(target.clone()),
        };
        let operations = plan.operations.clone();
        let prefix = format!("bench-{}-{client_no}", &run_id[..8]);
        tasks.push(tokio::spawn(async move {
            drive(&mut session, &operations, &prefix, population, deadline).await
        }));
    }
    let mut samples: Vec<(Operation, Duration, bool)> = Vec::new();
    for task in tasks {
        samples.extend(task.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(figures(&plan.operations, &samples, elapsed))
}

async fn drive(
    session: &mut Session,
    operations: &[Operation],
    prefix: &str,
    population: usize,
    deadline: Instant,
) -> Vec<(Operation, Duration, bool)> {
    let mut rng = rand::rngs::StdRng::from_os_rng();
    let mut samples = Vec::new();
    let mut users: Vec<(String, String)> = Vec::new();
    let mut step = 0usize;
    while Instant::now() < deadline {
        let mut operation = operations[step % operations.len()];
        if users.is_empty() && matches!(operation, Operation::Patch | Operation::Get) {
            operation = Operation::Create;
        }
        // Drawn before the clock starts.
        let pick = rng.random_range(0..population.max(1));
        let started = Instant::now();
        let ok = match operation {
            Operation::Create => {
                let user_name = format!("{prefix}-{step}@bench.example.com");
                let created = session
                    .create(user_name, format!("{prefix}-{step}"), step)
                    .await;
                created.map(|user| users.push(user)).is_some()
            }
            Operation::Patch => session.patch(&users[step % users.len()].0, step).await,
            Operation::Get => session.get(&users[step % users.len()].1).await,
            Operation::FilterUsername => session.filter_username(pick).await,
            Operation::FilterEmail => session.filter_email(pick).await,
            Operation::FilterPrefix => session.filter_prefix(pick, population, &mut rng).await,
        };
        samples.push((operation, started.elapsed(), ok));
        step += 1;
    }
    samples
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn encode_query_value(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn figures(
    operations: &[Operation],
    samples: &[(Operation, Duration, bool)],
    elapsed: f64,
) -> Vec<OperationFigures> {
    let mut kinds = operations.to_vec();
    kinds.sort();
    kinds.dedup();
    kinds
        .into_iter()
        .map(|operation| {
            let mut latencies: Vec<Duration> = samples
                .iter()
                .filter(|(kind, _, ok)| *kind == operation && *ok)
                .map(|(_, latency, _)| *latency)
                .collect();
            latencies.sort();
            let errors = samples
                .iter()
                .filter(|(kind, _, ok)| *kind == operation && !*ok)
                .count();
            OperationFigures {
                operation,
                count: latencies.len(),
                errors,
                ops_per_second: latencies.len() as f64 / elapsed,
                p50_ms: percentile(&latencies, 0.50),
                p99_ms: percentile(&latencies, 0.99),
            }
        })
        .collect()
}

pub(crate) fn percentile(sorted: &[Duration], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 * quantile).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1_000.0
}

/// The figures as a table for people.
pub fn table(figures: &[OperationFigures]) -> String {
    let mut out = format!(
        "{:<15} {:>9} {:>7} {:>10} {:>9} {:>9}\n",
        "op", "count", "errors", "ops/s", "p50 ms", "p99 ms"
    );
    for f in figures {
        out.push_str(&format!(
            "{:<15} {:>9} {:>7} {:>10.1} {:>9.2} {:>9.2}\n",
            f.operation.name(),
            f.count,
            f.errors,
            f.ops_per_second,
            f.p50_ms,
            f.p99_ms
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 0.50), 50.0);
        assert_eq!(percentile(&sorted, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
