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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong horse", &h));
        assert!(!verify("correct horse", "not a hash"));
        assert_ne!(hash("correct horse").unwrap(), h, "salts must differ");
        assert_eq!(hash(""), Err(PasswordError::Empty));
        assert_eq!(hash(&"x".repeat(MAX_PASSWORD_LEN + 1)), Err(PasswordError::TooLong));
    }
}
