//! The telemetry vocabulary: OTLP/HTTP JSON log records whose `eventName` and attribute keys
//! are listed here once. The browser shell sends them, the collector reads them, and
//! `schemas/telemetry.events.json` (generated from this table) keeps the JS side in step.

use serde::Serialize;

/// OTLP `AnyValue` kind an attribute carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ValueKind {
    /// `stringValue`
    String,
    /// `intValue` (a 64-bit integer, as a JSON string or number)
    Int,
    /// `doubleValue`
    Double,
    /// `boolValue`
    Bool,
}

/// One attribute of an event.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct AttributeSpec {
    pub key: &'static str,
    pub kind: ValueKind,
    pub required: bool,
    /// Longest string value the collector accepts (bytes): ids and names are short, messages
    /// longer; the collector copies some of them into every row, so each is capped.
    /// Not in the generated JSON (the browser never sends anything near it).
    #[serde(skip)]
    pub max_len: usize,
}

/// Longest string value of an attribute that does not say otherwise.
pub const DEFAULT_MAX_LEN: usize = 256;
/// Longest free-text value (error messages, fallback reasons, user agents).
pub const TEXT_MAX_LEN: usize = 1024;
/// Longest id (`event.id`, `burn_edge.prediction_id`).
pub const ID_MAX_LEN: usize = 128;
/// Longest install id: the browser sends a UUID (36 characters).
pub const INSTALL_ID_MAX_LEN: usize = 64;

impl AttributeSpec {
    /// The same attribute with another string cap.
    const fn capped(self, max_len: usize) -> Self {
        AttributeSpec { max_len, ..self }
    }
}

/// One event type.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EventSpec {
    /// The log record's `eventName`.
    pub name: &'static str,
    pub attributes: &'static [AttributeSpec],
}

const fn req(key: &'static str, kind: ValueKind) -> AttributeSpec {
    AttributeSpec { key, kind, required: true, max_len: DEFAULT_MAX_LEN }
}
const fn opt(key: &'static str, kind: ValueKind) -> AttributeSpec {
    AttributeSpec { key, kind, required: false, max_len: DEFAULT_MAX_LEN }
}
use ValueKind::{Bool, Double, Int, String as Str};

/// Every record carries a unique id so retried batches never double count.
pub const EVENT_ID: &str = "event.id";
/// The resource attribute naming one browser install (copied into every stored event).
pub const INSTALL_ID: &str = "burn_edge.install_id";

/// On a shadow inference: the `burn_edge.prediction_id` of the served prediction it re-ran.
pub const SHADOW_OF: &str = "burn_edge.shadow.of";
/// `burn_edge.role` of a prediction made in the shadow (never shown); served ones say `served`.
pub const ROLE_SHADOW: &str = "shadow";

/// Where a prediction ran: [`ROUTE_EDGE`] (in the browser) or [`ROUTE_CLOUD`] (the server's
/// `/v1/predict`); events without it were made before routing existed and count as edge.
pub const ROUTE: &str = "burn_edge.route";
/// `burn_edge.route` of a prediction made in the browser.
pub const ROUTE_EDGE: &str = "edge";
/// `burn_edge.route` of a prediction the server answered.
pub const ROUTE_CLOUD: &str = "cloud";

/// Resource attributes of every batch (who sent it).
pub const RESOURCE_ATTRIBUTES: &[AttributeSpec] = &[
    req("service.name", Str),
    req("burn_edge.app", Str),
    req("burn_edge.runtime.version", Str),
    req(INSTALL_ID, Str).capped(INSTALL_ID_MAX_LEN),
    opt("user_agent.original", Str).capped(TEXT_MAX_LEN),
    opt("browser.platform", Str),
];

