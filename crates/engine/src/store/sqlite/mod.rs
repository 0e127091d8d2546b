//! SQLite: the embedded default. One file in WAL mode, called in-process (rusqlite):
//! reads run on the caller's thread on a pool of read-only connections, writes go to
//! one writer thread that commits them in groups ([`writer`]).
//!
//! Why not through an async driver: each statement would be a round trip to the
//! connection's own thread, and a job takes some twenty statements. Called directly,
//! a statement costs microseconds, which is what an embedded database is for.

mod migrate;
mod writer;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use rusqlite::types::ValueRef;
use tokio::sync::Semaphore;

use super::value::{Kind, Row, SqlValue, ToSql, Value};
use super::{Backend, StoreOptions};
use crate::error::StoreError;
use crate::store::sql::Sql;

/// How a connection waits for a lock another connection holds (another process's write,
/// or the checkpointer starting the WAL over): in steps of 100 µs for the first 10 ms,
/// as those waits are short, then of 1 ms, for 30 s in all. SQLite's own timeout sleeps
/// whole milliseconds from the first retry.
fn wait_briefly(retries: i32) -> bool {
    if retries < 100 {
        std::thread::sleep(Duration::from_micros(100));
        true
    } else if retries < 100 + 30_000 {
        std::thread::sleep(Duration::from_millis(1));
        true
    } else {
        false
    }
}

/// Statements kept prepared per connection (the store has about a hundred).
const STATEMENT_CACHE: usize = 256;

/// Parameter names as the shared SQL writes them.
const PARAMETER_NAMES: [&str; 32] = [
    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15",
    "$16", "$17", "$18", "$19", "$20", "$21", "$22", "$23", "$24", "$25", "$26", "$27", "$28",
    "$29", "$30", "$31", "$32",
];

/// One SQLite connection running the store's statements.
pub(super) struct SqliteConn {
    conn: rusqlite::Connection,
}

impl SqliteConn {
    fn open(path: &std::path::Path, read_only: bool) -> Result<SqliteConn, StoreError> {
        use rusqlite::OpenFlags;
        let flags = if read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let conn = rusqlite::Connection::open_with_flags(path, flags)
            .map_err(|e| StoreError::Connect(format!("{}: {e}", path.display()).into()))?;
        conn.busy_handler(Some(wait_briefly))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // `synchronous = NORMAL` is durable in WAL mode against a process crash (the
        // case that matters here); only a power loss can lose the last commits.
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
        Ok(SqliteConn { conn })
    }

    /// A statement without parameters or rows (transaction control).
    fn run_plain(&mut self, sql: &str) -> Result<(), StoreError> {
        self.conn.prepare_cached(sql)?.raw_execute()?;
        Ok(())
    }

    fn bound<'c>(
        &'c self,
        sql: &str,
        params: &[&dyn ToSql],
    ) -> Result<rusqlite::CachedStatement<'c>, StoreError> {
        let mut statement = self.conn.prepare_cached(sql)?;
        statement.clear_bindings();
        let expected = statement.parameter_count();
        if expected != params.len() {
            return Err(StoreError::Sqlite(rusqlite::Error::InvalidParameterCount(
                params.len(),
                expected,
            )));
        }
        for (i, param) in params.iter().enumerate() {
            let name = PARAMETER_NAMES.get(i).copied().unwrap_or_default();
            let index = statement
                .parameter_index(name)?
                .ok_or_else(|| rusqlite::Error::InvalidParameterName(name.to_owned()))?;
            match param.to_sql() {
                SqlValue::Null(_) => statement.raw_bind_parameter(index, rusqlite::types::Null)?,
                SqlValue::Int(i) => statement.raw_bind_parameter(index, i)?,
                SqlValue::Text(s) => statement.raw_bind_parameter(index, s)?,
            }
        }
        Ok(statement)
    }
}

