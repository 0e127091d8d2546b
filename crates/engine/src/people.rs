//! People who use the console: local accounts, the sessions of everyone signed in, and
//! OIDC sign-ins under way. The store keeps hashes only — of passwords (made by the
//! caller) and of session cookies — so what is in the store cannot be used to sign in.
//! What a role may do is the server's business, not the store's.

use crate::error::StoreError;
use crate::store::value::Row;
use crate::store::{Store, params};
use crate::time::{from_micros, to_micros};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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

fn user_from_row(row: &Row) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        username: row.get("username")?,
        role: row.get("role")?,
        tenants: tenants_from(&row.get::<String>("tenants")?)?,
        created_at: from_micros(row.get("created_at")?),
        updated_at: from_micros(row.get("updated_at")?),
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
        let [username, password_hash, role] = [username, password_hash, role].map(str::to_owned);
        let tenants = tenants_text(tenants);
        self.write(move |sql| {
            let existed: Option<String> = sql.scalar(
                "SELECT username FROM users WHERE username = $1",
                params![username],
            )?;
            sql.execute(
                "INSERT INTO users (username, password_hash, role, tenants, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (username) DO UPDATE SET \
                 password_hash = excluded.password_hash, role = excluded.role, \
                 tenants = excluded.tenants, updated_at = excluded.updated_at",
                params![username, password_hash, role, tenants, now],
            )?;
            if existed.is_some() {
                // A changed password or role ends the sessions made with the old one.
                sql.execute(
                    "DELETE FROM sessions WHERE subject = $1 AND method = 'password'",
                    params![format!("user:{username}")],
                )?;
            }
            Ok(existed.is_none())
        })
        .await
    }

    /// An account with its password hash, to check a sign-in.
    pub async fn user_with_hash(
        &self,
        username: &str,
    ) -> Result<Option<(UserRecord, String)>, StoreError> {
        let username = username.to_owned();
        self.read(move |sql| {
            sql.query_opt(
                &format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1"),
                params![username],
            )?
            .map(|row| Ok((user_from_row(&row)?, row.get("password_hash")?)))
            .transpose()
        })
        .await
    }

    pub async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.read(|sql| {
            sql.query(
                &format!("SELECT {USER_COLUMNS} FROM users ORDER BY username"),
                params![],
            )?
            .iter()
            .map(user_from_row)
            .collect()
        })
        .await
    }

    /// Removes an account and ends its sessions; `false` if there was none.
    pub async fn delete_user(&self, username: &str) -> Result<bool, StoreError> {
        let username = username.to_owned();
        self.write(move |sql| {
            let removed =
                sql.execute("DELETE FROM users WHERE username = $1", params![username])?;
            sql.execute(
                "DELETE FROM sessions WHERE subject = $1 AND method = 'password'",
                params![format!("user:{username}")],
            )?;
            Ok(removed > 0)
        })
        .await
    }

    /// Starts a session; `id_hash` is the hash of the cookie the browser keeps. Sessions
    /// that have expired are cleared on the way.
    pub async fn create_session(
        &self,
        id_hash: &str,
        session: &SessionRecord,
    ) -> Result<(), StoreError> {
        let (id_hash, session, now) = (id_hash.to_owned(), session.clone(), to_micros(self.now()));
        self.write(move |sql| {
            sql.execute("DELETE FROM sessions WHERE expires_at <= $1", params![now])?;
            sql.execute(
                "INSERT INTO sessions (id_hash, subject, role, tenants, csrf_token, method, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                params![
                    id_hash,
                    session.subject,
                    session.role,
                    tenants_text(&session.tenants),
                    session.csrf_token,
                    session.method,
                    to_micros(session.created_at),
                    to_micros(session.expires_at)
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// The session a cookie's hash belongs to, unless it has expired.
    pub async fn live_session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let (id_hash, now) = (id_hash.to_owned(), to_micros(self.now()));
        self.read(move |sql| {
            sql.query_opt(
                "SELECT subject, role, tenants, csrf_token, method, created_at, expires_at \
                 FROM sessions WHERE id_hash = $1 AND expires_at > $2",
                params![id_hash, now],
            )?
            .map(|row| {
                Ok(SessionRecord {
                    subject: row.get("subject")?,
                    role: row.get("role")?,
                    tenants: tenants_from(&row.get::<String>("tenants")?)?,
                    csrf_token: row.get("csrf_token")?,
                    method: row.get("method")?,
                    created_at: from_micros(row.get("created_at")?),
                    expires_at: from_micros(row.get("expires_at")?),
                })
            })
            .transpose()
        })
        .await
    }

    /// Signs a session out.
    pub async fn end_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        let id_hash = id_hash.to_owned();
        let ended = self
            .write(move |sql| {
                sql.execute("DELETE FROM sessions WHERE id_hash = $1", params![id_hash])
            })
            .await?;
        Ok(ended > 0)
    }

    /// Remembers an OIDC sign-in's PKCE verifier until the issuer sends the browser back.
    pub async fn begin_oidc_login(
        &self,
        state: &str,
        verifier: &str,
        return_to: &str,
    ) -> Result<(), StoreError> {
        let [state, verifier, return_to] = [state, verifier, return_to].map(str::to_owned);
        let now = to_micros(self.now());
        self.write(move |sql| {
            sql.execute(
                "INSERT INTO oidc_logins (state, verifier, return_to, created_at) VALUES ($1, $2, $3, $4)",
                params![state, verifier, return_to, now],
            )
            .map(drop)
        })
        .await
    }

    /// Takes the sign-in with this state (once), if it began less than `within` ago:
    /// (verifier, return_to).
    pub async fn take_oidc_login(
        &self,
        state: &str,
        within: std::time::Duration,
    ) -> Result<Option<(String, String)>, StoreError> {
        let oldest = to_micros(
            self.now() - chrono::Duration::from_std(within).unwrap_or(chrono::Duration::MAX),
        );
        let state = state.to_owned();
        self.write(move |sql| {
            let row = sql.query_opt(
                "DELETE FROM oidc_logins WHERE state = $1 AND created_at > $2 RETURNING verifier, return_to",
                params![state, oldest],
            )?;
            sql.execute("DELETE FROM oidc_logins WHERE created_at <= $1", params![oldest])?;
            row.map(|row| Ok((row.get("verifier")?, row.get("return_to")?)))
                .transpose()
        })
        .await
    }
}
