//! Officer accounts: the roles and what each may decide, and passwords
//! kept as argon2 hashes (a random salt, the PHC string format).

use crate::base::error::{Classify, ErrorKind};
use crate::base::store::Action;

/// Fewest characters of a password.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// A password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("hashing the password: {0}")]
    Hash(argon2::password_hash::Error),
}

impl Classify for AccountError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Bug
    }
}

/// What an officer may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Notifies parties, records objections, confirms and rejects.
    Officer,
    /// Also approves or sends back another officer's proposal, exempts and
    /// revokes exemptions.
    Senior,
    /// Reads only.
    Auditor,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "officer" => Some(Role::Officer),
            "senior" => Some(Role::Senior),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Senior => "senior",
            Role::Auditor => "auditor",
        }
    }

    /// Whether the role may make `action` (publication.md v2, "Officer
    /// decisions"): officers notify, record objections, confirm and
    /// reject; seniors also approve, send back and exempt.
    pub fn may(self, action: Action) -> bool {
        match action {
            Action::Notify | Action::Object | Action::Confirm | Action::Reject => {
                matches!(self, Role::Officer | Role::Senior)
            }
            Action::Approve | Action::SendBack | Action::Exempt | Action::RevokeExemption => self == Role::Senior,
        }
    }
}

/// Hashes a password with argon2 (a random salt, the PHC string format).
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let salt = SaltString::encode_b64(&bytes).map_err(AccountError::Hash)?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(AccountError::Hash)
}

pub fn password_matches(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}
