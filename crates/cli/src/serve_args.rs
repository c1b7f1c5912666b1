//! `burn-edge serve`'s options, and the settings they make: the demo defaults (`demo-key`,
//! `demo-read-key`, loopback origins) hold only on a loopback address; anywhere else the keys
//! must be given.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::collector::{self, App, CollectorConfig, Origin, OriginPolicy, RateConfig, DEMO_INGEST_KEY, DEMO_READ_KEY};
use crate::page_policy::PagePolicy;
use crate::predict_api::{self, PredictConfig};
use crate::serve::ServeOptions;
use crate::server::ConnLimits;

const ORIGIN_HELP: &str = "\
Origin allowed to send telemetry (repeatable): an exact origin (scheme://host[:port]), `*` for any \
browser origin, or `none` to accept requests without an Origin header (non-browser clients: \
OpenTelemetry exporters, scripts). Origins are parsed and compared exactly. Without this option \
the rule is the local default: loopback origins (localhost, 127.0.0.0/8, [::1], any port) and \
requests without Origin; with it, only what is listed, so a request without Origin is refused \
unless `none` is listed.";

/// Serve the demo page (www/), the wasm builds (pkg/), models/ and the telemetry collector.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. On a non-loopback address --ingest-key and --read-key are required.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Project folder holding www/, pkg/ and models/.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Folder of the published models, served at /models/ and read by the collector (drift
    /// references, channel files, rollout logs). Default: ROOT/models.
    #[arg(long, value_name = "DIR")]
    models: Option<PathBuf>,
    /// SQLite file the telemetry collector stores events in.
    #[arg(long, default_value = ".burn-edge/telemetry.sqlite")]
    telemetry_db: PathBuf,
    /// Store telemetry in ClickHouse instead of SQLite: its HTTP URL, with any settings as
    /// query parameters (e.g. http://127.0.0.1:8123/?database=telemetry&user=u&password=p).
    #[arg(long, value_name = "URL")]
    clickhouse: Option<String>,
    /// With --clickhouse: seconds a computed accuracy is reused while events keep arriving
    /// (the summary shows its age; recomputing joins every feedback event). 0: always current.
    #[arg(long, value_name = "SECS", default_value_t = collector::clickhouse::ACCURACY_REFRESH.as_secs_f64(), value_parser = parse_secs_or_0, requires = "clickhouse")]
    clickhouse_accuracy_every: f64,
    /// An app allowed to send telemetry, as NAME=KEY (repeatable). Default on loopback only:
    /// demo=demo-key.
    #[arg(long = "ingest-key", value_parser = parse_ingest_key)]
    ingest_keys: Vec<(String, String)>,
    /// Key that reads GET /api/telemetry/summary (header x-burn-edge-read-key or
    /// Authorization: Bearer). Default on loopback only: demo-read-key.
    #[arg(long)]
    read_key: Option<String>,
    #[arg(long = "allow-origin", value_name = "ORIGIN", help = ORIGIN_HELP)]
    allow_origins: Vec<String>,
    /// The dashboard's origin when it is served from another origin: the summary answers CORS
    /// for it alone (default: no CORS on the summary).
    #[arg(long, value_name = "ORIGIN", value_parser = parse_origin)]
    dashboard_origin: Option<Origin>,
    /// An origin the pages may fetch from besides this server (repeatable): a model CDN, a
    /// collector or a prediction server elsewhere, as scheme://host[:port] (port may be *).
    /// Added to the Content-Security-Policy's connect-src, which is otherwise 'self'.
    #[arg(long = "connect-src", value_name = "ORIGIN")]
    connect_src: Vec<String>,
    /// Largest telemetry body accepted, after decompression, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    max_body_bytes: usize,
    /// Telemetry requests per second allowed per client address and app (bursts of twice that).
    #[arg(long, default_value_t = 200.0)]
    rate_limit: f64,
    /// Telemetry requests per second allowed per app over all its clients (bursts of twice
    /// that). Default: 10 x --rate-limit.
    #[arg(long)]
    app_rate_limit: Option<f64>,
    /// Ingest batches that may wait for the store; beyond that requests get 503 + Retry-After.
    #[arg(long, default_value_t = 256)]
    queue_batches: usize,
    /// Seconds for a request's headers to arrive (also the keep-alive idle timeout).
    #[arg(long, default_value_t = 10.0, value_parser = parse_secs)]
    header_timeout: f64,
    /// Seconds for a telemetry body to arrive in full (then 408).
    #[arg(long, default_value_t = 10.0, value_parser = parse_secs)]
    body_timeout: f64,
    /// Seconds for any request to be answered (then 503).
    #[arg(long, default_value_t = 30.0, value_parser = parse_secs)]
    request_timeout: f64,
    /// Most connections open at once; over it a connection gets 503 + Retry-After at once.
    #[arg(long, default_value_t = 512)]
    max_connections: usize,
    /// Most examples in one POST /v1/predict request (then 413).
    #[arg(long, default_value_t = burn_edge_formats::predict::DEFAULT_MAX_BATCH)]
    predict_max_batch: usize,
    /// Largest POST /v1/predict body accepted, in bytes (then 413).
    #[arg(long, default_value_t = 64 << 20)]
    predict_max_body_bytes: usize,
    /// Inferences run at once by POST /v1/predict (default: the machine's cores).
    #[arg(long)]
    predict_workers: Option<usize>,
    /// Model versions POST /v1/predict keeps loaded (least recently used dropped first).
    #[arg(long, default_value_t = 4)]
    predict_cached_models: usize,
    /// Delete telemetry events timed more than DAYS days ago (counted from the start of the
    /// UTC day; SQLite rebuilds its rollups, ClickHouse runs a DELETE mutation). Default: keep all.
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=36_500))]
    retention_days: Option<u32>,
    /// Seconds between retention passes (a pass with nothing to delete is one cheap query).
    #[arg(long, default_value_t = 3600.0, value_parser = parse_secs, requires = "retention_days")]
    retention_interval: f64,
}