impl Sql for SqliteConn {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[&dyn ToSql]) -> Result<u64, StoreError> {
        let mut statement = self.bound(sql, params)?;
        let mut rows = statement.raw_query();
        while rows.next()?.is_some() {}
        drop(rows);
        drop(statement);
        Ok(self.conn.changes())
    }

    fn query(&mut self, sql: &str, params: &[&dyn ToSql]) -> Result<Vec<Row>, StoreError> {
        let mut statement = self.bound(sql, params)?;
        let columns: Arc<[Box<str>]> = statement
            .column_names()
            .into_iter()
            .map(Box::from)
            .collect();
        let width = columns.len();
        let mut rows = statement.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(match row.get_ref(i)? {
                    ValueRef::Null => Value::Null(Kind::Text),
                    ValueRef::Integer(i) => Value::Int(i),
                    ValueRef::Text(bytes) => Value::Text(
                        std::str::from_utf8(bytes)
                            .map_err(|e| StoreError::Decode {
                                column: columns[i].to_string(),
                                problem: e.to_string(),
                            })?
                            .to_owned(),
                    ),
                    ValueRef::Real(r) => {
                        return Err(StoreError::Decode {
                            column: columns[i].to_string(),
                            problem: format!("expected an integer or text, found the number {r}"),
                        });
                    }
                    ValueRef::Blob(_) => {
                        return Err(StoreError::Decode {
                            column: columns[i].to_string(),
                            problem: "expected an integer or text, found bytes".to_owned(),
                        });
                    }
                });
            }
            out.push(Row::new(columns.clone(), values));
        }
        Ok(out)
    }
}

/// Read-only connections, used on the caller's thread: a read is microseconds of work,
/// less than handing it to another thread would cost.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<SqliteConn>>,
    permits: Semaphore,
}

impl Readers {
    async fn read<T>(
        &self,
        f: impl FnOnce(&mut dyn Sql) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Aborted("the store is closed".to_owned()))?;
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut conn = match idle {
            Some(conn) => conn,
            None => SqliteConn::open(&self.path, true)?,
        };
        // One read transaction: the statements of one operation see one snapshot.
        conn.run_plain("BEGIN")?;
        let result = f(&mut conn);
        // Ending a read transaction cannot lose anything; a connection that could not
        // end it is not reused.
        if conn.run_plain("COMMIT").is_ok()
            && let Ok(mut idle) = self.idle.lock()
        {
            idle.push(conn);
        }
        result
    }
}

/// The SQLite side of a store.
pub(super) struct SqliteDb {
    writer: Mutex<Option<mpsc::Sender<writer::Message>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    checkpointer: Arc<Checkpointer>,
    readers: Readers,
}

/// Copies committed pages from the WAL into the database file on a thread of its own.
/// SQLite would otherwise do it inside a commit every thousand pages — with an fsync —
/// on the writer thread, which every other write waits for.
struct Checkpointer {
    /// The database file.
    path: PathBuf,
    wal: Arc<WalState>,
    /// Frames after which the WAL is started over (`RESTART_AFTER_BYTES` in pages).
    restart_after_frames: i64,
    stop: std::sync::atomic::AtomicBool,
}

/// What the writer and the checkpointer tell each other.
struct WalState {
    /// Commits made since the store opened, counted by the writer.
    commits: std::sync::atomic::AtomicU64,
    /// Set by the checkpointer once a long WAL is copied: the writer starts it over.
    restart_wanted: std::sync::atomic::AtomicBool,
}

/// The page size of a new store. Most commits change a few rows in each of many tables
/// and indexes, and every page a commit touches is written to the WAL whole: 1 KiB
/// pages write 2.4× fewer bytes per order than SQLite's 4 KiB, and cost fewer CPU
/// cycles per order.
const PAGE_SIZE: i64 = 1024;

/// How often the checkpointer looks whether there were commits to copy.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// The WAL's length after which it is started over. Reads run all the time, so some
/// reader always holds an older snapshot and SQLite never restarts the WAL by itself:
/// without this it grew by ~100 KiB per order, without end (3 GiB after 26,000 orders).
/// Starting over costs the writer two syncs (~10-15 ms here), so not too often.
const RESTART_AFTER_BYTES: i64 = 64 * 1024 * 1024;

/// PASSIVE passes that catch up before a restart, and the frames they may leave to it.
const CATCH_UP_PASSES: usize = 4;
const LEFT_FOR_RESTART: i64 = 256;

/// The size the WAL file is cut back to once started over (`journal_size_limit`): above
/// the restart point, so that each restart reuses the file rather than truncating it.
const WAL_SIZE_LIMIT: i64 = 2 * RESTART_AFTER_BYTES;

