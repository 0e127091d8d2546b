//! Who is calling: OIDC bearer tokens (any standard issuer; Microsoft Entra ID by
//! configuration alone) and the roles they carry.

pub mod accounts;
pub mod oidc;
pub mod principal;

pub use oidc::{OidcConfig, OidcVerifier, RoleValues, TokenError, VerifiedToken};
pub use principal::{
    Authenticator, CSRF_HEADER, Principal, SESSION_COOKIE, Tenants, Via, mint_key, session_cookie,
    session_hash,
};

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
