//! A real Prometheus server (built by `scripts/rig-install`) on loopback, scraping the given targets every
//! second into its own temp dir, and its HTTP API: instant and range queries and label values, as plain
//! HTTP/1.0 GETs (one connection each, no chunked bodies).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{free_port, rig_bin, wait_until, Proc};

/// Fields drop in order: the server stops before its dir goes.
pub struct Prometheus {
    pub port: u16,
    _proc: Proc,
    dir: tempfile::TempDir,
}

/// One series of an instant query's answer (a scalar answer is one series without labels).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// One series of a range query's answer: (Unix seconds, value) pairs.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub points: Vec<(f64, f64)>,
}

/// A scrape job: its name (the `job` label the alert rules match) and a loopback `host:port` serving /metrics.
pub struct Scrape<'a> {
    pub job: &'a str,
    pub target: String,
}

fn config(scrapes: &[Scrape<'_>]) -> String {
    let mut text =
        String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n");
    for s in scrapes {
        text.push_str(&format!(
            "  - job_name: {}\n    metrics_path: /metrics\n    static_configs:\n      - targets: [\"{}\"]\n",
            s.job, s.target
        ));
    }
    text
}

impl Prometheus {
    /// Starts Prometheus scraping `scrapes` every second and waits until it is ready.
    pub fn start(scrapes: &[Scrape<'_>]) -> Prometheus {
        let dir = tempfile::Builder::new()
            .prefix("etcdbak-prometheus-")
            .tempdir()
            .expect("temp dir");
        let cfg = dir.path().join("prometheus.yml");
        std::fs::write(&cfg, config(scrapes)).expect("writing prometheus.yml");
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("prometheus log");
        let port = free_port();
        let proc = Proc::spawn(
            "prometheus",
            Command::new(rig_bin("prometheus"))
                .arg(format!("--config.file={}", cfg.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--log.level=warn")
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log),
        );
        let p = Prometheus {
            port,
            _proc: proc,
            dir,
        };
        wait_until("prometheus", Duration::from_secs(60), || {
            p.get("/-/ready").is_some_and(|(s, _)| s == 200)
        });
        p
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// GET `target` (path and query), returning (status, body).
    fn get(&self, target: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        write!(s, "GET {target} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).ok()?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let (head, body) = text.split_once("\r\n\r\n")?;
        let status = head.split_whitespace().nth(1)?.parse().ok()?;
        Some((status, body.to_string()))
    }

    /// The `data` of a successful API answer; a failed one fails the test with Prometheus' error.
    fn api(&self, target: &str, what: &str) -> serde_json::Value {
        let (status, body) = self
            .get(target)
            .unwrap_or_else(|| panic!("no answer from prometheus for {what}\n{}", self.log()));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| {
            panic!("prometheus answered {status} for {what}, not JSON ({e}): {body}")
        });
        assert!(
            status == 200 && v["status"] == "success",
            "prometheus rejected {what}: {} {}",
            v["errorType"],
            v["error"]
        );
        v["data"].clone()
    }

    /// `expr` evaluated at `at` (Unix seconds) through `/api/v1/query`.
    pub fn query(&self, expr: &str, at: f64) -> Vec<Sample> {
        let data = self.api(
            &format!("/api/v1/query?query={}&time={at:.3}", encode(expr)),
            expr,
        );
        match data["resultType"].as_str() {
            Some("vector") => data["result"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| Sample {
                    labels: labels(&r["metric"]),
                    value: number(&r["value"][1]),
                })
                .collect(),
            Some("scalar") => vec![Sample {
                labels: BTreeMap::new(),
                value: number(&data["result"][1]),
            }],
            other => panic!("{expr}: a {other:?} answer, not an instant vector"),
        }
    }

    /// `expr` from `start` to `end` every `step` seconds through `/api/v1/query_range`.
    pub fn query_range(&self, expr: &str, start: f64, end: f64, step: f64) -> Vec<Series> {
        let data = self.api(
            &format!(
                "/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step={step}",
                encode(expr)
            ),
            expr,
        );
        data["result"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| Series {
                labels: labels(&r["metric"]),
                points: r["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| (p[0].as_f64().unwrap_or(f64::NAN), number(&p[1])))
                    .collect(),
            })
            .collect()
    }

    /// The values of `label` on the series `series` selects (what Grafana's `label_values()` asks for).
    pub fn label_values(&self, label: &str, series: &str) -> Vec<String> {
        let data = self.api(
            &format!(
                "/api/v1/label/{label}/values?match%5B%5D={}",
                encode(series)
            ),
            &format!("label_values({series}, {label})"),
        );
        data.as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }

    /// The `up` value of every target, by job.
    pub fn up(&self, at: f64) -> BTreeMap<String, f64> {
        self.query("up", at)
            .into_iter()
            .map(|s| (s.labels.get("job").cloned().unwrap_or_default(), s.value))
            .collect()
    }
}

fn labels(metric: &serde_json::Value) -> BTreeMap<String, String> {
    metric
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

/// Prometheus sends sample values as strings ("1", "NaN", "+Inf").
fn number(v: &serde_json::Value) -> f64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN)
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
