//! People who use the console: local accounts, the sessions of everyone signed in, and
//! OIDC sign-ins under way. The store keeps hashes only — of passwords (made by the
//! caller) and of session cookies — so what is in the store cannot be used to sign in.
//! What a role may do is the server's business, not the store's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::error::StoreError;
use crate::store::Store;
use crate::time::{from_micros, to_micros};

/// A local account.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub username: String,
    pub role: String,
    /// Tenant ids; `*` for every tenant.
    pub tenants: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Someone signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub subject: String,
    pub role: String,
    pub tenants: Vec<String>,
    pub csrf_token: String,
    /// `password` or `oidc`.
    pub method: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

fn tenants_from(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(StoreError::corrupt("tenant list"))
}

fn tenants_text(tenants: &[String]) -> String {
    serde_json::Value::from(tenants.to_vec()).to_string()
}

const USER_COLUMNS: &str = "username, role, tenants, created_at, updated_at";

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        username: row.try_get("username")?,
        role: row.try_get("role")?,
        tenants: tenants_from(&row.try_get::<String, _>("tenants")?)?,
        created_at: from_micros(row.try_get("created_at")?),
        updated_at: from_micros(row.try_get("updated_at")?),
    })
}

impl Store {
    /// Creates an account, or replaces one's password, role and tenants. Returns
    /// whether it was new.
    pub async fn put_user(
        &self,
        username: &str,
        password_hash: &str,
        role: &str,
        tenants: &[String],
    ) -> Result<bool, StoreError> {
        let now = to_micros(self.now());
        let mut tx = self.begin_write().await?;
        let existed: Option<String> =
            sqlx::query_scalar("SELECT username FROM users WHERE username = $1")
                .bind(username)
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT INTO users (username, password_hash, role, tenants, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (username) DO UPDATE SET \
             password_hash = excluded.password_hash, role = excluded.role, \
             tenants = excluded.tenants, updated_at = excluded.updated_at",
        )
        .bind(username)
        .bind(password_hash)
        .bind(role)
        .bind(tenants_text(tenants))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if existed.is_some() {
            // A changed password or role ends the sessions made with the old one.
            sqlx::query("DELETE FROM sessions WHERE subject = $1 AND method = 'password'")
                .bind(format!("user:{username}"))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(existed.is_none())
    }

    /// An account with its password hash, to check a sign-in.
    pub async fn user_with_hash(
        &self,
        username: &str,
    ) -> Result<Option<(UserRecord, String)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok((user_from_row(&row)?, row.try_get("password_hash")?)))
            .transpose()
    }

    pub async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY username"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Removes an account and ends its sessions; `false` if there was none.
    pub async fn delete_user(&self, username: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let removed = sqlx::query("DELETE FROM users WHERE username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM sessions WHERE subject = $1 AND method = 'password'")
            .bind(format!("user:{username}"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(removed > 0)
    }

    /// Starts a session; `id_hash` is the hash of the cookie the browser keeps. Sessions
    /// that have expired are cleared on the way.
    pub async fn create_session(
        &self,
        id_hash: &str,
        session: &SessionRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(to_micros(self.now()))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, subject, role, tenants, csrf_token, method, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id_hash)
        .bind(&session.subject)
        .bind(&session.role)
        .bind(tenants_text(&session.tenants))
        .bind(&session.csrf_token)
        .bind(&session.method)
        .bind(to_micros(session.created_at))
        .bind(to_micros(session.expires_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The session a cookie's hash belongs to, unless it has expired.
    pub async fn live_session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT subject, role, tenants, csrf_token, method, created_at, expires_at \
             FROM sessions WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(id_hash)
        .bind(to_micros(self.now()))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(SessionRecord {
                subject: row.try_get("subject")?,
                role: row.try_get("role")?,
                tenants: tenants_from(&row.try_get::<String, _>("tenants")?)?,
                csrf_token: row.try_get("csrf_token")?,
                method: row.try_get("method")?,
                created_at: from_micros(row.try_get("created_at")?),
                expires_at: from_micros(row.try_get("expires_at")?),
            })
        })
        .transpose()
    }

    /// Signs a session out.
    pub async fn end_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        let ended = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(ended > 0)
    }

    /// Remembers an OIDC sign-in's PKCE verifier until the issuer sends the browser back.
    pub async fn begin_oidc_login(
        &self,
        state: &str,
        verifier: &str,
        return_to: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oidc_logins (state, verifier, return_to, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(state)
        .bind(verifier)
        .bind(return_to)
        .bind(to_micros(self.now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes the sign-in with this state (once), if it began less than `within` ago:
    /// (verifier, return_to).
    pub async fn take_oidc_login(
        &self,
        state: &str,
        within: std::time::Duration,
    ) -> Result<Option<(String, String)>, StoreError> {
        let oldest =
            self.now() - chrono::Duration::from_std(within).unwrap_or(chrono::Duration::MAX);
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "DELETE FROM oidc_logins WHERE state = $1 AND created_at > $2 RETURNING verifier, return_to",
        )
        .bind(state)
        .bind(to_micros(oldest))
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM oidc_logins WHERE created_at <= $1")
            .bind(to_micros(oldest))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        row.map(|row| Ok((row.try_get("verifier")?, row.try_get("return_to")?)))
            .transpose()
    }
}
