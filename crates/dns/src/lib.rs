//! DNS adapter: the TXT records at a name, as a nameserver answers them now.
//!
//! Domain verification (`domain::domains`) asks one question of DNS: which
//! TXT values stand at `_rollcall-challenge.<domain>`? This crate answers it
//! and nothing else, through the nameserver in `ROLLCALL_DNS_SERVER`
//! (`IP:PORT`, over UDP and TCP), or else the system's (`/etc/resolv.conf`).
//!
//! Two decisions shaped it. Every lookup asks the nameserver afresh, with no
//! cache of its own: an owner who just fixed a record and verifies again must
//! not be told what DNS said a minute ago (the nameserver's own cache still
//! applies). And "nothing there" is an answer, not an error: NXDOMAIN and an
//! empty answer are both `Ok(vec![])`, so the caller can say "no TXT record
//! at ..."; only a nameserver that does not answer, or answers with a failure,
//! is a [`DnsError`], naming the name and the nameserver asked.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::Resolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData, RecordType};

/// The environment variable that names the nameserver to ask, as `IP:PORT`.
pub const DNS_SERVER_VAR: &str = "ROLLCALL_DNS_SERVER";

/// How long a lookup may take before it fails, unless set otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a TXT lookup gave no answer. NXDOMAIN and an empty answer are not
/// errors (see [`TxtResolver::txt`]).
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// `ROLLCALL_DNS_SERVER` is not `IP:PORT`: the operator must fix it.
    #[error("{DNS_SERVER_VAR}={value:?} is not IP:PORT (for example 127.0.0.1:53)")]
    BadSetting { value: String },
    /// The system's resolver configuration could not be read: set
    /// `ROLLCALL_DNS_SERVER`, or fix `/etc/resolv.conf`.
    #[error("cannot read the system's DNS configuration (/etc/resolv.conf): {reason}")]
    SystemConfig { reason: String },
    /// The name cannot be asked of DNS: the caller's bug or the user's typo.
    #[error("{name:?} is not a DNS name: {reason}")]
    BadName { name: String, reason: String },
    /// No answer in time: the nameserver is slow or unreachable; try again
    /// later, or check the nameserver.
    #[error("no answer from {nameserver} about the TXT record at {name} within {timeout:?}")]
    Timeout {
        name: String,
        nameserver: String,
        timeout: Duration,
    },
    /// The nameserver could not be reached, or answered with a failure
    /// (SERVFAIL, REFUSED): try again later, or check the nameserver.
    #[error("the lookup of the TXT record at {name} through {nameserver} failed: {reason}")]
    Failed {
        name: String,
        nameserver: String,
        reason: String,
    },
}

/// Looks TXT records up through one configured set of nameservers.
#[derive(Debug, Clone)]
pub struct TxtResolver {
    config: ResolverConfig,
    options: ResolverOpts,
    /// The nameservers, as error messages name them.
    nameserver: String,
    timeout: Duration,
}

impl TxtResolver {
    /// The nameserver in `ROLLCALL_DNS_SERVER` if it is set, else the
    /// system's.
    pub fn from_env() -> Result<TxtResolver, DnsError> {
        match std::env::var(DNS_SERVER_VAR) {
            Ok(value) if !value.trim().is_empty() => {
                let address = value
                    .trim()
                    .parse()
                    .map_err(|_| DnsError::BadSetting { value })?;
                Ok(TxtResolver::with_nameserver(address))
            }
            _ => TxtResolver::system(),
        }
    }

    /// `nameserver` if one is given (a `--dns-server` flag), else the
    /// system's.
    pub fn new(nameserver: Option<SocketAddr>) -> Result<TxtResolver, DnsError> {
        match nameserver {
            Some(address) => Ok(TxtResolver::with_nameserver(address)),
            None => TxtResolver::system(),
        }
    }

