//! The HTTP service's [`Settings`] from the operator's knobs (flags, the
//! environment, the configuration file: the `settings` crate).

use std::time::Duration;

use settings::knobs::{ApiArgs, DnsArgs, LagArgs, ShutdownArgs};

use crate::{BadTokenLimits, Settings};

impl Settings {
    /// The settings the knobs ask for; the clock and the signing key are
    /// the defaults', for the caller to set.
    pub fn from_knobs(
        api: &ApiArgs,
        lag: &LagArgs,
        dns: &DnsArgs,
        shutdown: &ShutdownArgs,
    ) -> Settings {
        Settings {
            read_your_writes_wait: Duration::from_millis(api.read_your_writes_ms),
            max_unfolded_events: api.max_unfolded_events,
            max_body_bytes: api.max_body_bytes,
            max_results: api.max_results,
            bulk_max_operations: api.bulk_max_operations,
            bulk_max_payload_bytes: api.bulk_max_payload_bytes,
            max_projector_lag: Duration::from_secs(lag.max_projector_lag_secs),
            body_read_timeout: Duration::from_secs(api.body_read_timeout_secs),
            max_in_flight_per_token: api.max_in_flight_per_token,
            max_in_flight_per_client: api.max_in_flight_per_client,
            bad_tokens: BadTokenLimits {
                attempts: api.bad_token_attempts,
                block: Duration::from_secs(api.bad_token_block_secs),
            },
            dns_server: dns.dns_server,
            metrics_max_orgs: api.metrics_max_orgs,
            shutdown_timeout: Duration::from_secs(shutdown.shutdown_timeout_secs),
            ..Settings::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Knobs {
        #[command(flatten)]
        api: ApiArgs,
        #[command(flatten)]
        lag: LagArgs,
        #[command(flatten)]
        dns: DnsArgs,
        #[command(flatten)]
        shutdown: ShutdownArgs,
    }

    /// The knobs' built-in defaults are `Settings::default()`'s, which the
    /// tests start from: a default changed in one place only fails here.
    #[test]
    fn the_knobs_defaults_are_the_settings_defaults() {
        let knobs = Knobs::parse_from(["api"]);
        let configured = Settings::from_knobs(&knobs.api, &knobs.lag, &knobs.dns, &knobs.shutdown);
        let default = Settings::default();
        assert_eq!(format!("{configured:?}"), format!("{default:?}"));
    }
}
