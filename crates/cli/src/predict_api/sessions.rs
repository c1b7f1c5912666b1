//! Loaded model versions, at most `capacity` of them, the least recently used dropped first
//! (requests still running on a dropped one keep it until they finish). A version is loaded
//! once however many requests ask for it at the same time: they all wait on one load, which
//! runs on the blocking pool (reading, checking and decoding weights, compiling the plan). A
//! failed load is not remembered, so a fixed file is picked up by the next request.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use burn_edge_formats::predict::ErrorCode;
use tokio::sync::OnceCell;

use super::error::ApiError;
use super::locate::Located;
use crate::native_session::{NativeModel, OpenError};

type Slot = Arc<OnceCell<Arc<NativeModel>>>;

pub struct Sessions {
    capacity: usize,
    /// Most recently used first.
    slots: Mutex<Vec<((String, String), Slot)>>,
    loads: AtomicUsize,
}

impl Sessions {
    pub fn new(capacity: usize) -> Self {
        Sessions { capacity: capacity.max(1), slots: Mutex::new(Vec::new()), loads: AtomicUsize::new(0) }
    }

    /// Loads started so far (successful or not).
    #[cfg(test)]
    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::Relaxed)
    }

    /// The slot of (model, version), moved to the front; a new one evicts the oldest.
    fn slot(&self, key: &(String, String)) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = match slots.iter().position(|(k, _)| k == key) {
            Some(i) => slots.remove(i).1,
            None => Arc::new(OnceCell::new()),
        };
        slots.insert(0, (key.clone(), slot.clone()));
        slots.truncate(self.capacity);
        slot
    }

    fn forget(&self, key: &(String, String), slot: &Slot) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.retain(|(k, s)| !(k == key && Arc::ptr_eq(s, slot)));
    }

    /// The loaded version, loading it if needed.
    pub async fn get(&self, located: &Located) -> Result<Arc<NativeModel>, ApiError> {
        let key = (located.model.clone(), located.version.clone());
        let slot = self.slot(&key);
        let result = slot
            .get_or_try_init(|| async {
                self.loads.fetch_add(1, Ordering::Relaxed);
                let manifest = located.manifest.clone();
                match tokio::task::spawn_blocking(move || NativeModel::open(&manifest)).await {
                    Ok(Ok(model)) => Ok(Arc::new(model)),
                    Ok(Err(e)) => Err(open_error(located, e)),
                    Err(e) => Err(ApiError::new(ErrorCode::Internal, format!("loading {}@{} failed: {e}", located.model, located.version))),
                }
            })
            .await
            .cloned();
        if result.is_err() {
            self.forget(&key, &slot);
        }
        result
    }
}

/// The failure for the client, without the server's paths (those go to the log).
fn open_error(located: &Located, e: OpenError) -> ApiError {
    eprintln!("predict: cannot load {}@{}: {e}", located.model, located.version);
    let why = match &e {
        OpenError::Read { .. } => "one of its files cannot be read".to_string(),
        OpenError::Checksum { .. } => "its weights do not match the manifest's sha256".to_string(),
        OpenError::Manifest { source, .. } => source.to_string(),
        OpenError::Inconsistent { problem, .. } => problem.clone(),
        OpenError::Session { source, .. } => source.to_string(),
    };
    ApiError::new(ErrorCode::ModelBroken, format!("{}@{} cannot be run: {why}", located.model, located.version))
}
