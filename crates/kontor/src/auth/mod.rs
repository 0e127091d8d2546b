//! Who may call, and what they may do: roles, the tenants a caller acts for, API keys,
//! accounts with passwords, and OIDC bearer tokens (any standard issuer; Microsoft Entra
//! ID by configuration alone). No HTTP here: the server's `principal` turns a request
//! into a caller with these.

pub mod accounts;
mod keys;
pub mod oidc;
mod tenants;

pub use keys::{KEY_PREFIX, MintedKey, mint_key, session_hash};
pub(crate) use keys::{hash_secret, same};
pub use oidc::{OidcConfig, OidcVerifier, RoleValues, TokenError, VerifiedToken};
pub use tenants::Tenants;

/// What a caller may do. Roles are cumulative: an operator may do what a viewer may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// A shop or system integrating through the API: its tenant's catalogue, and order
    /// submission; nothing of operations.
    ShopIntegration,
    /// Reads everything of its tenants.
    Viewer,
    /// Retries, skips and edits jobs; runs flows.
    Operator,
    /// Changes configuration, connections, users and keys.
    Admin,
}

impl Role {
    /// The role Kontor's own name stands for (`admin`, `operator`, `viewer`, `shop`),
    /// as API keys, accounts and sessions record it. Tokens name roles their own way:
    /// see [`oidc::RoleValues`].
    pub fn from_name(name: &str) -> Option<Role> {
        match name {
            "admin" => Some(Role::Admin),
            "operator" => Some(Role::Operator),
            "viewer" => Some(Role::Viewer),
            "shop" => Some(Role::ShopIntegration),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::ShopIntegration => "shop",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_kontors_own_role_names_are_taken() {
        for role in [
            Role::Admin,
            Role::Operator,
            Role::Viewer,
            Role::ShopIntegration,
        ] {
            assert_eq!(Role::from_name(role.name()), Some(role));
        }
        for other in [
            "Admin",
            "Kontor.Admin",
            "Other.Admin",
            "admin ",
            "superuser",
        ] {
            assert_eq!(Role::from_name(other), None, "{other}");
        }
    }
}