/// The events the browser shell sends.
pub const EVENTS: &[EventSpec] = &[
    EventSpec {
        name: "burn_edge.model.load",
        attributes: &[
            req(EVENT_ID, Str).capped(ID_MAX_LEN),
            req("burn_edge.model.name", Str),
            req("burn_edge.model.version", Str),
            req("burn_edge.backend", Str),
            opt("burn_edge.variant", Str),
            opt("burn_edge.role", Str),
            opt("burn_edge.alias", Str),
            opt("burn_edge.rollout.rule", Str),
            opt("burn_edge.rollout.arm", Str),
            opt("burn_edge.load.source", Str),
            opt("burn_edge.load.bytes", Int),
            opt("burn_edge.load.channel_ms", Double),
            opt("burn_edge.load.manifest_ms", Double),
            opt("burn_edge.load.download_ms", Double),
            opt("burn_edge.load.wasm_compile_ms", Double),
            opt("burn_edge.load.backend_init_ms", Double),
            opt("burn_edge.load.warmup_ms", Double),
            req("burn_edge.load.time_to_first_prediction_ms", Double),
            // Where predictions go (`edge` | `cloud`) when the model became ready, and the
            // backend chosen by measurement (`backend: 'auto'`): both timings, why, and whether
            // the choice was remembered from an earlier load on this device.
            opt(ROUTE, Str),
            opt("burn_edge.backend_choice.chosen", Str),
            opt("burn_edge.backend_choice.reason", Str).capped(TEXT_MAX_LEN),
            opt("burn_edge.backend_choice.cpu_ms", Double),
            opt("burn_edge.backend_choice.webgpu_ms", Double),
            opt("burn_edge.backend_choice.cached", Bool),
        ],
    },
    EventSpec {
        name: "burn_edge.inference",
        attributes: &[
            req(EVENT_ID, Str).capped(ID_MAX_LEN),
            req("burn_edge.model.name", Str),
            req("burn_edge.model.version", Str),
            req("burn_edge.backend", Str),
            opt("burn_edge.variant", Str),
            opt("burn_edge.role", Str),
            req("burn_edge.latency_ms", Double),
            req("burn_edge.batch_size", Int),
            req("burn_edge.predicted_class", Int),
            req("burn_edge.confidence", Double),
            opt("burn_edge.prediction_id", Str).capped(ID_MAX_LEN),
            opt("burn_edge.alias", Str),
            opt("burn_edge.rollout.rule", Str),
            opt("burn_edge.rollout.arm", Str),
            opt(SHADOW_OF, Str).capped(ID_MAX_LEN),
            opt(ROUTE, Str),
        ],
    },
    EventSpec {
        name: "burn_edge.backend.fallback",
        attributes: &[
            req(EVENT_ID, Str).capped(ID_MAX_LEN),
            opt("burn_edge.model.name", Str),
            opt("burn_edge.model.version", Str),
            req("burn_edge.fallback.from", Str),
            req("burn_edge.fallback.to", Str),
            req("burn_edge.fallback.reason", Str).capped(TEXT_MAX_LEN),
            opt("burn_edge.role", Str),
            opt("burn_edge.alias", Str),
            opt("burn_edge.rollout.rule", Str),
            opt("burn_edge.rollout.arm", Str),
        ],
    },
    EventSpec {
        name: "burn_edge.device.lost",
        attributes: &[
            req(EVENT_ID, Str).capped(ID_MAX_LEN),
            opt("burn_edge.model.name", Str),
            opt("burn_edge.model.version", Str),
            req("burn_edge.device_lost.reason", Str).capped(TEXT_MAX_LEN),
            // The backend inference moved to, and how many predictions in flight were re-run there.
            opt("burn_edge.device_lost.to", Str),
            opt("burn_edge.device_lost.replayed", Int),
        ],
    },
    EventSpec {
        name: "burn_edge.error",
        attributes: &[
            req(EVENT_ID, Str).capped(ID_MAX_LEN),
            opt("burn_edge.model.name", Str),
            opt("burn_edge.model.version", Str),
            req("error.type", Str),
            req("error.message", Str).capped(TEXT_MAX_LEN),
            opt("burn_edge.offline", Bool),
            opt("burn_edge.role", Str),
            opt("burn_edge.alias", Str),
            opt("burn_edge.rollout.rule", Str),
            opt("burn_edge.rollout.arm", Str),
        ],
    },
    EventSpec {
        name: "burn_edge.feedback",
        attributes: &[
            req(EVENT_ID, Str).capped(ID_MAX_LEN),
            req("burn_edge.prediction_id", Str).capped(ID_MAX_LEN),
            req("burn_edge.true_label", Int),
            opt("burn_edge.model.name", Str),
            opt("burn_edge.model.version", Str),
            opt("burn_edge.role", Str),
            opt("burn_edge.alias", Str),
            opt("burn_edge.rollout.rule", Str),
            opt("burn_edge.rollout.arm", Str),
        ],
    },
    // Rollout (channel schemaVersion 2): one exposure per new assignment (install x rule x
    // bucket version), every hot swap, every pick in an interleaved list.
    EventSpec {
        name: "burn_edge.exposure",
        attributes: &[
            req(EVENT_ID, Str).capped(ID_MAX_LEN),
            req("burn_edge.model.name", Str),
            req("burn_edge.model.version", Str),
            req("burn_edge.rollout.rule", Str),
            req("burn_edge.rollout.arm", Str),
            opt("burn_edge.alias", Str),
            opt("burn_edge.rollout.kind", Str),
            opt("burn_edge.rollout.bucket", Double),
            opt("burn_edge.rollout.bucket_version", Int),
        ],
    },
    EventSpec {
        name: "burn_edge.swap",
        attributes: &[
            req(EVENT_ID, Str).capped(ID_MAX_LEN),
            req("burn_edge.model.name", Str),
            req("burn_edge.swap.from", Str),
            req("burn_edge.swap.to", Str),
            req("burn_edge.swap.ms", Double),
            opt("burn_edge.swap.reason", Str).capped(TEXT_MAX_LEN),
            opt("burn_edge.rollout.rule", Str),
            opt("burn_edge.rollout.arm", Str),
        ],
    },
    EventSpec {
        name: "burn_edge.interleave",
        attributes: &[
            req(EVENT_ID, Str).capped(ID_MAX_LEN),
            req("burn_edge.model.name", Str),
            req("burn_edge.rollout.rule", Str),
            req("burn_edge.interleave.winner", Str),
            opt("burn_edge.prediction_id", Str).capped(ID_MAX_LEN),
        ],
    },
];

