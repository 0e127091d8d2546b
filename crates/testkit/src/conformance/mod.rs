//! The conformance suite: what every connector offering a port must do, whatever system
//! it speaks to. Each connector's tests implement the small harness traits here for
//! their system (real or fake) and call the suite; a new connector gets every check by
//! implementing them (as Vector's sinks call `run_and_assert_sink_compliance`).
//!
//! - [`change_feed`]: an incremental read by cursor reads every record once across
//!   pages, splits no tie at a page boundary, and never skips a record committed late
//!   (stamped before the last read, visible only after it).
//! - [`sales_sink`]: a document is found again by exactly the reference it was made
//!   for, and only by it: what makes a retried order import create nothing twice.
//! - [`failures`]: a rate-limit answer slows the caller down without failing it;
//!   wrong credentials, an unreachable system and an unknown record are each classified
//!   as what they are.

mod failures;
mod feeds;
mod sales;

pub use failures::{Faults, failures};
pub use feeds::{ChangeFeed, FeedSystem, catalogue_feed, change_feed, order_feed};
pub use sales::{SalesErp, sales_sink};
