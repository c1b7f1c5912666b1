//! `GET /api/models`: the models this server publishes, for the demo app's model switcher.
//! A model is a folder under the served models whose name is a valid model name and whose
//! `channel.json` reads and validates as the loader would read it; anything else in the folder
//! (a half-written publish, a stray file) is left out. Read on every request, so a model
//! published while the server runs appears at once.

use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::collector::valid_model_name;
use crate::predict_api::read_channel;

/// One published model, as the page loads it.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ModelEntry {
    pub name: String,
    /// The channel's URL path on this server.
    pub channel: String,
    /// The channel's aliases, alias -> version.
    pub aliases: std::collections::BTreeMap<String, String>,
}

/// The answer: models sorted by name.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Catalog {
    pub models: Vec<ModelEntry>,
}

/// The models under `root`, sorted by name; an unreadable `root` lists none.
pub fn catalog(root: &Path) -> Catalog {
    let mut models: Vec<ModelEntry> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            if !valid_model_name(&name) || !entry.path().is_dir() {
                return None;
            }
            let channel = read_channel(&entry.path(), &name).ok()?;
            Some(ModelEntry { channel: format!("/models/{name}/channel.json"), aliases: channel.aliases, name })
        })
        .collect();
    models.sort_by(|a, b| a.name.cmp(&b.name));
    Catalog { models }
}

/// The route, over the models folder `root`.
pub fn routes(root: PathBuf) -> Router {
    Router::new().route("/api/models", get(list)).with_state(root)
}

async fn list(State(root): State<PathBuf>) -> Json<Catalog> {
    Json(tokio::task::spawn_blocking(move || catalog(&root)).await.unwrap_or(Catalog { models: Vec::new() }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    fn channel(version: &str) -> String {
        format!(
            r#"{{"schemaVersion":1,"name":"m","aliases":{{"stable":"{version}"}},"versions":["{version}"],"updatedAt":"2026-12-01T00:00:00Z"}}"#
        )
    }

    #[test]
    fn lists_folders_with_a_valid_channel_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (folder, text) in [("zeta", channel("1.0.0")), ("alpha", channel("2.1.0")), ("broken", "{not json".to_string())] {
            std::fs::create_dir(root.join(folder)).unwrap();
            std::fs::write(root.join(folder).join("channel.json"), text).unwrap();
        }
        std::fs::create_dir(root.join("no-channel")).unwrap();
        std::fs::create_dir(root.join(".hidden")).unwrap();
        std::fs::write(root.join(".hidden/channel.json"), channel("1.0.0")).unwrap();
        std::fs::write(root.join("file.json"), channel("1.0.0")).unwrap();
        // An alias to an unpublished version: the loader would refuse it, so it is not listed.
        std::fs::create_dir(root.join("dangling")).unwrap();
        std::fs::write(
            root.join("dangling/channel.json"),
            r#"{"schemaVersion":1,"name":"d","aliases":{"stable":"9.9.9"},"versions":["1.0.0"],"updatedAt":"2026-12-01T00:00:00Z"}"#,
        )
        .unwrap();
        let names: Vec<_> = catalog(root).models.into_iter().map(|m| (m.name, m.channel, m.aliases["stable"].clone())).collect();
        assert_eq!(
            names,
            [
                ("alpha".to_string(), "/models/alpha/channel.json".to_string(), "2.1.0".to_string()),
                ("zeta".to_string(), "/models/zeta/channel.json".to_string(), "1.0.0".to_string()),
            ]
        );
        assert_eq!(catalog(&root.join("missing")).models, []);
    }

    #[tokio::test]
    async fn serves_the_repository_models_as_json() {
        let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models"));
        let res = routes(root).oneshot(Request::get("/api/models").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let mnist = body["models"].as_array().unwrap().iter().find(|m| m["name"] == "mnist").expect("mnist is listed");
        assert_eq!(mnist["channel"], "/models/mnist/channel.json");
        assert_eq!(mnist["aliases"]["stable"], "1.0.0");
    }
}
