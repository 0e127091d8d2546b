//! SQLite's one writer: a thread that owns the write connection and commits what several
//! callers asked for in one transaction (group commit).
//!
//! SQLite lets one transaction write at a time, and each commit writes every page it
//! touched to the WAL. Callers hand their operation to this thread; it takes every
//! operation waiting, runs each inside a savepoint of one `BEGIN IMMEDIATE`
//! transaction, commits once, and only then answers each caller. An operation that fails
//! is rolled back to its savepoint alone and answered with its error; the others commit.
//! Under load many orders share one commit; alone, an operation waits for nobody.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use super::{SqliteConn, WalState};
use crate::error::StoreError;
use crate::store::sql::Sql;

/// Most operations one transaction takes, so that a burst still commits now and then.
const MAX_BATCH: usize = 256;

/// What the writer reports back once the batch's commit is decided: `None` when it
/// committed, else why nothing was.
type Finish = Box<dyn FnOnce(Option<&str>) + Send>;

/// One caller's operation: runs on the writer's connection, says whether it succeeded
/// (so its savepoint is kept or rolled back), and how to answer the caller.
pub(super) type WriteOp = Box<dyn FnOnce(&mut dyn Sql) -> (bool, Finish) + Send>;

pub(super) enum Message {
    Op(WriteOp),
    /// Finish what was sent before, then close the connection.
    Stop,
}

/// Builds the operation for `f`, and the receiver its result arrives on.
pub(super) fn operation<T, F>(
    f: F,
) -> (
    WriteOp,
    tokio::sync::oneshot::Receiver<Result<T, StoreError>>,
)
where
    F: FnOnce(&mut dyn Sql) -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    let (reply, receiver) = tokio::sync::oneshot::channel();
    let op: WriteOp = Box::new(move |sql| {
        let result = f(sql);
        let succeeded = result.is_ok();
        let finish: Finish = Box::new(move |commit_failure| {
            let answer = match (result, commit_failure) {
                (Ok(_), Some(why)) => Err(StoreError::CommitFailed(why.to_owned())),
                (result, _) => result,
            };
            // The caller may have gone (its task was cancelled); the work stands.
            let _ = reply.send(answer);
        });
        (succeeded, finish)
    });
    (op, receiver)
}

/// The writer's loop: runs until told to stop or every sender is gone; counts its
/// commits for the checkpointer, and starts the WAL over when it asks.
pub(super) fn run(mut conn: SqliteConn, inbox: mpsc::Receiver<Message>, wal: &WalState) {
    let mut stopping = false;
    while !stopping {
        let Ok(Message::Op(first)) = inbox.recv() else {
            break;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match inbox.try_recv() {
                Ok(Message::Op(op)) => batch.push(op),
                Ok(Message::Stop) => {
                    stopping = true;
                    break;
                }
                Err(_) => break,
            }
        }
        if wal.restart_wanted.swap(false, Ordering::Relaxed) {
            restart_wal(&conn);
        }
        commit_batch(&mut conn, batch);
        wal.commits.fetch_add(1, Ordering::Relaxed);
    }
}

/// Starts the WAL over from its first frame, between two transactions. The checkpointer
/// has copied (nearly) all of it by now; RESTART copies the rest and waits for readers
/// still reading the old frames. Done here, on the writer's own connection, it never
/// waits for the write lock, and no commit can slip in between.
fn restart_wal(conn: &SqliteConn) {
    if let Err(error) = conn
        .conn
        .query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
    {
        tracing::warn!(message = "Starting the store's WAL over failed; will try again.", %error);
    }
}

fn commit_batch(conn: &mut SqliteConn, batch: Vec<WriteOp>) {
    if let Err(error) = conn.run_plain("BEGIN IMMEDIATE") {
        let why = error.to_string();
        for op in batch {
            // Never run: each caller learns the transaction could not start.
            let (_, finish) = op(&mut Refused(&why));
            finish(Some(&why));
        }
        return;
    }
    let mut finishes = Vec::with_capacity(batch.len());
    for op in batch {
        finishes.push(run_in_savepoint(conn, op));
    }
    let commit_failure = conn.run_plain("COMMIT").err().map(|error| {
        let _ = conn.run_plain("ROLLBACK");
        tracing::error!(message = "Committing to the store failed.", %error);
        error.to_string()
    });
    for finish in finishes {
        finish(commit_failure.as_deref());
    }
}

fn run_in_savepoint(conn: &mut SqliteConn, op: WriteOp) -> Finish {
    if let Err(error) = conn.run_plain("SAVEPOINT op") {
        let why = error.to_string();
        let (_, finish) = op(&mut Refused(&why));
        return Box::new(move |_| finish(Some(&why)));
    }
    // A panicking operation is rolled back like a failed one; its caller hears that it
    // did not finish (its reply is dropped), and the writer goes on.
    let outcome = catch_unwind(AssertUnwindSafe(|| op(&mut *conn)));
    let succeeded = matches!(outcome, Ok((true, _)));
    let kept = if succeeded {
        conn.run_plain("RELEASE op")
    } else {
        conn.run_plain("ROLLBACK TO op")
            .and_then(|()| conn.run_plain("RELEASE op"))
    };
    match (outcome, kept) {
        (Ok((_, finish)), Ok(())) => finish,
        (Ok((_, finish)), Err(error)) => {
            let why = error.to_string();
            Box::new(move |_| finish(Some(&why)))
        }
        (Err(_), _) => {
            tracing::error!(message = "A store operation panicked; its writes were rolled back.");
            Box::new(|_| {})
        }
    }
}

/// Stands in for the connection when a transaction could not be started: every
/// statement fails with the reason.
struct Refused<'a>(&'a str);

impl Sql for Refused<'_> {
    fn backend(&self) -> crate::store::Backend {
        crate::store::Backend::Sqlite
    }

    fn execute(
        &mut self,
        _: &str,
        _: &[&dyn crate::store::value::ToSql],
    ) -> Result<u64, StoreError> {
        Err(StoreError::CommitFailed(self.0.to_owned()))
    }

    fn query(
        &mut self,
        _: &str,
        _: &[&dyn crate::store::value::ToSql],
    ) -> Result<Vec<crate::store::value::Row>, StoreError> {
        Err(StoreError::CommitFailed(self.0.to_owned()))
    }
}
