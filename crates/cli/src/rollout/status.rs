//! `burn-edge rollout status`: the collector's view of a model's rollout as a table: per arm
//! users, predictions, p50/p95 latency, error and fallback rates, drift, and each metric
//! against the control (the guard's test at this look); the split check; shadow agreement;
//! interleave preference; hot swaps; the last guard/CLI decisions.

use serde_json::Value;

fn num(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
        Some(x) => format!("{x:.2}"),
        None => "-".into(),
    }
}

fn pct(v: &Value) -> String {
    v.as_f64().map_or("-".into(), |x| format!("{:.2}%", x * 100.0))
}

/// One row of the arms table.
fn row(entry: &Value) -> Vec<String> {
    let name = entry["arm"].as_str().map(str::to_string).unwrap_or_else(|| "control".into());
    let vs = entry["vsControl"].as_object().map(|metrics| {
        metrics
            .iter()
            .filter_map(|(metric, m)| {
                let diff = m["diff"].as_f64()?;
                let p = m["pValue"].as_f64()?;
                let flag = if m["significant"].as_bool() == Some(true) { " WORSE" } else { "" };
                Some(format!("{metric} {:+.2}pp p={p:.3}{flag}", diff * 100.0))
            })
            .collect::<Vec<_>>()
            .join(", ")
    });
    vec![
        name,
        entry["version"].as_str().unwrap_or("-").into(),
        num(&entry["users"]),
        num(&entry["predictions"]),
        num(&entry["p50Ms"]),
        num(&entry["p95Ms"]),
        pct(&entry["errorRate"]),
        pct(&entry["fallbackRate"]),
        entry["drift"]["psi"].as_f64().map_or("-".into(), |p| format!("{p:.3} {}", entry["drift"]["level"].as_str().unwrap_or(""))),
        vs.filter(|s| !s.is_empty()).unwrap_or_else(|| match (entry["control"].as_bool(), entry["verdict"]["decision"].as_str()) {
            (Some(true), _) => "(control)".into(),
            (_, Some("notEnoughData")) => "not enough data yet".into(),
            _ => "-".into(),
        }),
    ]
}

/// Columns padded to their widest cell.
fn table(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows[0].len()).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    rows.iter()
        .map(|r| r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The report as text, for people.
pub fn render(report: &Value) -> String {
    let mut out = Vec::new();
    let model = report["model"].as_str().unwrap_or("?");
    let Some(rule) = report["rule"].as_str() else {
        return format!("{model}: no rollout rule in the channel and none seen in the telemetry");
    };
    let spec = report["channel"]["rollout"]["rules"].as_array().and_then(|r| r.iter().find(|r| r["key"].as_str() == Some(rule)));
    let what = spec.map_or("no longer in the channel".to_string(), |s| {
        format!("{}, alias {}, coverage {}", s["kind"].as_str().unwrap_or("?"), s["alias"].as_str().unwrap_or("?"), num(&s["coverage"]))
    });
    out.push(format!(
        "{model}: rule {rule} ({what}){}",
        if report["channel"]["rollout"]["kill"].as_bool() == Some(true) { " — KILL SWITCH ON" } else { "" }
    ));
    let mut rows = vec![["arm", "version", "users", "predictions", "p50 ms", "p95 ms", "errors", "fallbacks", "drift (PSI)", "vs control"]
        .map(String::from)
        .to_vec()];
    if let Some(c) = report["controls"].get(rule) {
        rows.push(row(c));
    }
    for arm in
        report["arms"].as_array().into_iter().flatten().filter(|a| a["rule"].as_str() == Some(rule) && a["control"].as_bool() != Some(true))
    {
        rows.push(row(arm));
    }
    out.push(table(&rows));
    let test = &report["srm"];
    if let Some(p) = test["pValue"].as_f64() {
        let verdict = if test["mismatch"].as_bool() == Some(true) { "MISMATCH: the split is broken" } else { "ok" };
        out.push(format!(
            "split: observed {} vs expected shares {}: chi-square {} p={p:.3} {verdict}",
            report["srm"]["observed"],
            report["srm"]["expectedShares"],
            num(&test["chiSquare"])
        ));
    } else if let Some(why) = test["skipped"].as_str() {
        out.push(format!("split: {why}"));
    }
    for s in report["shadow"].as_array().into_iter().flatten() {
        out.push(format!(
            "shadow {} (served) vs {}: {} pairs, top-1 agreement {}, p50 {} vs {} ms",
            s["champion"].as_str().unwrap_or("?"),
            s["challenger"].as_str().unwrap_or("?"),
            num(&s["pairs"]),
            pct(&s["agreement"]),
            num(&s["championP50Ms"]),
            num(&s["challengerP50Ms"])
        ));
    }
    for il in report["interleave"].as_array().into_iter().flatten() {
        let ci = il["ci95"].as_array().map(|c| format!(" [{}, {}]", pct(&c[0]), pct(&c[1]))).unwrap_or_default();
        out.push(format!(
            "interleave {}: second arm preferred {}{ci}, wins {}, ties {}",
            il["rule"].as_str().unwrap_or("?"),
            pct(&il["preferenceB"]),
            il["wins"],
            num(&il["ties"])
        ));
    }
    let swaps = &report["swaps"];
    if swaps["count"].as_u64().unwrap_or(0) > 0 {
        out.push(format!("hot swaps: {}, p50 {} ms, p95 {} ms", num(&swaps["count"]), num(&swaps["p50Ms"]), num(&swaps["p95Ms"])));
    }
    for entry in report["guard"].as_array().into_iter().flatten().rev().take(3) {
        out.push(format!(
            "log {} {} by {}: {}",
            entry["at"].as_str().unwrap_or("?"),
            entry["action"].as_str().unwrap_or("?"),
            entry["by"].as_str().unwrap_or("?"),
            entry["detail"].as_str().unwrap_or("")
        ));
    }
    out.join("\n")
}
