//! The one lock around a network's state.
//!
//! Every emulated network keeps its whole state (users, accounts, windows, the request log) in
//! one struct behind one mutex. A request takes the lock a few times, for short synchronous
//! steps, and never across an await: sleeps (latency, stalls) happen between the steps. So the
//! lock stays cheap under benchmark load, and the state is consistent whenever it is free.

use std::sync::{Arc, Mutex, PoisonError};

/// A network's state behind one mutex. Cheap to clone: clones share the state.
pub struct Store<S> {
    /// The state. Held only inside [`Store::with`], which runs synchronous code: never across
    /// an await.
    shared: Arc<Mutex<S>>,
}

impl<S> Store<S> {
    /// Puts `state` behind the lock.
    pub fn new(state: S) -> Store<S> {
        Store {
            shared: Arc::new(Mutex::new(state)),
        }
    }

    /// Runs `f` under the lock. A panic elsewhere never makes the state unreadable: the steps
    /// leave it consistent between lock acquisitions, so a poisoned lock is taken over.
    pub fn with<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        let mut guard = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }
}

impl<S> Clone for Store<S> {
    fn clone(&self) -> Store<S> {
        Store {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S> std::fmt::Debug for Store<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the state: it holds credentials.
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_state_and_a_poisoned_lock_is_taken_over() {
        let store = Store::new(0u32);
        let other = store.clone();
        other.with(|n| *n += 2);
        assert_eq!(store.with(|n| *n), 2);
        let poisoner = store.clone();
        let _ = std::thread::spawn(move || poisoner.with(|_| panic!("poison the lock"))).join();
        assert_eq!(store.with(|n| *n), 2);
        assert_eq!(format!("{store:?}"), "Store { .. }");
    }
}