    /// The nameservers of the system's `/etc/resolv.conf`.
    pub fn system() -> Result<TxtResolver, DnsError> {
        let (config, options) =
            hickory_resolver::system_conf::read_system_conf().map_err(|error| {
                DnsError::SystemConfig {
                    reason: error.to_string(),
                }
            })?;
        let nameserver = config
            .name_servers()
            .iter()
            .map(|server| server.ip.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        Ok(TxtResolver::configured(
            config,
            options,
            format!("the system's nameservers ({nameserver})"),
        ))
    }

    /// The one nameserver at `address`, over UDP (and TCP for long answers).
    pub fn with_nameserver(address: SocketAddr) -> TxtResolver {
        let mut server = NameServerConfig::udp_and_tcp(address.ip());
        for connection in &mut server.connections {
            connection.port = address.port();
        }
        TxtResolver::configured(
            ResolverConfig::from_name_servers(vec![server]),
            ResolverOpts::default(),
            address.to_string(),
        )
    }

    /// The same nameservers, with lookups failing after `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> TxtResolver {
        self.timeout = timeout;
        self.options.timeout = timeout;
        self
    }

    fn configured(
        config: ResolverConfig,
        mut options: ResolverOpts,
        nameserver: String,
    ) -> TxtResolver {
        options.timeout = DEFAULT_TIMEOUT;
        options.use_hosts_file = ResolveHosts::Never;
        TxtResolver {
            config,
            options,
            nameserver,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The nameservers asked, as error messages name them.
    pub fn nameserver(&self) -> &str {
        &self.nameserver
    }

    /// The TXT values at `name` (each record's strings joined, as RFC 7208
    /// reads them), in the order the nameserver gave them; empty when the
    /// name does not exist or holds no TXT record.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        let fqdn =
            Name::from_ascii(format!("{}.", name.trim_end_matches('.'))).map_err(|error| {
                DnsError::BadName {
                    name: name.to_owned(),
                    reason: error.to_string(),
                }
            })?;
        let failed = |reason: String| DnsError::Failed {
            name: name.to_owned(),
            nameserver: self.nameserver.clone(),
            reason,
        };
        // A resolver of its own for each lookup: no answer is ever reused.
        let resolver =
            Resolver::builder_with_config(self.config.clone(), TokioRuntimeProvider::default())
                .with_options(self.options.clone())
                .build()
                .map_err(|error| failed(error.to_string()))?;
        let lookup = tokio::time::timeout(self.timeout, resolver.lookup(fqdn, RecordType::TXT))
            .await
            .map_err(|_| DnsError::Timeout {
                name: name.to_owned(),
                nameserver: self.nameserver.clone(),
                timeout: self.timeout,
            })?;
        match lookup {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::TXT(txt) => Some(
                        txt.txt_data
                            .iter()
                            .map(|chunk| String::from_utf8_lossy(chunk))
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect()),
            Err(error) if error.is_no_records_found() => Ok(Vec::new()),
            Err(hickory_resolver::net::NetError::Timeout) => Err(DnsError::Timeout {
                name: name.to_owned(),
                nameserver: self.nameserver.clone(),
                timeout: self.timeout,
            }),
            Err(error) => Err(failed(error.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nameserver_is_asked_on_its_port_over_udp_and_tcp() {
        let resolver = TxtResolver::with_nameserver("127.0.0.1:5353".parse().unwrap());
        assert_eq!(resolver.nameserver(), "127.0.0.1:5353");
        let servers = resolver.config.name_servers();
        assert_eq!(servers.len(), 1);
        assert_eq!(servers[0].connections.len(), 2);
        assert!(servers[0].connections.iter().all(|c| c.port == 5353));
    }

    #[tokio::test]
    async fn a_nameserver_that_never_answers_times_out_naming_itself() {
        // A bound UDP socket that reads nothing: queries go unanswered.
        let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = silent.local_addr().unwrap();
        let resolver =
            TxtResolver::with_nameserver(address).with_timeout(Duration::from_millis(300));
        let error = resolver
            .txt("_rollcall-challenge.example.com")
            .await
            .unwrap_err();
        assert!(matches!(error, DnsError::Timeout { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains(&address.to_string()), "{message}");
        assert!(
            message.contains("_rollcall-challenge.example.com"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_name_that_is_no_dns_name_is_refused_before_any_lookup() {
        let resolver = TxtResolver::with_nameserver("127.0.0.1:9".parse().unwrap());
        let long = "a".repeat(64);
        let error = resolver
            .txt(&format!("{long}.example.com"))
            .await
            .unwrap_err();
        assert!(matches!(error, DnsError::BadName { .. }), "{error:?}");
    }
}
