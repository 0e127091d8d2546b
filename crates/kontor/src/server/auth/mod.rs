//! Who is calling: OIDC bearer tokens (any standard issuer; Microsoft Entra ID by
//! configuration alone) and the roles they carry.

pub mod accounts;
pub mod oidc;
pub mod principal;

pub use oidc::{OidcConfig, OidcVerifier, TokenError, VerifiedToken};
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
    /// The role a token's role value names: `admin`, `operator`, `viewer` or `shop`,
    /// in any case, optionally prefixed as Entra ID app roles are (`Kontor.Admin`).
    pub fn from_claim(value: &str) -> Option<Role> {
        let name = value
            .rsplit_once('.')
            .map_or(value, |(_, name)| name)
            .to_ascii_lowercase();
        match name.as_str() {
            "admin" => Some(Role::Admin),
            "operator" => Some(Role::Operator),
            "viewer" => Some(Role::Viewer),
            "shop" | "shop_integration" | "shopintegration" => Some(Role::ShopIntegration),
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

    /// The strongest role among a token's role values.
    pub fn strongest<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Role> {
        values.into_iter().filter_map(Role::from_claim).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_values_are_read_as_entra_id_and_plain_issuers_write_them() {
        assert_eq!(Role::from_claim("Kontor.Admin"), Some(Role::Admin));
        assert_eq!(Role::from_claim("operator"), Some(Role::Operator));
        assert_eq!(Role::from_claim("VIEWER"), Some(Role::Viewer));
        assert_eq!(Role::from_claim("Kontor.Shop"), Some(Role::ShopIntegration));
        assert_eq!(Role::from_claim("Kontor.Superuser"), None);
        assert_eq!(
            Role::strongest(["Kontor.Viewer", "Kontor.Operator", "other"]),
            Some(Role::Operator)
        );
        assert_eq!(Role::strongest(["other"]), None);
    }
}