impl Checkpointer {
    /// Copies what no reader still needs (PASSIVE: never waits). Once the WAL is long,
    /// catches up with the frames written meanwhile and asks the writer to start the
    /// WAL over (it holds the write lock while it copies what is left).
    fn checkpoint(&self, conn: &SqliteConn) -> Result<(), StoreError> {
        let passive = || -> Result<(i64, i64), StoreError> {
            Ok(conn
                .conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                    Ok((row.get(1)?, row.get(2)?))
                })?)
        };
        let (mut frames, mut copied) = passive()?;
        if frames < self.restart_after_frames {
            return Ok(());
        }
        // SQLite syncs the file only after a pass that copied everything, rare while
        // writes go on: the restart would flush all that was copied, with the writer
        // waiting. Flushed here, it finds little left.
        if let Err(error) = std::fs::File::open(&self.path).and_then(|file| file.sync_data()) {
            tracing::warn!(message = "Syncing the store's file failed.", %error);
        }
        for _ in 0..CATCH_UP_PASSES {
            if frames - copied <= LEFT_FOR_RESTART {
                break;
            }
            (frames, copied) = passive()?;
        }
        self.wal
            .restart_wanted
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    fn run(&self, conn: SqliteConn) {
        use std::sync::atomic::Ordering;
        let mut copied = 0;
        while !self.stop.load(Ordering::Relaxed) {
            std::thread::sleep(CHECKPOINT_EVERY);
            let commits = self.wal.commits.load(Ordering::Relaxed);
            if commits == copied {
                continue;
            }
            match self.checkpoint(&conn) {
                Ok(()) => copied = commits,
                Err(error) => {
                    tracing::warn!(message = "Checkpointing the store's WAL failed; will try again.", %error);
                }
            }
        }
    }
}

impl SqliteDb {
    pub(super) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut dyn Sql) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (op, answer) = writer::operation(f);
        let sent = match self.writer.lock() {
            Ok(sender) => sender
                .as_ref()
                .is_some_and(|s| s.send(writer::Message::Op(op)).is_ok()),
            Err(_) => false,
        };
        if !sent {
            return Err(StoreError::Aborted("the store is closed".to_owned()));
        }
        answer.await.map_err(|_| {
            StoreError::Aborted("the writer stopped, or the operation panicked".to_owned())
        })?
    }

    pub(super) async fn read<T>(
        &self,
        f: impl FnOnce(&mut dyn Sql) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.readers.read(f).await
    }

    /// Lets the writer finish what it was sent, then closes every connection.
    pub(super) async fn close(&self) {
        self.checkpointer
            .stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(sender) = self.writer.lock().ok().and_then(|mut s| s.take()) {
            let _ = sender.send(writer::Message::Stop);
        }
        let thread = self.writer_thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        self.readers.permits.close();
        if let Ok(mut idle) = self.readers.idle.lock() {
            idle.clear();
        }
    }
}

impl Drop for SqliteDb {
    fn drop(&mut self) {
        self.checkpointer
            .stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
        // The writer ends once its inbox closes; what was sent is still committed.
        if let Ok(mut sender) = self.writer.lock() {
            sender.take();
        }
    }
}

/// The file a `sqlite:` URL names (`sqlite://kontor.db`, `sqlite:///var/lib/kontor.db`,
/// `sqlite:kontor.db?mode=rwc`).
fn file_of(url: &str) -> Result<PathBuf, StoreError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::Connect(
            format!(
                "`{url}` names no file: the SQLite store is a file (an in-memory database \
                 could not be shared by its connections)"
            )
            .into(),
        ));
    }
    Ok(PathBuf::from(path))
}

