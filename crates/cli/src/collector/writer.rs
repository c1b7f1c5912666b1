//! Group commit: one writer thread stores the batches of every ingest request waiting at that
//! moment in a single store call (one SQLite transaction, one ClickHouse INSERT), then answers
//! each request. Under load that turns hundreds of small commits into a few large ones; an
//! idle collector still stores a lone batch at once. A failed store call fails every batch in
//! it, so nothing is acknowledged that was not stored.

use std::sync::mpsc;
use std::sync::Arc;

use tokio::sync::oneshot;

use super::events::Event;
use super::store::EventStore;

/// Most events stored by one call.
const MAX_EVENTS_PER_COMMIT: usize = 20_000;

struct Job {
    events: Vec<Event>,
    received_unix_ms: i64,
    done: oneshot::Sender<Result<(), String>>,
}

/// Handle to the writer thread.
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread for `store`; it ends when the last handle is dropped.
    pub fn spawn(store: Arc<dyn EventStore>) -> Writer {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("telemetry-writer".into())
            .spawn(move || run(store.as_ref(), &queue))
            .expect("spawning the telemetry writer thread");
        Writer { jobs }
    }

    /// Stores `events`; resolves once they are committed, or with the store's error.
    pub async fn store(&self, events: Vec<Event>, received_unix_ms: i64) -> Result<(), String> {
        let (done, result) = oneshot::channel();
        self.jobs.send(Job { events, received_unix_ms, done }).map_err(|_| "the telemetry writer stopped".to_string())?;
        result.await.map_err(|_| "the telemetry writer stopped".to_string())?
    }
}

fn run(store: &dyn EventStore, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let received_unix_ms = first.received_unix_ms;
        let mut events = first.events;
        let mut waiting = vec![first.done];
        while events.len() < MAX_EVENTS_PER_COMMIT {
            match queue.try_recv() {
                Ok(mut job) => {
                    events.append(&mut job.events);
                    waiting.push(job.done);
                }
                Err(_) => break,
            }
        }
        let result = store.insert(&events, received_unix_ms).map_err(|e| e.to_string());
        for done in waiting {
            // A request that gave up waiting is no error of ours.
            let _ = done.send(result.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::store::{Aggregates, Limits, StoreError};
    use std::sync::Mutex;

    /// Records the size of every insert call; fails inserts holding a poisoned event id.
    #[derive(Default)]
    struct Recorder {
        calls: Mutex<Vec<usize>>,
    }

    impl EventStore for Recorder {
        fn insert(&self, events: &[Event], _: i64) -> Result<(), StoreError> {
            std::thread::sleep(std::time::Duration::from_millis(20));
            self.calls.lock().unwrap().push(events.len());
            if events.iter().any(|e| e.event_id == "poison") {
                return Err(StoreError::ClickHouse { url: "test".into(), message: "refused".into() });
            }
            Ok(())
        }
        fn aggregates(&self, _: &Limits) -> Result<Aggregates, StoreError> {
            Ok(Aggregates::default())
        }
    }

    fn event(id: &str) -> Event {
        Event {
            event_id: id.into(),
            app: "a".into(),
            install_id: None,
            time_unix_nano: 0,
            name: "burn_edge.inference".into(),
            model_name: None,
            model_version: None,
            backend: None,
            variant: None,
            role: None,
            latency_ms: None,
            batch_size: None,
            predicted_class: None,
            confidence: None,
            prediction_id: None,
            true_label: None,
            ttfp_ms: None,
            attributes_json: "{}".into(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_batches_share_commits_and_failures() {
        let recorder = Arc::new(Recorder::default());
        let writer = Arc::new(Writer::spawn(recorder.clone()));
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let w = writer.clone();
                tokio::spawn(async move { w.store(vec![event(&format!("e{i}")), event(&format!("f{i}"))], 0).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let calls = recorder.calls.lock().unwrap().clone();
        assert_eq!(calls.iter().sum::<usize>(), 100, "every event stored once: {calls:?}");
        assert!(calls.len() < 50, "batches waiting together were committed together: {calls:?}");
        // A failing commit fails its requests, and the writer goes on.
        assert!(writer.store(vec![event("poison")], 0).await.unwrap_err().contains("refused"));
        writer.store(vec![event("ok")], 0).await.unwrap();
    }
}