fn parse_ingest_key(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, key)) if !name.is_empty() && !key.is_empty() => Ok((name.into(), key.into())),
        _ => Err(format!("{s:?} is not NAME=KEY")),
    }
}

fn parse_origin(s: &str) -> Result<Origin, String> {
    Origin::parse(s).map_err(|e| e.to_string())
}

fn parse_secs_or_0(s: &str) -> Result<f64, String> {
    if s.parse::<f64>() == Ok(0.0) {
        return Ok(0.0);
    }
    parse_secs(s).map_err(|_| format!("{s:?} is not a number of seconds in [0, 86400]"))
}

fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds in (0, 86400]")),
    }
}

/// The collector settings and the dashboard key to print, or why these options may not run.
fn settings(args: &ServeArgs) -> Result<(CollectorConfig, Option<String>)> {
    let loopback = args.addr.ip().is_loopback();
    if !loopback {
        let demo_key = args.ingest_keys.iter().any(|(_, k)| k == DEMO_INGEST_KEY);
        if args.ingest_keys.is_empty() || args.read_key.is_none() || demo_key || args.read_key.as_deref() == Some(DEMO_READ_KEY) {
            bail!(
                "{} is not a loopback address: the demo keys would let anyone send and read telemetry. \
                 Give your own --ingest-key NAME=KEY and --read-key KEY (not the demo ones), or listen on 127.0.0.1",
                args.addr
            );
        }
    }
    let origins = OriginPolicy::from_args(&args.allow_origins).context("--allow-origin")?;
    let mut config = CollectorConfig {
        max_body_bytes: args.max_body_bytes,
        body_timeout: Duration::from_secs_f64(args.body_timeout),
        queue_batches: args.queue_batches,
        dashboard_origin: args.dashboard_origin.clone(),
        ..Default::default()
    };
    let app_rate = args.app_rate_limit.unwrap_or(args.rate_limit * 10.0);
    config.rate = RateConfig {
        client_rate: args.rate_limit,
        client_burst: args.rate_limit * 2.0,
        app_rate,
        app_burst: app_rate * 2.0,
        ..config.rate
    };
    if !args.ingest_keys.is_empty() {
        config.apps = args
            .ingest_keys
            .iter()
            .map(|(name, key)| App { name: name.clone(), key: key.clone(), origins: OriginPolicy::default() })
            .collect();
    }
    config.apps.iter_mut().for_each(|a| a.origins = origins.clone());
    // Print the dashboard's key only when it is the demo's, which is no secret.
    let dashboard_key = match &args.read_key {
        Some(k) => {
            config.read_key = k.clone();
            None
        }
        None => Some(DEMO_READ_KEY.to_string()),
    };
    Ok((config, dashboard_key))
}