pub(super) async fn open(options: &StoreOptions) -> Result<SqliteDb, StoreError> {
    let path = file_of(&options.url)?;
    let writer_path = path.clone();
    let conn = tokio::task::spawn_blocking(move || {
        let mut conn = SqliteConn::open(&writer_path, false)?;
        // Takes effect only when the file is new: a store keeps the page size it began with.
        conn.conn.execute_batch(&format!(
            "PRAGMA page_size = {PAGE_SIZE}; PRAGMA journal_mode = WAL;"
        ))?;
        migrate::run(&mut conn.conn)?;
        // The checkpointer copies the WAL into the file (see `Checkpointer`). Each
        // operation's savepoint keeps the pages it first changes in a sub-journal; in
        // memory rather than spilled to a temporary file, as SQLite does past 64 KiB.
        conn.conn.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint = 0; PRAGMA temp_store = MEMORY; \
             PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"
        ))?;
        let page_size: i64 = conn
            .conn
            .query_row("PRAGMA page_size", [], |row| row.get(0))?;
        Ok::<_, StoreError>((conn, page_size))
    })
    .await
    .map_err(|e| StoreError::Connect(e.into()))??;
    let (conn, page_size) = conn;
    let checkpoint_conn = SqliteConn::open(&path, false)?;

    let wal = Arc::new(WalState {
        commits: std::sync::atomic::AtomicU64::new(0),
        restart_wanted: std::sync::atomic::AtomicBool::new(false),
    });
    let checkpointer = Arc::new(Checkpointer {
        path: path.clone(),
        wal: wal.clone(),
        restart_after_frames: RESTART_AFTER_BYTES / page_size.max(512),
        stop: std::sync::atomic::AtomicBool::new(false),
    });
    std::thread::Builder::new()
        .name("kontor-sqlite-checkpoint".to_owned())
        .spawn({
            let checkpointer = checkpointer.clone();
            move || checkpointer.run(checkpoint_conn)
        })
        .map_err(|e| StoreError::Connect(e.into()))?;
    let (sender, inbox) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("kontor-sqlite-writer".to_owned())
        .spawn(move || writer::run(conn, inbox, &wal))
        .map_err(|e| StoreError::Connect(e.into()))?;
    let readers = usize::try_from(options.max_connections.max(1)).unwrap_or(1);
    Ok(SqliteDb {
        writer: Mutex::new(Some(sender)),
        writer_thread: Mutex::new(Some(thread)),
        checkpointer,
        readers: Readers {
            path,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(readers),
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::store::sql::params;

    async fn db() -> (tempfile::TempDir, SqliteDb) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("k.db").display());
        let db = open(&StoreOptions::new(url)).await.unwrap();
        (dir, db)
    }

    async fn count(db: &SqliteDb) -> i64 {
        db.read(|sql| {
            sql.scalar::<i64>("SELECT COUNT(*) FROM cursors", params![])
                .map(Option::unwrap_or_default)
        })
        .await
        .unwrap()
    }

    fn insert_cursor(flow: &str) -> impl FnOnce(&mut dyn Sql) -> Result<u64, StoreError> + use<> {
        let flow = flow.to_owned();
        move |sql| {
            sql.execute(
                "INSERT INTO cursors (tenant, flow, system, value, updated_at) VALUES ('acme', $1, 'shop', 'x', 0)",
                params![flow],
            )
        }
    }

    /// Operations sent together share a transaction, yet one that fails takes only its
    /// own writes back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_operation_rolls_back_alone() {
        let (_dir, db) = db().await;
        let db = Arc::new(db);
        let mut tasks = Vec::new();
        for n in 0..50 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                if n == 25 {
                    db.write(|sql| {
                        insert_cursor("doomed")(sql)?;
                        // A duplicate: the operation fails after a write of its own.
                        insert_cursor("doomed")(sql)
                    })
                    .await
                } else {
                    db.write(insert_cursor(&format!("f{n}"))).await
                }
            }));
        }
        let mut failed = 0;
        for task in tasks {
            if let Err(error) = task.await.unwrap() {
                assert!(error.is_unique_violation(), "{error}");
                failed += 1;
            }
        }
        assert_eq!(failed, 1);
        assert_eq!(count(&db).await, 49);
    }

    #[tokio::test]
    async fn a_panicking_operation_is_rolled_back_and_the_writer_goes_on() {
        let (_dir, db) = db().await;
        let lost = db
            .write(|sql| -> Result<(), StoreError> {
                insert_cursor("a")(sql)?;
                panic!("a bug in an operation");
            })
            .await
            .unwrap_err();
        assert!(matches!(lost, StoreError::Aborted(_)), "{lost}");
        db.write(insert_cursor("b")).await.unwrap();
        assert_eq!(count(&db).await, 1);
    }

    #[tokio::test]
    async fn reads_cannot_write() {
        let (_dir, db) = db().await;
        let refused = db.read(insert_cursor("a")).await.unwrap_err();
        assert!(refused.to_string().contains("readonly"), "{refused}");
    }

    #[tokio::test]
    async fn what_was_sent_before_closing_is_committed() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("k.db").display());
        let db = Arc::new(open(&StoreOptions::new(url.clone())).await.unwrap());
        let pending: Vec<_> = (0..20)
            .map(|n| {
                let db = db.clone();
                tokio::spawn(async move { db.write(insert_cursor(&format!("f{n}"))).await })
            })
            .collect();
        for task in pending {
            task.await.unwrap().unwrap();
        }
        db.close().await;
        assert!(db.write(insert_cursor("late")).await.is_err());
        let reopened = open(&StoreOptions::new(url)).await.unwrap();
        assert_eq!(count(&reopened).await, 20);
    }

    /// The writer never checkpoints; the checkpointer copies what was committed into the
    /// database file while the store runs, so the WAL does not grow without end.
    #[tokio::test]
    async fn committed_pages_reach_the_database_file_while_running() {
        let (dir, db) = db().await;
        let file = dir.path().join("k.db");
        let before = std::fs::metadata(&file).unwrap().len();
        for n in 0..300 {
            db.write(insert_cursor(&format!("a-rather-long-flow-name-{n:0>40}")))
                .await
                .unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::fs::metadata(&file).unwrap().len() <= before {
            assert!(
                std::time::Instant::now() < deadline,
                "nothing was checkpointed into {}",
                file.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Reads run all the time, so SQLite never starts the WAL over by itself; the
    /// checkpointer has the writer do it, and the WAL stays near its limit however
    /// much is written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_bounded_while_readers_keep_reading() {
        let (dir, db) = db().await;
        let db = Arc::new(db);
        let wal = dir.path().join("k.db-wal");
        let reading = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let reader = tokio::spawn({
            let (db, reading) = (db.clone(), reading.clone());
            async move {
                while reading.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = count(&db).await;
                    tokio::task::yield_now().await;
                }
            }
        });
        // 1,200 writes of 256 KiB: 300 MiB through the WAL, more than twice its limit.
        let big = "x".repeat(256 * 1024);
        let mut largest = 0;
        for n in 0..1_200 {
            let value = big.clone();
            db.write(move |sql| {
                sql.execute(
                    "INSERT INTO cursors (tenant, flow, system, value, updated_at) VALUES ('acme', $1, 'shop', $2, 0)",
                    params![format!("f{n}"), value],
                )
            })
            .await
            .unwrap();
            largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
            if n % 100 == 0 {
                // Give the checkpointer its turns, as time passing would.
                tokio::time::sleep(CHECKPOINT_EVERY).await;
            }
        }
        reading.store(false, std::sync::atomic::Ordering::Relaxed);
        reader.await.unwrap();
        let limit = u64::try_from(WAL_SIZE_LIMIT).unwrap();
        assert!(
            largest < limit + 16 * 1024 * 1024,
            "the WAL reached {largest} bytes"
        );
    }

    /// A store made with SQLite's default pages keeps them (the page size of a file
    /// cannot change in WAL mode), and its WAL is restarted at the same length in bytes.
    #[tokio::test]
    async fn a_store_keeps_the_page_size_it_was_made_with() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let old = rusqlite::Connection::open(&path).unwrap();
        old.execute_batch(
            "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t (x);",
        )
        .unwrap();
        drop(old);
        let url = format!("sqlite://{}", path.display());
        let kept = open(&StoreOptions::new(url)).await.unwrap();
        assert_eq!(page_size(&kept).await, 4096);
        assert_eq!(
            kept.checkpointer.restart_after_frames,
            RESTART_AFTER_BYTES / 4096
        );
        let (_dir, new) = db().await;
        assert_eq!(page_size(&new).await, PAGE_SIZE);
    }

    async fn page_size(db: &SqliteDb) -> i64 {
        db.read(|sql| sql.scalar::<i64>("PRAGMA page_size", params![]))
            .await
            .unwrap()
            .unwrap()
    }

    #[test]
    fn a_url_names_its_file() {
        assert_eq!(
            file_of("sqlite://kontor.db").unwrap(),
            PathBuf::from("kontor.db")
        );
        assert_eq!(
            file_of("sqlite:///var/lib/kontor/k.db?mode=rwc").unwrap(),
            PathBuf::from("/var/lib/kontor/k.db")
        );
        assert!(file_of("sqlite::memory:").is_err());
    }
}
