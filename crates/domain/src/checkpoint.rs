//! Signed checkpoints: an organization's chain head at an instant, signed
//! with the operator's Ed25519 key, that an auditor keeps as a file and
//! later checks today's log against (`rollcall verify --checkpoint`).
//!
//! The signature covers a canonical byte string ([`Head::signed_bytes`]),
//! never a JSON rendering whose field order or number format could change:
//! a tag naming the format, then each field length-prefixed as the hash
//! chain does ([`crate::chain::link`]), so no two checkpoints sign alike.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::chain;

/// The signature algorithm, as the files and the API name it.
pub const ALGORITHM: &str = "Ed25519";

/// The first field of every signed byte string, and the files' `format`.
pub const FORMAT: &str = "rollcall-checkpoint-v1";

/// What a checkpoint states about one organization's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub org_id: Uuid,
    pub org_name: String,
    /// The position of the organization's last event (0 when it has none).
    pub head_position: i64,
    /// How many events the organization's chain holds up to that position.
    pub event_count: i64,
    /// That event's hash (the genesis hash when none).
    pub head_hash: [u8; 32],
    /// When it was signed, to PostgreSQL's microseconds.
    pub signed_at: OffsetDateTime,
}

impl Head {
    /// The bytes the signature covers: each of these, as a big-endian u64
    /// length followed by the bytes: `rollcall-checkpoint-v1` (ASCII), the
    /// organization id (16 bytes), its name (UTF-8), the head position (i64,
    /// big-endian), the event count (i64, big-endian), the head hash (32
    /// bytes), signed_at as microseconds since 1970-01-01T00:00:00Z (i64,
    /// big-endian).
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(160 + self.org_name.len());
        let mut put = |field: &[u8]| {
            bytes.extend_from_slice(&(field.len() as u64).to_be_bytes());
            bytes.extend_from_slice(field);
        };
        put(FORMAT.as_bytes());
        put(self.org_id.as_bytes());
        put(self.org_name.as_bytes());
        put(&self.head_position.to_be_bytes());
        put(&self.event_count.to_be_bytes());
        put(&self.head_hash);
        put(&chain::micros(self.signed_at).to_be_bytes());
        bytes
    }
}

/// A head with the public key that signed it and the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub head: Head,
    pub public_key: [u8; 32],
    pub signature: [u8; 64],
}

/// Signs `head` (its time truncated to what PostgreSQL stores, so that the
/// stored checkpoint verifies as signed).
pub fn sign(key: &SigningKey, mut head: Head) -> SignedCheckpoint {
    head.signed_at = chain::to_stored_precision(head.signed_at);
    let signature = key.sign(&head.signed_bytes());
    SignedCheckpoint {
        head,
        public_key: key.verifying_key().to_bytes(),
        signature: signature.to_bytes(),
    }
}

/// A key's short name: the first 8 bytes of the SHA-256 of the public key,
/// hex. Tells keys apart in listings; proves nothing by itself.
pub fn key_id(public_key: &[u8; 32]) -> String {
    hex::encode(&Sha256::digest(public_key)[..8])
}

/// Why a checkpoint does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The file is not a checkpoint; the message says which field.
    #[error("not a rollcall checkpoint file: {0}")]
    Malformed(String),
    /// The signature does not match the fields and the public key: the file
    /// was edited, or was never signed by that key.
    #[error(
        "the signature does not match the checkpoint's fields and public key \
         (the file was edited, or not signed by that key)"
    )]
    BadSignature,
}

impl SignedCheckpoint {
    /// The signing key's short name ([`key_id`]).
    pub fn key_id(&self) -> String {
        key_id(&self.public_key)
    }

    /// Whether the signature holds for the fields and the public key.
    pub fn check_signature(&self) -> Result<(), CheckpointError> {
        let key = VerifyingKey::from_bytes(&self.public_key)
            .map_err(|_| CheckpointError::BadSignature)?;
        key.verify(
            &self.head.signed_bytes(),
            &Signature::from_bytes(&self.signature),
        )
        .map_err(|_| CheckpointError::BadSignature)
    }

    /// The file an auditor keeps, and the API's listing entry.
    pub fn to_file(&self) -> CheckpointFile {
        CheckpointFile {
            format: FORMAT.into(),
            org_id: self.head.org_id,
            org_name: self.head.org_name.clone(),
            head_position: self.head.head_position,
            event_count: self.head.event_count,
            head_hash: hex::encode(self.head.head_hash),
            signed_at: self
                .head
                .signed_at
                .format(&Rfc3339)
                .expect("a stored timestamp formats"),
            algorithm: ALGORITHM.into(),
            key_id: self.key_id(),
            public_key: hex::encode(self.public_key),
            signature: hex::encode(self.signature),
        }
    }

