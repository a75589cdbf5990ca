//! Secret values at rest: ChaCha20-Poly1305 (ring) with a random 96-bit nonce
//! per value and the owner and key as associated data, so a sealed value cannot
//! be moved to another secret. The key lives in `{data_dir}/secrets.key` (0600),
//! apart from the database.

use std::path::Path;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom as _, SystemRandom};

use crate::error::ApiError;

/// Name of the key file inside the data directory.
pub const KEY_FILE: &str = "secrets.key";

/// Seals and opens secret values.
pub struct SecretCipher {
    key: LessSafeKey,
}

impl std::fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretCipher")
            .field("key", &"<redacted>")
            .finish()
    }
}

fn aad(owner: &str, key: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(owner.len() + key.len() + 1);
    aad.extend_from_slice(owner.as_bytes());
    aad.push(0);
    aad.extend_from_slice(key.as_bytes());
    aad
}

impl SecretCipher {
    /// The cipher of the platform in `data_dir`, creating its key on first use.
    pub fn open(data_dir: &Path) -> Result<Self, ApiError> {
        let material = crate::auth::load_or_create_key(&data_dir.join(KEY_FILE))
            .map_err(|e| ApiError::internal(format!("cannot load the secrets key: {e:#}")))?;
        let bytes = material
            .get(..CHACHA20_POLY1305.key_len())
            .ok_or_else(|| ApiError::internal("the secrets key is too short"))?;
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, bytes)
            .map_err(|_| ApiError::internal("invalid secrets key"))?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
        })
    }

    /// `nonce || ciphertext || tag` for `value` of `owner`'s secret `key`.
    pub fn seal(&self, owner: &str, key: &str, value: &[u8]) -> Result<Vec<u8>, ApiError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| ApiError::internal("no randomness for a nonce"))?;
        let mut sealed = value.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(owner, key)),
                &mut sealed,
            )
            .map_err(|_| ApiError::internal("cannot encrypt a secret"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The value sealed by [`SecretCipher::seal`] for the same owner and key.
    pub fn open_value(&self, owner: &str, key: &str, sealed: &[u8]) -> Result<Vec<u8>, ApiError> {
        let fail = || ApiError::internal(format!("secret {key:?} of {owner} cannot be decrypted"));
        if sealed.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail())?;
        let mut buf = body.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad(owner, key)), &mut buf)
            .map_err(|_| fail())?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt as _;

    #[test]
    fn seal_open_and_bind_to_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let cipher = SecretCipher::open(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().mode();
        assert_eq!(mode & 0o777, 0o600);
        let sealed = cipher.seal("alice", "k", b"hunter2").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_ne!(sealed, cipher.seal("alice", "k", b"hunter2").unwrap());
        assert_eq!(
            cipher.open_value("alice", "k", &sealed).unwrap(),
            b"hunter2"
        );
        assert!(cipher.open_value("bob", "k", &sealed).is_err());
        assert!(cipher.open_value("alice", "k2", &sealed).is_err());
        assert!(cipher.open_value("alice", "k", &sealed[..5]).is_err());
        // the same key after a restart
        let again = SecretCipher::open(dir.path()).unwrap();
        assert_eq!(again.open_value("alice", "k", &sealed).unwrap(), b"hunter2");
        assert!(format!("{again:?}").contains("redacted"));
    }
}
