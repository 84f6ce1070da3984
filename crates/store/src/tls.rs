//! TLS to PostgreSQL as libpq's `sslmode` and `sslrootcert` say, with rustls.
//!
//! tokio-postgres knows `disable`, `prefer` and `require` only, and no
//! `sslrootcert`: both are taken out of the URL here, and the certificate
//! check each mode asks for is made by the verifier given to rustls.
//! Without `sslmode` rollcall does not encrypt (as before TLS was
//! supported); production names `verify-full`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

/// The CA file used when the URL names no `sslrootcert`.
pub const CA_FILE_VAR: &str = "ROLLCALL_DATABASE_CA_FILE";

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// Never encrypt.
    Disable,
    /// Encrypt when the server offers it; check no certificate.
    Prefer,
    /// Encrypt; check the certificate's chain only when a CA is named.
    Require,
    /// Encrypt; the certificate must chain to the CA (any host name).
    VerifyCa,
    /// Encrypt; the certificate must chain to the CA and name the host.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, String> {
        match value {
            "disable" => Ok(SslMode::Disable),
            "allow" | "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(format!(
                "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
            )),
        }
    }

    /// What tokio-postgres is told: it negotiates, rustls checks.
    pub(crate) fn negotiation(self) -> tokio_postgres::config::SslMode {
        match self {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        }
    }
}

/// The TLS half of a `DATABASE_URL`.
#[derive(Debug, Clone)]
pub(crate) struct TlsSettings {
    pub(crate) mode: SslMode,
    /// `sslrootcert`, else `ROLLCALL_DATABASE_CA_FILE`; the system's roots
    /// when neither is set.
    pub(crate) ca_file: Option<PathBuf>,
}

impl TlsSettings {
    /// Takes `sslmode` and `sslrootcert` out of a URL (`?sslmode=...`) or a
    /// key=value string, and returns the rest for tokio-postgres.
    pub(crate) fn split(
        url: &str,
        env_ca_file: Option<PathBuf>,
    ) -> Result<(String, TlsSettings), String> {
        let mut mode = None;
        let mut ca_file = None;
        let mut take = |key: &str, value: &str| -> Result<bool, String> {
            match key {
                "sslmode" => mode = Some(SslMode::parse(value)?),
                "sslrootcert" => ca_file = Some(PathBuf::from(value)),
                _ => return Ok(false),
            }
            Ok(true)
        };
        let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            match url.split_once('?') {
                None => url.to_owned(),
                Some((base, query)) => {
                    let mut kept = Vec::new();
                    for pair in query.split('&') {
                        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                        let value = percent_decode(value);
                        if !take(key, &value)? {
                            kept.push(pair);
                        }
                    }
                    if kept.is_empty() {
                        base.to_owned()
                    } else {
                        format!("{base}?{}", kept.join("&"))
                    }
                }
            }
        } else {
            let mut kept = Vec::new();
            for word in url.split_whitespace() {
                let (key, value) = word.split_once('=').unwrap_or((word, ""));
                if !take(key.trim(), value.trim_matches('\''))? {
                    kept.push(word);
                }
            }
            kept.join(" ")
        };
        let settings = TlsSettings {
            mode: mode.unwrap_or(SslMode::Disable),
            ca_file: ca_file.or(env_ca_file),
        };
        Ok((rest, settings))
    }

    /// The rustls connector these settings ask for; none for `disable`.
    pub(crate) fn connector(&self) -> Result<Option<MakeRustlsConnect>, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match (self.mode, &self.ca_file) {
            (SslMode::Disable, _) => return Ok(None),
            // libpq's prefer and require without a CA: encrypted, unchecked.
            (SslMode::Prefer, _) | (SslMode::Require, None) => Arc::new(AnyCertificate {
                algorithms: provider.signature_verification_algorithms,
            }),
            (SslMode::Require | SslMode::VerifyCa, _) => {
                Arc::new(ChainOnly(self.web_pki(&provider)?))
            }
            (SslMode::VerifyFull, _) => self.web_pki(&provider)?,
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| format!("TLS: {error}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Some(MakeRustlsConnect::new(config)))
    }

    fn web_pki(&self, provider: &Arc<CryptoProvider>) -> Result<Arc<WebPkiServerVerifier>, String> {
        let roots = match &self.ca_file {
            Some(path) => roots_from(path)?,
            None => system_roots()?,
        };
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|error| format!("TLS: cannot check certificates: {error}"))
    }

    /// Where the CA that PostgreSQL's certificate must chain to comes from.
    pub(crate) fn ca_source(&self) -> String {
        match &self.ca_file {
            Some(path) => format!("the CA in {}", path.display()),
            None => "the system's CAs".to_owned(),
        }
    }
}

fn roots_from(path: &Path) -> Result<RootCertStore, String> {
    let unreadable = |error: &dyn std::fmt::Display| {
        format!(
            "cannot read the CA certificate {} (sslrootcert= or {CA_FILE_VAR}): {error}",
            path.display()
        )
    };
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(path).map_err(|error| unreadable(&error))? {
        let certificate = certificate.map_err(|error| unreadable(&error))?;
        roots.add(certificate).map_err(|error| unreadable(&error))?;
    }
    if roots.is_empty() {
        return Err(unreadable(&"it holds no PEM certificate"));
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        return Err(format!(
            "no CA certificates found on this system to check PostgreSQL's certificate \
             ({:?}); name one with sslrootcert= in DATABASE_URL or {CA_FILE_VAR}",
            found.errors
        ));
    }
    Ok(roots)
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                index += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// `prefer`, and `require` without a CA: libpq encrypts without checking
/// who holds the certificate. Handshake signatures are still checked.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, certificate, signature, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, certificate, signature, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must reach the CA, whatever host it names.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .verify_tls12_signature(message, certificate, signature)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .verify_tls13_signature(message, certificate, signature)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_sslrootcert_are_taken_out_of_a_url_and_the_rest_kept() {
        let (rest, settings) = TlsSettings::split(
            "postgres://app@db.example:5432/rollcall?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.crt",
            None,
        )
        .unwrap();
        assert_eq!(
            rest,
            "postgres://app@db.example:5432/rollcall?application_name=x"
        );
        assert_eq!(settings.mode, SslMode::VerifyFull);
        assert_eq!(settings.ca_file, Some(PathBuf::from("/etc/ca.crt")));
    }

    #[test]
    fn a_key_value_string_gives_up_its_tls_words_too() {
        let (rest, settings) =
            TlsSettings::split("host=db user=app sslmode=verify-ca", Some("/ca.pem".into()))
                .unwrap();
        assert_eq!(rest, "host=db user=app");
        assert_eq!(settings.mode, SslMode::VerifyCa);
        assert_eq!(settings.ca_file, Some(PathBuf::from("/ca.pem")));
    }

    #[test]
    fn no_sslmode_means_no_tls_and_an_unknown_one_is_refused() {
        let (_, settings) = TlsSettings::split("postgres://app@db/rollcall", None).unwrap();
        assert_eq!(settings.mode, SslMode::Disable);
        let refused = TlsSettings::split("postgres://db/r?sslmode=verify", None).unwrap_err();
        assert!(
            refused.contains("sslmode=verify is not one of"),
            "{refused}"
        );
    }
}