/// The spec of a resource attribute, if it is one of ours.
pub fn resource_attribute(key: &str) -> Option<&'static AttributeSpec> {
    RESOURCE_ATTRIBUTES.iter().find(|a| a.key == key)
}

/// The spec of an event name, if it is one of ours.
pub fn event_spec(name: &str) -> Option<&'static EventSpec> {
    EVENTS.iter().find(|e| e.name == name)
}

/// The vocabulary as pretty JSON, committed as `schemas/telemetry.events.json`.
pub fn telemetry_events_json() -> std::string::String {
    let doc = serde_json::json!({
        "about": "burn-edge telemetry: OTLP/HTTP JSON logs (POST /v1/logs); generated from crates/formats/src/telemetry.rs",
        "eventIdAttribute": EVENT_ID,
        "resourceAttributes": RESOURCE_ATTRIBUTES,
        "events": EVENTS,
    });
    serde_json::to_string_pretty(&doc).expect("serialises") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_has_a_unique_name_and_an_event_id() {
        let mut names: Vec<_> = EVENTS.iter().map(|e| e.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), EVENTS.len());
        for e in EVENTS {
            assert!(e.attributes.iter().any(|a| a.key == EVENT_ID && a.required), "{}", e.name);
        }
        assert!(event_spec("burn_edge.inference").is_some());
        assert!(event_spec("nope").is_none());
    }

    #[test]
    fn every_string_attribute_is_capped_and_ids_are_short() {
        for a in EVENTS.iter().flat_map(|e| e.attributes).chain(RESOURCE_ATTRIBUTES) {
            assert!((1..=TEXT_MAX_LEN).contains(&a.max_len), "{}", a.key);
        }
        assert_eq!(resource_attribute(INSTALL_ID).map(|a| a.max_len), Some(INSTALL_ID_MAX_LEN));
        let inference = event_spec("burn_edge.inference").unwrap();
        assert!(inference.attributes.iter().filter(|a| a.key.ends_with("id")).all(|a| a.max_len == ID_MAX_LEN));
    }

    #[test]
    fn rollout_attributes_and_events_are_in_the_vocabulary() {
        let has = |event: &str, key: &str, required: bool| {
            event_spec(event).is_some_and(|e| e.attributes.iter().any(|a| a.key == key && a.required == required))
        };
        for event in ["burn_edge.model.load", "burn_edge.inference", "burn_edge.error", "burn_edge.backend.fallback", "burn_edge.feedback"]
        {
            for key in ["burn_edge.alias", "burn_edge.role", "burn_edge.rollout.rule", "burn_edge.rollout.arm"] {
                assert!(has(event, key, false), "{event} {key}");
            }
        }
        assert!(has("burn_edge.inference", SHADOW_OF, false));
        let shadow_of = event_spec("burn_edge.inference").unwrap().attributes.iter().find(|a| a.key == SHADOW_OF).unwrap();
        assert_eq!(shadow_of.max_len, ID_MAX_LEN);
        for key in ["burn_edge.model.name", "burn_edge.model.version", "burn_edge.rollout.rule", "burn_edge.rollout.arm"] {
            assert!(has("burn_edge.exposure", key, true), "{key}");
        }
        for key in ["burn_edge.swap.from", "burn_edge.swap.to", "burn_edge.swap.ms"] {
            assert!(has("burn_edge.swap", key, true), "{key}");
        }
        assert!(has("burn_edge.interleave", "burn_edge.interleave.winner", true));
        assert!(has("burn_edge.interleave", "burn_edge.prediction_id", false));
        // The weights variant and the rollout arm never share a key.
        assert!(!has("burn_edge.exposure", "burn_edge.variant", false));
    }

    #[test]
    fn route_backend_choice_and_device_loss_are_in_the_vocabulary() {
        let has = |event: &str, key: &str| event_spec(event).is_some_and(|e| e.attributes.iter().any(|a| a.key == key && !a.required));
        assert!(has("burn_edge.inference", ROUTE));
        assert!(has("burn_edge.model.load", ROUTE));
        for key in ["chosen", "reason", "cpu_ms", "webgpu_ms", "cached"] {
            assert!(has("burn_edge.model.load", &format!("burn_edge.backend_choice.{key}")), "{key}");
        }
        assert!(has("burn_edge.device.lost", "burn_edge.device_lost.replayed"));
        assert!(has("burn_edge.device.lost", "burn_edge.device_lost.to"));
        assert_ne!(ROUTE_EDGE, ROUTE_CLOUD);
    }

    #[test]
    fn committed_vocabulary_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/telemetry.events.json");
        if std::env::var_os("BLESS").is_some() {
            std::fs::write(path, telemetry_events_json()).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(committed == telemetry_events_json(), "{path} is stale: run `BLESS=1 cargo test -p burn-edge-formats`");
    }
}
