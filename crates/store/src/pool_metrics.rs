//! The pool's connections as Prometheus sees them, read from deadpool's
//! status when `/metrics` is scraped: nothing is counted on the way to a
//! connection.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntGaugeVec, Opts, Registry};

use crate::Pool;

/// `rollcall_store_pool_connections{pool,state}`: `size` (connections
/// open), `in_use` (taken from the pool), `waiting` (callers queued for one),
/// `max` (the most it may open: `pool_size`).
#[derive(Clone)]
pub struct PoolMetrics {
    /// Each pool of the process, by the name its gauges are labelled with.
    pools: Vec<(&'static str, Pool)>,
    connections: IntGaugeVec,
}

impl PoolMetrics {
    /// Registers `pool`'s gauges in `registry`, labelled `pool=name`.
    pub fn register(
        registry: &Registry,
        name: &'static str,
        pool: &Pool,
    ) -> prometheus::Result<()> {
        PoolMetrics::register_pools(registry, vec![(name, pool.clone())])
    }

    /// Registers the gauges of several pools of one process in `registry`
    /// (one metric, a `pool` label each).
    pub fn register_pools(
        registry: &Registry,
        pools: Vec<(&'static str, Pool)>,
    ) -> prometheus::Result<()> {
        let connections = IntGaugeVec::new(
            Opts::new(
                "rollcall_store_pool_connections",
                "PostgreSQL pool connections by state: size (open), in_use (taken), \
                 waiting (callers queued for a connection), max (the most it may open); \
                 read at scrape time",
            ),
            &["pool", "state"],
        )?;
        registry.register(Box::new(PoolMetrics { pools, connections }))
    }
}

impl Collector for PoolMetrics {
    fn desc(&self) -> Vec<&Desc> {
        self.connections.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        for (name, pool) in &self.pools {
            let status = pool.status();
            let in_use = status.size.saturating_sub(status.available);
            for (state, value) in [
                ("size", status.size),
                ("in_use", in_use),
                ("waiting", status.waiting),
                ("max", status.max_size),
            ] {
                self.connections
                    .with_label_values(&[name, state])
                    .set(value as i64);
            }
        }
        self.connections.collect()
    }
}
