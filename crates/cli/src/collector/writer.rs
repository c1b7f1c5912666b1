//! Group commit: one writer thread stores the batches of every ingest request waiting at that
//! moment in a single store call (one SQLite transaction, one ClickHouse INSERT), then answers
//! each request. Under load that turns hundreds of small commits into a few large ones; an
//! idle collector still stores a lone batch at once. A failed store call fails every batch in
//! it, so nothing is acknowledged that was not stored.
//!
//! The queue is bounded: when it is full a request is refused at once (`Busy`, answered 503
//! with `Retry-After`) instead of holding its events in memory. A store call that panics fails
//! its batches and the thread goes on with the next ones.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::Arc;

use tokio::sync::oneshot;

use super::events::Event;
use super::store::{EventStore, StoreError};

/// Most events stored by one call.
const MAX_EVENTS_PER_COMMIT: usize = 20_000;

/// Where the writer puts batches: the insert half of an `EventStore`.
pub trait Sink: Send + Sync {
    fn insert(&self, events: &[Event], received_unix_ms: i64) -> Result<(), StoreError>;
}

/// An `EventStore` as a `Sink`.
pub struct StoreSink(pub Arc<dyn EventStore>);

impl Sink for StoreSink {
    fn insert(&self, events: &[Event], received_unix_ms: i64) -> Result<(), StoreError> {
        self.0.insert(events, received_unix_ms)
    }
}

/// Why a batch was not stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WriteError {
    /// The queue is full: try again shortly.
    #[error("the telemetry writer is busy ({0} batches queued)")]
    Busy(usize),
    #[error("{0}")]
    Failed(String),
}

struct Job {
    events: Vec<Event>,
    received_unix_ms: i64,
    done: oneshot::Sender<Result<(), String>>,
}

/// Handle to the writer thread.
pub struct Writer {
    jobs: mpsc::SyncSender<Job>,
    capacity: usize,
}

impl Writer {
    /// Starts the writer thread for `sink` with room for `capacity` waiting batches; it ends
    /// when the last handle is dropped.
    pub fn spawn(sink: Arc<dyn Sink>, capacity: usize) -> Writer {
        let capacity = capacity.max(1);
        let (jobs, queue) = mpsc::sync_channel::<Job>(capacity);
        std::thread::Builder::new()
            .name("telemetry-writer".into())
            .spawn(move || run(sink.as_ref(), &queue))
            .expect("spawning the telemetry writer thread");
        Writer { jobs, capacity }
    }

    /// Stores `events`; resolves once they are committed, with `Busy` at once when the queue
    /// is full, or with the store's error.
    pub async fn store(&self, events: Vec<Event>, received_unix_ms: i64) -> Result<(), WriteError> {
        let stopped = || WriteError::Failed("the telemetry writer stopped".into());
        let (done, result) = oneshot::channel();
        self.jobs.try_send(Job { events, received_unix_ms, done }).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => WriteError::Busy(self.capacity),
            mpsc::TrySendError::Disconnected(_) => stopped(),
        })?;
        result.await.map_err(|_| stopped())?.map_err(WriteError::Failed)
    }
}

/// One store call; a panic in it is that batch's failure, not the writer's end.
fn insert(sink: &dyn Sink, events: &[Event], received_unix_ms: i64) -> Result<(), String> {
    match catch_unwind(AssertUnwindSafe(|| sink.insert(events, received_unix_ms))) {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            eprintln!("telemetry writer: the event store panicked on a batch of {} events: {message}", events.len());
            Err(format!("the event store failed on this batch (panic: {message})"))
        }
    }
}

fn run(sink: &dyn Sink, queue: &mpsc::Receiver<Job>) {
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
        let result = insert(sink, &events, received_unix_ms);
        for done in waiting {
            // A request that gave up waiting is no error of ours.
            let _ = done.send(result.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::store::{Aggregates, Limits, RolloutAggregates, RolloutLimits, StoreError};
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
        fn rollout(&self, _: &str, _: &RolloutLimits) -> Result<RolloutAggregates, StoreError> {
            Ok(RolloutAggregates::default())
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
            route: None,
            rollout: Default::default(),
            attributes_json: "{}".into(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_batches_share_commits_and_failures() {
        let recorder = Arc::new(Recorder::default());
        let writer = Arc::new(Writer::spawn(Arc::new(StoreSink(recorder.clone())), 1024));
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
        assert!(writer.store(vec![event("poison")], 0).await.unwrap_err().to_string().contains("refused"));
        writer.store(vec![event("ok")], 0).await.unwrap();
    }

    /// Blocks every insert until the test lets it go; panics on a batch holding "panic".
    struct Gate {
        open: Mutex<bool>,
        opened: std::sync::Condvar,
        stored: Mutex<Vec<String>>,
    }

    impl Gate {
        fn new(open: bool) -> Arc<Gate> {
            Arc::new(Gate { open: Mutex::new(open), opened: std::sync::Condvar::new(), stored: Mutex::new(Vec::new()) })
        }
        fn open(&self) {
            *self.open.lock().unwrap() = true;
            self.opened.notify_all();
        }
    }

    impl Sink for Gate {
        fn insert(&self, events: &[Event], _: i64) -> Result<(), StoreError> {
            let mut open = self.open.lock().unwrap();
            while !*open {
                open = self.opened.wait(open).unwrap();
            }
            drop(open);
            if events.iter().any(|e| e.event_id == "panic") {
                panic!("store bug");
            }
            self.stored.lock().unwrap().extend(events.iter().map(|e| e.event_id.clone()));
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once_and_loses_nothing_acknowledged() {
        let gate = Gate::new(false);
        let writer = Arc::new(Writer::spawn(gate.clone(), 4));
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let w = writer.clone();
                tokio::spawn(async move { (i, w.store(vec![event(&format!("e{i}"))], 0).await) })
            })
            .collect();
        // Every task queues or is refused while the store is stuck: wait until all but the most
        // that can be waiting (the queue, twice, and the first) are answered, not a fixed time
        // (on a busy machine the tasks run late).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while tasks.iter().filter(|t| t.is_finished()).count() < 40 - 9 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        gate.open();
        let mut acknowledged = Vec::new();
        let mut busy = 0;
        for t in tasks {
            match t.await.unwrap() {
                (i, Ok(())) => acknowledged.push(format!("e{i}")),
                (_, Err(WriteError::Busy(4))) => busy += 1,
                (_, Err(e)) => panic!("unexpected {e}"),
            }
        }
        // At most the queue, twice (the stuck commit took what was queued), and the first.
        assert!(acknowledged.len() <= 9 && !acknowledged.is_empty(), "{acknowledged:?}");
        assert_eq!(busy + acknowledged.len(), 40);
        let stored = gate.stored.lock().unwrap().clone();
        for id in &acknowledged {
            assert!(stored.contains(id), "{id} acknowledged but not stored: {stored:?}");
        }
        // Room again once the store caught up.
        writer.store(vec![event("later")], 0).await.unwrap();
    }

    #[tokio::test]
    async fn a_panicking_store_call_fails_its_batch_and_the_writer_goes_on() {
        let gate = Gate::new(true);
        let writer = Writer::spawn(gate.clone(), 8);
        let err = writer.store(vec![event("panic")], 0).await.unwrap_err();
        assert!(matches!(&err, WriteError::Failed(m) if m.contains("store bug")), "{err}");
        writer.store(vec![event("after")], 0).await.unwrap();
        assert_eq!(*gate.stored.lock().unwrap(), vec!["after".to_string()]);
    }
}
