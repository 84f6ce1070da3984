//! The readiness checks rollcall's binaries combine: the database answers,
//! its schema is current, the broker is connected (or nothing waits for
//! it), the projector is within its lag bound.

use std::time::Duration;

use prometheus::IntGauge;
use store::Pool;
use time::OffsetDateTime;

use crate::Check;

/// PostgreSQL answers a query through the process's pool.
pub fn database(pool: &Pool) -> Check {
    let pool = pool.clone();
    Check::new("database", move || {
        let pool = pool.clone();
        async move {
            store::ping(&pool)
                .await
                .map_err(|error| format!("PostgreSQL is unreachable: {error}"))
        }
    })
}

/// The database has every migration this binary carries.
pub fn migrations(pool: &Pool) -> Check {
    let pool = pool.clone();
    Check::new("migrations", move || {
        let pool = pool.clone();
        async move {
            let pending = store::pending_migrations(&pool)
                .await
                .map_err(|error| format!("cannot read the applied migrations: {error}"))?;
            match pending.as_slice() {
                [] => Ok(()),
                pending => Err(format!(
                    "the schema is behind this binary: {} not applied; run `rollcall migrate`",
                    pending.join(", ")
                )),
            }
        }
    })
}

/// The oldest event the projector has not folded is younger than `bound`;
/// where the projection is split, in at least one partition. A stopped
/// partition holds back its own organizations only (their reads answer
/// 503), so the process still serves the others: taking every replica out
/// of a load balancer for it would stop them all. The lag metrics and
/// their alerts show the partition furthest behind.
pub fn projector_lag(pool: &Pool, bound: Duration) -> Check {
    let pool = pool.clone();
    Check::new("projector", move || {
        let pool = pool.clone();
        async move {
            let lags = store::partition_lags(&pool, OffsetDateTime::now_utc())
                .await
                .map_err(|error| format!("cannot read the projector's lag: {error}"))?;
            let Some(closest) = lags
                .iter()
                .min_by(|a, b| a.lag_seconds.total_cmp(&b.lag_seconds))
            else {
                return Err("the projection has no checkpoint: run `rollcall partitions 1`".into());
            };
            if closest.lag_seconds > bound.as_secs_f64() {
                let which = if lags.len() == 1 {
                    "the projector is behind".to_owned()
                } else {
                    format!(
                        "every one of the {} partitions is behind, the closest",
                        lags.len()
                    )
                };
                return Err(format!(
                    "{which}: {} events, the oldest waiting {:.0} s (bound {} s)",
                    closest.lag_events,
                    closest.lag_seconds,
                    bound.as_secs()
                ));
            }
            Ok(())
        }
    })
}

/// The relay is connected to RabbitMQ, or the outbox holds nothing for it:
/// `connected` is `rollcall_bus_connected{component="relay"}`, `backlog`
/// `rollcall_relay_outbox_backlog_events`.
pub fn broker(connected: IntGauge, backlog: IntGauge) -> Check {
    Check::new("broker", move || {
        let (connected, backlog) = (connected.get(), backlog.get());
        async move {
            if connected == 1 || backlog == 0 {
                Ok(())
            } else {
                Err(format!(
                    "the relay is not connected to RabbitMQ and {backlog} events wait to be published"
                ))
            }
        }
    })
}
