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

#[cfg(test)]
mod tests {
    use super::*;

    /// publication.md "Officer decisions": who may make each decision
    /// (`send_back`, the refusal of an approval, goes with `approve`); an
    /// auditor reads only.
    #[test]
    fn each_role_may_make_the_decisions_the_spec_gives_it() {
        for action in Action::ALL {
            let by_officers = matches!(action, Action::Notify | Action::Object | Action::Confirm | Action::Reject);
            assert_eq!(Role::Officer.may(action), by_officers, "officer: {action:?}");
            assert!(Role::Senior.may(action), "senior: {action:?}");
            assert!(!Role::Auditor.may(action), "auditor: {action:?}");
        }
        for r in [Role::Officer, Role::Senior, Role::Auditor] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("admin"), None);
    }

    #[test]
    fn a_password_matches_its_hash_alone() {
        let hash = hash_password("correct horse battery staple").unwrap();
        assert!(hash.starts_with("$argon2"), "{hash}");
        assert!(password_matches("correct horse battery staple", &hash));
        assert!(!password_matches("correct horse battery stapl", &hash));
        assert!(!password_matches("correct horse battery staple", "not a hash"));
        assert_ne!(hash, hash_password("correct horse battery staple").unwrap(), "a salt of its own");
    }
}
