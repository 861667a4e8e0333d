//! Content guards as the content app evaluates them (declared in [`crate::content_guard`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use crate::content_guard::{ContentGuardCheck, GuardCheck, GuardDenied};

use crate::db::{Database, PulpId};
use crate::models::{get_master, ContentGuard, ContentGuardKind, ModelError};

/// A guard (`None`: gone) and when it was read.
type Cached = (Option<Arc<ContentGuard>>, Instant);

/// Guards by id, each kept for the distribution snapshot's time: a guarded request costs no
/// guard query.
#[derive(Debug)]
pub(crate) struct GuardCache {
    ttl: Duration,
    guards: Mutex<HashMap<PulpId, Cached>>,
}

impl GuardCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            guards: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut guards) = self.guards.lock() {
            guards.clear();
        }
    }

    /// The guard `id` (`None` when it is gone).
    pub(crate) async fn get(
        &self,
        db: &Database,
        id: PulpId,
    ) -> Result<Option<Arc<ContentGuard>>, super::ContentAppError> {
        if let Some((guard, _)) = self.guards.lock().ok().and_then(|g| {
            g.get(&id)
                .filter(|(_, at)| at.elapsed() < self.ttl)
                .cloned()
        }) {
            return Ok(guard);
        }
        let guard = match get_master::<ContentGuardKind>(db, id).await {
            Ok(guard) => Some(Arc::new(guard)),
            Err(ModelError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        if let Ok(mut guards) = self.guards.lock() {
            if guards.len() > 4096 {
                guards.clear();
            }
            guards.insert(id, (guard.clone(), Instant::now()));
        }
        Ok(guard)
    }
}
