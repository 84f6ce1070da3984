//! The operator's Ed25519 key that signs checkpoints
//! (`ROLLCALL_SIGNING_KEY_FILE`): a PKCS#8 PEM file, as `rollcall audit
//! signing-key generate` or `openssl genpkey -algorithm ed25519` write it.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;
use domain::checkpoint::{ALGORITHM, key_id};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::Serialize;

pub use ed25519_dalek::SigningKey as CheckpointKey;

/// Reads the private key at `path`.
pub fn load(path: &Path) -> anyhow::Result<SigningKey> {
    let pem = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading the signing key file {} (ROLLCALL_SIGNING_KEY_FILE)",
            path.display()
        )
    })?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|error| {
        anyhow::anyhow!(
            "{} is not an Ed25519 private key in PKCS#8 PEM ({error}); make one with \
             `rollcall audit signing-key generate --out FILE`",
            path.display()
        )
    })
}

/// Makes a new key from the operating system's randomness and writes it to
/// `path`, readable by its owner alone (mode 0600); never over an existing
/// file.
pub fn generate(path: &Path) -> anyhow::Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|error| anyhow::anyhow!("the operating system gave no randomness: {error}"))?;
    let key = SigningKey::from_bytes(&seed);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| anyhow::anyhow!("encoding the key as PKCS#8 PEM: {error}"))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| {
            format!(
                "creating {} (an existing key file is never overwritten)",
                path.display()
            )
        })?;
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(key)
}

/// A public key as the API and the CLI show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicKey {
    pub algorithm: &'static str,
    /// The 32-byte Ed25519 public key, hex.
    pub public_key: String,
    /// The first 8 bytes of its SHA-256, hex.
    pub key_id: String,
}

impl PublicKey {
    pub fn of(key: &VerifyingKey) -> PublicKey {
        let bytes = key.to_bytes();
        PublicKey {
            algorithm: ALGORITHM,
            public_key: hex::encode(bytes),
            key_id: key_id(&bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_generated_key_is_private_to_its_owner_and_loads_back() {
        let dir = std::env::temp_dir().join(format!("rollcall-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("checkpoints.pem");
        let _ = std::fs::remove_file(&path);
        let key = generate(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load(&path).unwrap().to_bytes(), key.to_bytes());
        assert!(generate(&path).is_err(), "an existing file is kept");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
