//! `etcdbak watch` as a child process against the kube-apiserver rig: its log, its metrics endpoint, its
//! config laid out as a ConfigMap volume, and the signals that stop it.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::controller::JOB_NS;
use super::kube::rig;
use super::{etcdbak, free_port, Proc};

pub struct Watcher {
    pub proc: Proc,
    pub metrics: String,
    pub log: PathBuf,
}

/// `etcdbak watch` as a child process, electing over Lease `etcdbak-test` with a 4s duration (a killed
/// leader blocks the next test only briefly).
pub fn start_watch(config: &Path, identity: &str, log: &Path) -> Watcher {
    start_watch_with(
        config,
        identity,
        log,
        &["--lease-name", "etcdbak-test", "--lease-duration", "4s"],
    )
}

pub fn start_watch_with(config: &Path, identity: &str, log: &Path, extra: &[&str]) -> Watcher {
    let port = free_port();
    let file = std::fs::File::create(log).expect("creating the watch log");
    let proc = Proc::spawn(
        "etcdbak watch",
        etcdbak()
            .env("KUBECONFIG", &rig().kubeconfig)
            .env("ETCDBAK_LOG", "info,kube=warn,etcdbak=debug")
            .args(["watch", "--config"])
            .arg(config)
            .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
            .args(["--lease-namespace", JOB_NS, "--lease-holder", identity])
            .args(["--config-poll", "1s"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(file),
    );
    Watcher {
        proc,
        metrics: format!("http://127.0.0.1:{port}"),
        log: log.to_path_buf(),
    }
}

/// A plain HTTP GET of `url` (the metrics server speaks HTTP/1.1), returning status and body.
pub async fn http_get(url: &str) -> Option<(u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}")))?;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(host).await.ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.ok()?;
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Some((code, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

pub async fn leader_gauge(w: &Watcher) -> Option<u8> {
    metric(w, "etcdbak_leader").await.map(|v| v as u8)
}

/// The scrape of `w`'s /metrics, or None while it does not answer 200.
pub async fn scrape(w: &Watcher) -> Option<String> {
    let (code, body) = http_get(&format!("{}/metrics", w.metrics)).await?;
    (code == 200).then_some(body)
}

/// The value of the series `series` (name and labels, exactly as scraped) on `w`'s /metrics.
pub async fn metric(w: &Watcher, series: &str) -> Option<f64> {
    let body = scrape(w).await?;
    let prefix = format!("{series} ");
    body.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
}

/// How many reconciles `w` has finished, successful or not (0 while it does not answer).
pub async fn reconciles(w: &Watcher) -> f64 {
    let body = scrape(w).await.unwrap_or_default();
    ["success", "error"]
        .iter()
        .filter_map(|r| {
            let prefix = format!("etcdbak_reconcile_total{{result=\"{r}\"}} ");
            body.lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .and_then(|v| v.trim().parse::<f64>().ok())
        })
        .sum()
}

/// Waits up to `timeout` for the watch's log to contain `text`: the controller's own account that
/// something happened, so a test can then assert what did not.
pub async fn wait_for_log(w: &Watcher, text: &str, timeout: Duration) {
    let start = Instant::now();
    while !std::fs::read_to_string(&w.log)
        .unwrap_or_default()
        .contains(text)
    {
        assert!(
            start.elapsed() < timeout,
            "the watch did not log {text:?} within {timeout:?}\n{}",
            log_tail(&w.log)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits up to `timeout` for the watch process to exit, returning how.
pub async fn wait_for_exit(w: &mut Watcher, timeout: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        let child = w.proc.child.as_mut().expect("the watch was started");
        if let Some(status) = child.try_wait().expect("waiting for the watch") {
            return status;
        }
        assert!(
            start.elapsed() < timeout,
            "the watch is still running after {timeout:?}\n{}",
            log_tail(&w.log)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn sigterm(p: &Proc) {
    let pid = p.pid().expect("running");
    let ok = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("running kill")
        .success();
    assert!(ok);
}

pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Lays the config out as a ConfigMap volume does: `config.yaml -> ..data/config.yaml`, `..data` a symlink
/// to a timestamped dir. An update writes a new dir and swaps `..data` atomically.
pub fn configmap_volume_write(dir: &Path, generation: u32, text: &str) -> PathBuf {
    let data_dir = dir.join(format!("..2026_{generation}"));
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::write(data_dir.join("config.yaml"), text).unwrap();
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(data_dir.file_name().unwrap(), &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    let link = dir.join("config.yaml");
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink("..data/config.yaml", &link).unwrap();
    }
    link
}