/// Runs `burn-edge serve` until interrupted.
pub fn run(args: ServeArgs) -> Result<()> {
    let (config, dashboard_key) = settings(&args)?;
    let policy = PagePolicy::new(&args.connect_src).context("--connect-src")?;
    let store: Arc<dyn collector::EventStore> = match &args.clickhouse {
        Some(url) => Arc::new(
            collector::ClickHouseStore::open_with(
                url,
                collector::clickhouse::MAX_RESULT_BYTES,
                Duration::from_secs_f64(args.clickhouse_accuracy_every),
            )
            .context("opening the ClickHouse telemetry store")?,
        ),
        None => {
            let db = if args.telemetry_db.is_absolute() { args.telemetry_db.clone() } else { args.root.join(&args.telemetry_db) };
            let store = collector::SqliteStore::open(&db).with_context(|| format!("opening telemetry store {}", db.display()))?;
            Arc::new(store)
        }
    };
    let models = args.models.clone().unwrap_or_else(|| args.root.join("models"));
    let defaults = PredictConfig::default();
    let predict = PredictConfig {
        max_batch: args.predict_max_batch.max(1),
        max_body_bytes: args.predict_max_body_bytes,
        workers: args.predict_workers.unwrap_or(defaults.workers).max(1),
        cached_models: args.predict_cached_models.max(1),
    };
    let routes = predict_api::routes(&config, predict, models.clone())
        .merge(collector::routes(config, store.clone(), models.clone()))
        .merge(crate::model_catalog::routes(models.clone()));
    let options = ServeOptions {
        connections: ConnLimits { header_timeout: Duration::from_secs_f64(args.header_timeout), max_connections: args.max_connections },
        request_timeout: Duration::from_secs_f64(args.request_timeout),
    };
    let retention =
        args.retention_days.map(|days| collector::Retention { days, interval: Duration::from_secs_f64(args.retention_interval) });
    tokio::runtime::Runtime::new()?.block_on(async {
        if let Some(retention) = retention {
            collector::retention::spawn(store.clone(), retention);
        }
        crate::serve::serve(&args.root, &models, args.addr, routes, options, policy, dashboard_key.as_deref()).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn settings_of(args: &[&str]) -> Result<(CollectorConfig, Option<String>)> {
        let cli = Cli::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))?;
        settings(&cli.serve)
    }

    #[test]
    fn demo_keys_only_on_loopback() {
        let (config, key) = settings_of(&[]).unwrap();
        assert_eq!((config.apps[0].key.as_str(), config.read_key.as_str()), (DEMO_INGEST_KEY, DEMO_READ_KEY));
        assert_eq!(key.as_deref(), Some(DEMO_READ_KEY));
        assert!(settings_of(&["--addr", "[::1]:0"]).is_ok());
        for refused in [
            &["--addr", "0.0.0.0:8080"][..],
            &["--addr", "192.168.1.5:8080", "--ingest-key", "web=s3cret"],
            &["--addr", "192.168.1.5:8080", "--read-key", "r34d"],
            &["--addr", "0.0.0.0:8080", "--ingest-key", "demo=demo-key", "--read-key", "r34d"],
            &["--addr", "0.0.0.0:8080", "--ingest-key", "web=s3cret", "--read-key", "demo-read-key"],
        ] {
            let err = settings_of(refused).unwrap_err().to_string();
            assert!(err.contains("not a loopback address") && err.contains("--read-key"), "{refused:?}: {err}");
        }
        let (config, key) = settings_of(&["--addr", "0.0.0.0:8080", "--ingest-key", "web=s3cret", "--read-key", "r34d"]).unwrap();
        assert_eq!((config.apps[0].name.as_str(), config.read_key.as_str(), key), ("web", "r34d", None));
    }

    #[test]
    fn origins_and_limits_from_options() {
        let (config, _) = settings_of(&["--allow-origin", "https://app.example", "--allow-origin", "none", "--rate-limit", "5"]).unwrap();
        let policy = &config.apps[0].origins;
        assert!(!policy.loopback && policy.without_origin && policy.allowed.len() == 1);
        assert_eq!((config.rate.client_rate, config.rate.client_burst, config.rate.app_rate), (5.0, 10.0, 50.0));
        assert!(settings_of(&["--allow-origin", "localhost:8080"]).is_err());
        assert!(settings_of(&["--header-timeout", "0"]).is_err());
    }
}
