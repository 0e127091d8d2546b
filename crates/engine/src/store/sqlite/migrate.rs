//! The SQLite schema, brought up to date when the store opens. Applied migrations are
//! recorded in the table sqlx's migrator kept (`_sqlx_migrations`, with the SHA-384 of
//! each file), so stores made by earlier versions of Kontor open as they are.

use sha2::{Digest, Sha384};

use crate::error::StoreError;

struct Migration {
    version: i64,
    description: &'static str,
    sql: &'static str,
}

macro_rules! migration {
    ($version:literal, $description:literal, $file:literal) => {
        Migration {
            version: $version,
            description: $description,
            sql: include_str!(concat!("../../../migrations/sqlite/", $file)),
        }
    };
}

const MIGRATIONS: &[Migration] = &[
    migration!(1, "engine", "0001_engine.sql"),
    migration!(2, "locks", "0002_locks.sql"),
    migration!(3, "api keys", "0003_api_keys.sql"),
    migration!(4, "order inbox", "0004_order_inbox.sql"),
    migration!(5, "people", "0005_people.sql"),
    migration!(6, "job flow", "0006_job_flow.sql"),
];

fn failed(message: String) -> StoreError {
    StoreError::Migrate(message.into())
}

/// Applies the migrations `conn` has not seen, each in a transaction of its own;
/// refuses a store whose applied migrations differ from these files.
pub(super) fn run(conn: &mut rusqlite::Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
            version BIGINT PRIMARY KEY,
            description TEXT NOT NULL,
            installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
            success BOOLEAN NOT NULL,
            checksum BLOB NOT NULL,
            execution_time BIGINT NOT NULL
        );",
    )?;
    let applied: Vec<(i64, bool, Vec<u8>)> = conn
        .prepare("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (version, success, checksum) in &applied {
        if !success {
            return Err(failed(format!(
                "migration {version} failed part-way earlier; restore the store from a backup"
            )));
        }
        match MIGRATIONS.iter().find(|m| m.version == *version) {
            Some(m) if Sha384::digest(m.sql.as_bytes()).as_slice() == checksum.as_slice() => {}
            Some(m) => {
                return Err(failed(format!(
                    "migration {version} ({}) was applied from a different file than this \
                     version of Kontor has",
                    m.description
                )));
            }
            None => {
                return Err(failed(format!(
                    "the store has migration {version}, which this version of Kontor does not \
                     know: it was made by a newer Kontor"
                )));
            }
        }
    }
    for m in MIGRATIONS
        .iter()
        .filter(|m| !applied.iter().any(|(v, _, _)| *v == m.version))
    {
        let started = std::time::Instant::now();
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql)
            .map_err(|e| failed(format!("migration {} ({}): {e}", m.version, m.description)))?;
        tx.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (?1, ?2, TRUE, ?3, ?4)",
            rusqlite::params![
                m.version,
                m.description,
                Sha384::digest(m.sql.as_bytes()).as_slice(),
                i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX),
            ],
        )?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_migration_file_is_listed_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(files.len(), MIGRATIONS.len(), "{files:?}");
        for (file, m) in files.iter().zip(MIGRATIONS) {
            let version: i64 = file[..4].parse().unwrap();
            assert_eq!(version, m.version, "{file}");
            let text = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
            assert_eq!(text, m.sql, "{file}");
        }
    }

    #[test]
    fn a_second_run_changes_nothing_and_a_changed_file_is_refused() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        run(&mut conn).unwrap();
        run(&mut conn).unwrap();
        let count: i64 = conn
            .query_row("SELECT COUNT(*) FROM _sqlx_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, i64::try_from(MIGRATIONS.len()).unwrap());
        conn.execute(
            "UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 2",
            [],
        )
        .unwrap();
        let refused = run(&mut conn).unwrap_err().to_string();
        assert!(refused.contains("migration 2"), "{refused}");
    }
}
