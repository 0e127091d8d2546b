//! A value that is replaced while it is in use: the handlers the runner dispatches to and
//! the flows the scheduler fires, rebuilt when a tenant's configuration changes. Readers
//! take the value as it is now and keep it for as long as they need (a running job
//! finishes with the flow it started with); a replacement only affects later readers.

use std::sync::{Arc, RwLock};

pub struct Current<T>(Arc<RwLock<Arc<T>>>);

impl<T> Clone for Current<T> {
    fn clone(&self) -> Self {
        Current(self.0.clone())
    }
}

impl<T> Current<T> {
    pub fn new(value: T) -> Self {
        Current(Arc::new(RwLock::new(Arc::new(value))))
    }

    /// The value as it is now.
    pub fn get(&self) -> Arc<T> {
        // A panic while replacing cannot leave a half-written Arc behind: take it as is.
        match self.0.read() {
            Ok(value) => value.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the value for every later reader.
    pub fn set(&self, value: T) {
        let value = Arc::new(value);
        match self.0.write() {
            Ok(mut slot) => *slot = value,
            Err(poisoned) => *poisoned.into_inner() = value,
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Current<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Current").field(&self.get()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_keep_what_they_took_and_later_readers_see_the_replacement() {
        let current = Current::new(1);
        let before = current.get();
        current.clone().set(2);
        assert_eq!(*before, 1);
        assert_eq!(*current.get(), 2);
    }
}
