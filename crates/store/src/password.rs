//! Password hashing: Argon2id (RFC 9106) with the argon2 crate's defaults (19 MiB, t=2, p=1,
//! the OWASP minimum), stored as PHC strings. Hashing costs tens of milliseconds of CPU on
//! purpose: async callers run it on a blocking thread.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Longest password accepted; longer input is refused before hashing (a cheap DoS guard).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Why a password could not be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Empty password.
    #[error("the password is empty")]
    Empty,
    /// Over [`MAX_PASSWORD_LEN`].
    #[error("the password is longer than {MAX_PASSWORD_LEN} bytes")]
    TooLong,
    /// The hasher failed (should not happen).
    #[error("hashing failed: {0}")]
    Hash(String),
}

/// Hashes a password into a PHC string (`$argon2id$v=19$...`).
pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.is_empty() {
        return Err(PasswordError::Empty);
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(PasswordError::TooLong);
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Checks a password against a stored PHC string. A malformed hash never verifies.
pub fn verify(password: &str, stored: &str) -> bool {
    if password.is_empty() || password.len() > MAX_PASSWORD_LEN {
        return false;
    }
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Like [`verify`], but Argon2's working memory (19 MiB with the default parameters) is
/// `memory`, kept by the caller and reused from one check to the next. A server that checks
/// many passwords keeps one such buffer per checking thread, so its memory stays flat instead
/// of growing with every freed 19 MiB the allocator decides to keep.
pub fn verify_with_memory(password: &str, stored: &str, memory: &mut Vec<argon2::Block>) -> bool {
    if password.is_empty() || password.len() > MAX_PASSWORD_LEN {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else { return false };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm.as_str()) else { return false };
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else { return false };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, argon2::Block::default());
    }
    let mut out = vec![0u8; expected.as_bytes().len()];
    let hasher = Argon2::new(algorithm, version, params);
    if hasher
        .hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut out, &mut memory[..blocks])
        .is_err()
    {
        return false;
    }
    // Constant-time comparison.
    let diff = out.iter().zip(expected.as_bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
    diff == 0 && out.len() == expected.as_bytes().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong horse", &h));
        let mut memory = Vec::new();
        assert!(verify_with_memory("correct horse", &h, &mut memory));
        assert!(!verify_with_memory("wrong horse", &h, &mut memory));
        assert!(!verify_with_memory("correct horse", "$argon2id$v=19$garbage", &mut memory));
        assert!(verify_with_memory("correct horse", &h, &mut memory), "the buffer is reusable");
        assert!(!verify("correct horse", "not a hash"));
        assert_ne!(hash("correct horse").unwrap(), h, "salts must differ");
        assert_eq!(hash(""), Err(PasswordError::Empty));
        assert_eq!(hash(&"x".repeat(MAX_PASSWORD_LEN + 1)), Err(PasswordError::TooLong));
    }
}
