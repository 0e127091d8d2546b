//! Named locks with an expiry, held across processes through the store.

use std::time::Duration;

use crate::error::StoreError;
use crate::store::Store;
use crate::time::to_micros;

/// A held lock; give it back with [`Store::unlock`]. If the holder dies it expires.
#[derive(Debug, Clone)]
pub struct LockGuard {
    pub name: String,
    holder: String,
}

impl Store {
    /// Takes the lock `name` for up to `ttl`, waiting up to `wait` for its holder to let
    /// go. `None` if it could not be had in time.
    pub async fn lock(
        &self,
        name: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Option<LockGuard>, StoreError> {
        let holder = uuid::Uuid::now_v7().to_string();
        let deadline = tokio::time::Instant::now() + wait;
        let mut pause = Duration::from_millis(5);
        loop {
            let now = self.now();
            let expires = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
            let got: Option<String> = sqlx::query_scalar(
                "INSERT INTO locks (name, holder, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
                 WHERE locks.expires_at <= $4 RETURNING holder",
            )
            .bind(name)
            .bind(&holder)
            .bind(to_micros(expires))
            .bind(to_micros(now))
            .fetch_optional(&self.pool)
            .await?;
            if got.as_deref() == Some(holder.as_str()) {
                return Ok(Some(LockGuard {
                    name: name.to_owned(),
                    holder,
                }));
            }
            if tokio::time::Instant::now() + pause > deadline {
                return Ok(None);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// Lets go of a lock (a lock taken over after expiring is left alone).
    pub async fn unlock(&self, guard: LockGuard) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM locks WHERE name = $1 AND holder = $2")
            .bind(&guard.name)
            .bind(&guard.holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