    /// Reads a checkpoint file (its signature unchecked: see
    /// [`SignedCheckpoint::check_signature`]).
    pub fn from_file(text: &str) -> Result<SignedCheckpoint, CheckpointError> {
        let file: CheckpointFile = serde_json::from_str(text)
            .map_err(|error| CheckpointError::Malformed(error.to_string()))?;
        if file.format != FORMAT || file.algorithm != ALGORITHM {
            return Err(CheckpointError::Malformed(format!(
                "format {:?} and algorithm {:?}, expected {FORMAT:?} and {ALGORITHM:?}",
                file.format, file.algorithm
            )));
        }
        let signed_at = OffsetDateTime::parse(&file.signed_at, &Rfc3339)
            .map_err(|error| CheckpointError::Malformed(format!("signed_at: {error}")))?;
        Ok(SignedCheckpoint {
            head: Head {
                org_id: file.org_id,
                org_name: file.org_name,
                head_position: file.head_position,
                event_count: file.event_count,
                head_hash: hex_field("head_hash", &file.head_hash)?,
                signed_at,
            },
            public_key: hex_field("public_key", &file.public_key)?,
            signature: hex_field("signature", &file.signature)?,
        })
    }
}

fn hex_field<const N: usize>(name: &str, text: &str) -> Result<[u8; N], CheckpointError> {
    let mut bytes = [0; N];
    hex::decode_to_slice(text, &mut bytes).map_err(|error| {
        CheckpointError::Malformed(format!("{name}: {error} (expected {N} bytes in hex)"))
    })?;
    Ok(bytes)
}

/// A checkpoint as a JSON file: every field of [`Head`] (hashes and keys in
/// hex, `signed_at` in RFC 3339), the algorithm, the key and the signature.
/// `key_id` is informative; the check uses `public_key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointFile {
    pub format: String,
    pub org_id: Uuid,
    pub org_name: String,
    pub head_position: i64,
    pub event_count: i64,
    pub head_hash: String,
    pub signed_at: String,
    pub algorithm: String,
    pub key_id: String,
    pub public_key: String,
    pub signature: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> Head {
        Head {
            org_id: Uuid::from_u128(7),
            org_name: "Contoso".into(),
            head_position: 42,
            event_count: 12,
            head_hash: [9; 32],
            signed_at: OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789)
                .unwrap(),
        }
    }

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[1; 32])
    }

    #[test]
    fn a_signed_checkpoint_survives_its_file() {
        let signed = sign(&key(), head());
        assert_eq!(signed.head.signed_at.nanosecond() % 1_000, 0);
        let text = serde_json::to_string_pretty(&signed.to_file()).unwrap();
        let read = SignedCheckpoint::from_file(&text).unwrap();
        assert_eq!(read, signed);
        read.check_signature().unwrap();
    }

    #[test]
    fn any_changed_field_breaks_the_signature() {
        let signed = sign(&key(), head());
        let edits: [fn(&mut Head); 6] = [
            |h| h.org_id = Uuid::from_u128(8),
            |h| h.org_name.push('x'),
            |h| h.head_position += 1,
            |h| h.event_count -= 1,
            |h| h.head_hash[0] ^= 1,
            |h| h.signed_at += time::Duration::microseconds(1),
        ];
        for edit in edits {
            let mut edited = signed.clone();
            edit(&mut edited.head);
            assert_eq!(edited.check_signature(), Err(CheckpointError::BadSignature));
        }
        let mut other_key = signed.clone();
        other_key.public_key = SigningKey::from_bytes(&[2; 32]).verifying_key().to_bytes();
        assert_eq!(
            other_key.check_signature(),
            Err(CheckpointError::BadSignature)
        );
    }

    #[test]
    fn the_signed_bytes_are_the_documented_layout() {
        let bytes = head().signed_bytes();
        let mut expected = Vec::new();
        for field in [
            FORMAT.as_bytes(),
            &Uuid::from_u128(7).into_bytes(),
            b"Contoso",
            &42i64.to_be_bytes(),
            &12i64.to_be_bytes(),
            &[9; 32],
            &1_700_000_000_123_456i64.to_be_bytes(),
        ] {
            expected.extend_from_slice(&(field.len() as u64).to_be_bytes());
            expected.extend_from_slice(field);
        }
        assert_eq!(bytes, expected);
    }

    #[test]
    fn a_file_of_another_format_is_refused() {
        let mut file = sign(&key(), head()).to_file();
        file.format = "something-else".into();
        let text = serde_json::to_string(&file).unwrap();
        assert!(matches!(
            SignedCheckpoint::from_file(&text),
            Err(CheckpointError::Malformed(_))
        ));
    }
}
