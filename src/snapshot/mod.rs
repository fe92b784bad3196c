//! `etcdbak snapshot`: pick a member, stream its snapshot to disk, verify, and publish it atomically.
//!
//! The pieces: [`select`] decides which member (pure), [`classify`] names what went wrong on the wire (pure),
//! [`write`] owns the files (`.part` while writing, final names only when complete), [`crate::bolt`] reads the
//! revision out of the finished file. This module wires them to etcd.

pub mod classify;
pub mod select;
pub mod write;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::Args;
use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};
use tracing::{info, warn};

use crate::backup::SnapshotMetadata;
use crate::exit::Class;
use crate::verify::VerifyError;
use crate::Result;
use classify::{Failure, FailureKind, TlsProblem};
use select::{Choice, MemberStatus, Probe, SelectError};
use write::Workspace;

// Paragraphs are single lines: clap wraps them to the terminal width.
const AFTER_HELP: &str = "\
Which member: every endpoint is asked for its status; the snapshot is streamed from a healthy follower with the highest applied index (keeping the load off the leader), or from the leader when no follower is healthy. A member is healthy when it answers, has a leader, is not a learner and has no alarm (NOSPACE, CORRUPT).

What lands in --dir: snapshot.db is what `etcdctl snapshot save` writes, etcd's SHA-256 trailer included, so `etcdutl snapshot restore` accepts it without --skip-hash-check; snapshot.json describes it (cluster, member, revision, sizes, sha256, time, versions). Both are written as .snapshot.db.part and .snapshot.json.part, fsynced and checked, and only then renamed, snapshot.json last: whoever sees snapshot.json sees a complete snapshot. A snapshot left in --dir by an earlier run is removed first, and a failed, timed-out or interrupted (Ctrl-C, SIGTERM) run leaves no file under a final name. Files are created with mode 0600: they hold every secret in the cluster.

Exit codes: 2 bad flags, 3 no endpoint reachable or no healthy member, 4 TLS failure (the message names the file to check), 5 corrupt snapshot stream, 1 anything else (disk errors name the path).

Examples:
  etcdbak snapshot --cluster prod --endpoints https://10.0.0.1:2379,https://10.0.0.2:2379 \\
      --cacert ca.crt --cert client.crt --key client.key --dir /backup
  ETCDBAK_ENDPOINTS=http://127.0.0.1:2379 CLUSTER=dev etcdbak snapshot --dir ./backup";

#[derive(Debug, Clone, Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct SnapshotArgs {
    /// etcd client URLs, comma-separated or repeated. Every one is asked for its status and the snapshot
    /// comes from one healthy member. A URL without a scheme gets https:// when --cacert is set, else
    /// http://.
    #[arg(
        long,
        env = "ETCDBAK_ENDPOINTS",
        value_delimiter = ',',
        required = true,
        value_name = "URL"
    )]
    pub endpoints: Vec<String>,
    /// CA certificate (PEM) that signed the etcd server certificates. Required for https:// endpoints.
    #[arg(long, env = "ETCDBAK_CACERT", value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Client certificate (PEM) for etcd's client-cert-auth. Needs --key.
    #[arg(long, env = "ETCDBAK_CERT", value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert. Its contents are never logged.
    #[arg(long, env = "ETCDBAK_KEY", value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// How long each endpoint gets to connect and answer its status (e.g. 5s, 1m).
    #[arg(long, env = "ETCDBAK_DIAL_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub dial_timeout: Duration,
    /// Limit for the whole run, streaming included. Generous on purpose: an 8 GiB database over a slow link
    /// takes many minutes, and a too-short limit only produces failed backups.
    #[arg(long, env = "ETCDBAK_TIMEOUT", default_value = "30m", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
    /// Directory to write snapshot.db and snapshot.json into (created if missing).
    #[arg(
        long,
        env = "ETCDBAK_DIR",
        default_value = "/backup",
        value_name = "DIR"
    )]
    pub dir: PathBuf,
    /// Name of the etcd cluster, recorded in snapshot.json (the store step files backups under it). Falls
    /// back to the CLUSTER environment variable (the store-container contract) when ETCDBAK_CLUSTER is unset.
    #[arg(long, env = "ETCDBAK_CLUSTER", value_name = "NAME")]
    pub cluster: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no cluster name: pass --cluster (or set ETCDBAK_CLUSTER or CLUSTER); backups are filed under it")]
    MissingCluster,
    #[error("invalid --cluster: {0}")]
    BadCluster(String),
    #[error("invalid --endpoints entry {endpoint:?}: {why}")]
    BadEndpoint { endpoint: String, why: String },
    #[error("no etcd endpoints given: pass --endpoints (or set ETCDBAK_ENDPOINTS)")]
    NoEndpoints,
    #[error("{0}")]
    TlsConfig(String),
    #[error("cannot use {flag} {}: {why}", path.display())]
    TlsFile {
        flag: &'static str,
        path: PathBuf,
        why: String,
    },
    #[error("cannot reach etcd at {report}: check --endpoints and that etcd is running there")]
    Unreachable { report: String },
    #[error("TLS with etcd at {endpoint} failed ({detail}): {hint}")]
    Tls {
        endpoint: String,
        detail: String,
        hint: String,
    },
    #[error("etcd at {endpoint} refused the request ({detail}): check that the client certificate's user may take snapshots")]
    Denied { endpoint: String, detail: String },
    #[error("no healthy etcd member to snapshot: {report}")]
    NoHealthyMember { report: String },
    #[error("the snapshot stream from {endpoint} broke after {received} of {total} bytes ({detail}); run again")]
    StreamBroken {
        endpoint: String,
        received: u64,
        total: String,
        detail: String,
        kind: FailureKind,
    },
    #[error("the snapshot stream from {endpoint} ended after {received} bytes, but etcd announced {expected} (truncated); run again")]
    Truncated {
        endpoint: String,
        received: u64,
        expected: u64,
    },
    #[error("the snapshot streamed from {endpoint} is corrupt: {source}")]
    Corrupt {
        endpoint: String,
        #[source]
        source: VerifyError,
    },
    #[error("cannot {action} {}: {source}", path.display())]
    Disk {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the snapshot did not finish within {after} (--timeout) while {phase}; raise --timeout for large databases or slow links")]
    Timeout { after: String, phase: String },
    #[error("interrupted by {signal} while {phase}; partial files were removed")]
    Interrupted { signal: &'static str, phase: String },
    #[error("etcd at {endpoint} failed the {call} call ({detail})")]
    Etcd {
        endpoint: String,
        call: &'static str,
        detail: String,
        kind: FailureKind,
    },
}

fn kind_exit(kind: &FailureKind) -> Class {
    match kind {
        FailureKind::Tls(_) | FailureKind::Denied => Class::Auth,
        _ => Class::EtcdUnavailable,
    }
}

impl Error {
    pub fn class(&self) -> Class {
        match self {
            Error::MissingCluster
            | Error::BadCluster(_)
            | Error::BadEndpoint { .. }
            | Error::NoEndpoints => Class::Usage,
            Error::TlsConfig(_)
            | Error::TlsFile { .. }
            | Error::Tls { .. }
            | Error::Denied { .. } => Class::Auth,
            Error::Unreachable { .. } | Error::NoHealthyMember { .. } => Class::EtcdUnavailable,
            Error::StreamBroken { kind, .. } | Error::Etcd { kind, .. } => kind_exit(kind),
            Error::Truncated { .. } | Error::Corrupt { .. } => Class::CorruptSnapshot,
            Error::Disk { .. } | Error::Timeout { .. } | Error::Interrupted { .. } => {
                Class::Failure
            }
        }
    }
}

/// Everything the run needs, resolved and checked before any network traffic.
struct Config {
    cluster: String,
    endpoints: Vec<String>,
    tls: Option<TlsOptions>,
    cacert: Option<PathBuf>,
    cert: Option<(PathBuf, PathBuf)>,
    dial_timeout: Duration,
    timeout: Duration,
    dir: PathBuf,
}

/// Resolves the cluster name: the flag/ETCDBAK_CLUSTER, else the seed contract's CLUSTER.
fn resolve_cluster(flag: Option<String>, plain_env: Option<String>) -> Result<String, Error> {
    let name = flag
        .filter(|s| !s.trim().is_empty())
        .or(plain_env.filter(|s| !s.trim().is_empty()))
        .ok_or(Error::MissingCluster)?;
    // It names the S3 prefix and, through the Cluster resource, a CronJob: the same rule as everywhere else.
    crate::backup::validate_cluster_name(&name).map_err(Error::BadCluster)?;
    Ok(name)
}

/// Checks `host:port` (`[v6]:port` too; the port may be left out): what a gRPC channel can dial.
fn check_authority(authority: &str) -> Result<(), String> {
    if authority.is_empty()
        || authority
            .chars()
            .any(|c| c.is_whitespace() || "/?#@".contains(c))
    {
        return Err("expected HOST:PORT after the scheme, e.g. https://10.0.0.1:2379".into());
    }
    let port = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((_, "")) => None,
            Some((_, rest)) => Some(rest.strip_prefix(':').ok_or("expected :PORT after ]")?),
            None => return Err("unclosed [ in an IPv6 address".into()),
        },
        None => match authority.rsplit_once(':') {
            Some(("", _)) => return Err("missing host".into()),
            Some((_, port)) => Some(port),
            None => None,
        },
    };
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(p) if p > 0 => {}
            _ => return Err(format!("{port:?} is not a port number (1-65535)")),
        }
    }
    Ok(())
}

/// Trims, drops empties and duplicates, adds a scheme where missing, and refuses scheme/TLS mismatches.
fn normalize_endpoints(raw: &[String], tls: bool) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::new();
    for e in raw.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        let bad = |why: &str| Error::BadEndpoint {
            endpoint: e.to_string(),
            why: why.to_string(),
        };
        let url = match e.split_once("://") {
            Some(("https", rest)) if !rest.is_empty() => {
                if !tls {
                    return Err(bad(
                        "https:// needs --cacert, the CA that signed etcd's server certificate",
                    ));
                }
                e.to_string()
            }
            Some(("http", rest)) if !rest.is_empty() => {
                if tls {
                    return Err(bad(
                        "plain http:// while --cacert is set; use https:// for a TLS endpoint",
                    ));
                }
                e.to_string()
            }
            Some((_, _)) => return Err(bad("use http://HOST:PORT or https://HOST:PORT")),
            None if tls => format!("https://{e}"),
            None => format!("http://{e}"),
        };
        let url = url.trim_end_matches('/').to_string();
        let authority = url.split_once("://").map_or("", |(_, a)| a);
        check_authority(authority).map_err(|why| bad(&why))?;
        if !out.contains(&url) {
            out.push(url);
        }
    }
    if out.is_empty() {
        return Err(Error::NoEndpoints);
    }
    Ok(out)
}

fn read_pem(flag: &'static str, path: &Path, marker: &str, what: &str) -> Result<Vec<u8>, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::TlsFile {
        flag,
        path: path.to_path_buf(),
        why: format!("cannot read it ({e})"),
    })?;
    // A marker check, not a parse: enough to catch a swapped or empty file with a clear message, and it
    // never echoes file contents (which may be a private key).
    if !String::from_utf8_lossy(&bytes).contains(marker) {
        return Err(Error::TlsFile {
            flag,
            path: path.to_path_buf(),
            why: format!("it does not hold a PEM {what}"),
        });
    }
    Ok(bytes)
}

impl Config {
    /// Checks the flags in the order they matter (where, how, what to call it), all before any traffic.
    fn from_args(args: SnapshotArgs) -> Result<Config, Error> {
        let cert = match (args.cert, args.key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(Error::TlsConfig(
                    "--cert needs --key, the private key of the client certificate".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(Error::TlsConfig(
                    "--key needs --cert, the client certificate it belongs to".into(),
                ))
            }
        };
        if cert.is_some() && args.cacert.is_none() {
            return Err(Error::TlsConfig(
                "--cert/--key need --cacert too (the CA that signed etcd's server certificate)"
                    .into(),
            ));
        }
        let tls = match &args.cacert {
            None => None,
            Some(ca) => {
                let ca_pem =
                    read_pem("--cacert", ca, "-----BEGIN CERTIFICATE-----", "certificate")?;
                let mut tls = TlsOptions::new().ca_certificate(Certificate::from_pem(ca_pem));
                if let Some((cert, key)) = &cert {
                    let cert_pem =
                        read_pem("--cert", cert, "-----BEGIN CERTIFICATE-----", "certificate")?;
                    let key_pem = read_pem("--key", key, "PRIVATE KEY-----", "private key")?;
                    tls = tls.identity(Identity::from_pem(cert_pem, key_pem));
                }
                Some(tls)
            }
        };
        let endpoints = normalize_endpoints(&args.endpoints, tls.is_some())?;
        let cluster = resolve_cluster(args.cluster, std::env::var("CLUSTER").ok())?;
        Ok(Config {
            cluster,
            endpoints,
            tls,
            cacert: args.cacert,
            cert,
            dial_timeout: args.dial_timeout,
            timeout: args.timeout,
            dir: args.dir,
        })
    }

    fn connect_options(&self) -> ConnectOptions {
        // HTTP/2 pings notice a member that vanished mid-stream long before --timeout would. 10 s stays
        // above etcd's --grpc-keepalive-min-time (5 s), and pings only while a call is open, because etcd
        // does not permit pings without a stream: too many of either and it closes the connection.
        let mut opts = ConnectOptions::new()
            .with_connect_timeout(self.dial_timeout)
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(20))
            .with_keep_alive_while_idle(false);
        if let Some(tls) = &self.tls {
            opts = opts.with_tls(tls.clone());
        }
        opts
    }

    /// The sentence that tells the user which file to fix for a TLS failure.
    fn tls_hint(&self, problem: TlsProblem, endpoint: &str) -> String {
        let cacert = self
            .cacert
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        match problem {
            TlsProblem::ServerCertUntrusted => format!(
                "check --cacert {cacert}: it must be the CA that signed etcd's server certificate"
            ),
            TlsProblem::ServerNameMismatch => format!(
                "etcd's server certificate does not name the host in {endpoint}: use a host or IP from its \
                 subject alternative names in --endpoints"
            ),
            TlsProblem::ClientCertRejected => match &self.cert {
                Some((cert, key)) => format!(
                    "check --cert {} and --key {}: etcd does not accept that client certificate (it must be \
                     signed by the CA in etcd's --trusted-ca-file)",
                    cert.display(),
                    key.display()
                ),
                None => "etcd rejected the connection: pass --cert and --key".into(),
            },
            TlsProblem::ClientCertRequired => {
                "etcd requires a client certificate: pass --cert and --key".into()
            }
            TlsProblem::NotTls => format!(
                "{endpoint} does not speak TLS: use http:// for it (and drop --cacert), or check the port"
            ),
            TlsProblem::Other => format!("check --cacert {cacert}, --cert and --key"),
        }
    }

    fn failure_error(&self, endpoint: &str, call: &'static str, f: Failure) -> Error {
        match f.kind {
            FailureKind::Tls(problem) => Error::Tls {
                endpoint: endpoint.to_string(),
                hint: self.tls_hint(problem, endpoint),
                detail: f.detail,
            },
            FailureKind::Denied => Error::Denied {
                endpoint: endpoint.to_string(),
                detail: f.detail,
            },
            FailureKind::Unreachable | FailureKind::Timeout => Error::Unreachable {
                report: format!("{endpoint} ({})", f.detail),
            },
            kind => Error::Etcd {
                endpoint: endpoint.to_string(),
                call,
                detail: f.detail,
                kind,
            },
        }
    }

    fn selection_error(&self, e: SelectError) -> Error {
        match e {
            SelectError::NoneAnswered(list) => {
                // A TLS failure is the one to report: the other endpoints likely fail the same way once
                // they are up, and "check --endpoints" would send the user the wrong way.
                if let Some((ep, f)) = list
                    .iter()
                    .find(|(_, f)| matches!(f.kind, FailureKind::Tls(_) | FailureKind::Denied))
                {
                    return self.failure_error(ep, "status", f.clone());
                }
                Error::Unreachable {
                    report: SelectError::NoneAnswered(list).to_string(),
                }
            }
            e @ SelectError::NoneHealthy(_) => Error::NoHealthyMember {
                report: e.to_string(),
            },
        }
    }
}

fn etcd_failure(e: &etcd_client::Error) -> Failure {
    let (code, links) = classify::links_of(e);
    let failure = classify::classify(code, &links);
    tracing::debug!(grpc_code = ?code, chain = ?links, kind = ?failure.kind, "etcd error");
    failure
}

async fn probe(endpoint: String, cfg: &Config) -> Probe {
    let dial = cfg.dial_timeout;
    let opts = cfg.connect_options();
    let ask = async {
        let mut client = Client::connect([endpoint.as_str()], Some(opts)).await?;
        client.status().await
    };
    let outcome = match tokio::time::timeout(dial, ask).await {
        Err(_) => Err(Failure::timeout(dial)),
        Ok(Err(e)) => Err(classify::after_handshake(
            etcd_failure(&e),
            cfg.tls.is_some(),
            cfg.cert.is_some(),
        )),
        Ok(Ok(s)) => Ok(MemberStatus {
            member_id: s.header().map(|h| h.member_id()).unwrap_or(0),
            leader_id: s.leader(),
            raft_applied_index: s.raft_applied_index(),
            revision: s.header().map(|h| h.revision()).unwrap_or(0),
            db_size: s.db_size(),
            version: s.version().to_string(),
            errors: s.errors().to_vec(),
            is_learner: s.is_learner(),
        }),
    };
    match &outcome {
        Ok(s) => info!(
            endpoint = %endpoint,
            member_id = %format!("{:x}", s.member_id),
            leader = s.is_leader(),
            applied_index = s.raft_applied_index,
            db_size = s.db_size,
            errors = ?s.errors,
            "endpoint status"
        ),
        Err(f) => warn!(endpoint = %endpoint, error = %f.detail, "endpoint did not answer"),
    }
    Probe { endpoint, outcome }
}

/// What the run is doing, for timeout and interruption messages.
struct Phase(Mutex<String>);

impl Phase {
    fn set(&self, what: impl Into<String>) {
        if let Ok(mut p) = self.0.lock() {
            *p = what.into();
        }
    }

    fn get(&self) -> String {
        self.0.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

async fn member_name(client: &mut Client, id: u64, dial: Duration) -> String {
    let fallback = format!("{id:x}");
    match tokio::time::timeout(dial, client.member_list()).await {
        Ok(Ok(list)) => list
            .members()
            .iter()
            .find(|m| m.id() == id)
            .map(|m| m.name().to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or(fallback),
        _ => fallback,
    }
}

/// Streams the chosen member's snapshot into the workspace's `.part` file and verifies it.
async fn stream_snapshot(
    cfg: &Config,
    ws: &Workspace,
    choice: &Choice,
    phase: &Phase,
) -> Result<SnapshotMetadata, Error> {
    let endpoint = choice.endpoint.as_str();
    let etcd_err =
        |call, e: etcd_client::Error| cfg.failure_error(endpoint, call, etcd_failure(&e));
    let mut client = Client::connect([endpoint], Some(cfg.connect_options()))
        .await
        .map_err(|e| etcd_err("connect", e))?;
    let member = member_name(&mut client, choice.status.member_id, cfg.dial_timeout).await;
    phase.set(format!("streaming the snapshot from {endpoint}"));
    let started = Instant::now();
    let mut stream = client
        .snapshot()
        .await
        .map_err(|e| etcd_err("snapshot", e))?;

    let file = ws.create_db_part()?;
    // 32 messages of 32 KiB in flight at most: memory stays flat whatever the database size.
    let (tx, rx) = tokio::sync::mpsc::channel::<write::Chunk>(32);
    let part = ws.db_part.clone();
    let writer = tokio::task::spawn_blocking(move || write::write_stream(file, &part, rx));

    let mut received: u64 = 0;
    let mut total: Option<u64> = None;
    let mut bar = None;
    let mut last_log = Instant::now();
    let trailer = crate::verify::TRAILER_LEN;
    let outcome: Result<(), Error> = loop {
        match stream.message().await {
            Ok(Some(mut resp)) => {
                // Moved out, not copied: the writer thread owns each 32 KiB blob from here on.
                let blob = std::mem::take(&mut resp.0.blob);
                let len = blob.len() as u64;
                let announced = *total.get_or_insert_with(|| {
                    let t = resp.remaining_bytes() + len;
                    bar = crate::logging::bytes_bar(Some(t + trailer), "snapshot");
                    info!(endpoint = %endpoint, member = %member, bytes = t, "streaming snapshot");
                    t
                });
                received += len;
                if received > announced + trailer {
                    break Err(Error::Truncated {
                        endpoint: endpoint.to_string(),
                        received,
                        expected: announced + trailer,
                    });
                }
                if tx.send(write::Chunk::Data(blob)).await.is_err() {
                    // The writer stopped (a disk error); its result below says why.
                    break Ok(());
                }
                if let Some(b) = &bar {
                    b.inc(len);
                } else if last_log.elapsed() >= Duration::from_secs(15) {
                    last_log = Instant::now();
                    info!(
                        bytes = received,
                        total = announced + trailer,
                        "snapshot progress"
                    );
                }
            }
            Ok(None) => {
                // If the writer already stopped, its own error is reported below.
                let _ = tx.send(write::Chunk::End).await;
                break Ok(());
            }
            Err(e) => {
                let f = etcd_failure(&e);
                break Err(Error::StreamBroken {
                    endpoint: endpoint.to_string(),
                    received,
                    total: total.map_or("?".into(), |t| (t + trailer).to_string()),
                    detail: f.detail,
                    kind: f.kind,
                });
            }
        }
    };
    drop(tx);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let written = writer.await.map_err(|e| Error::Disk {
        action: "write",
        path: ws.db_part.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    // A disk error explains a stopped stream better than anything else, so it wins.
    let verified = written?;
    outcome?;
    let verified = verified.ok_or_else(|| Error::Disk {
        action: "finish writing",
        path: ws.db_part.clone(),
        source: std::io::Error::other("the writer stopped before the end of the stream"),
    })?;
    let expected = total.unwrap_or(0) + trailer;
    if received != expected {
        return Err(Error::Truncated {
            endpoint: endpoint.to_string(),
            received,
            expected,
        });
    }
    let verified = verified.map_err(|source| Error::Corrupt {
        endpoint: endpoint.to_string(),
        source,
    })?;
    let taken_at = chrono::Utc::now();
    let elapsed = started.elapsed();

    phase.set("reading the revision from the snapshot");
    let revision = match crate::bolt::revision_of_file(&ws.db_part) {
        Ok(Some(rev)) => rev,
        other => {
            // Only a database layout this reader does not know ends up here; the status call's revision
            // is a close lower bound, and the snapshot itself is verified, so it is still a good backup.
            warn!(result = ?other.map_err(|e| e.to_string()), fallback = choice.status.revision,
                "cannot read the revision from the snapshot; using the member's status revision");
            choice.status.revision
        }
    };
    let meta = SnapshotMetadata {
        cluster: cfg.cluster.clone(),
        member: member.clone(),
        member_id: format!("{:x}", choice.status.member_id),
        endpoint: endpoint.to_string(),
        revision,
        // What the member announced at the start of the stream: its database size at snapshot time (the
        // status call's figure can lag behind the backend's last commit).
        db_size: total.unwrap_or(0),
        file_size: verified.file_size,
        sha256: verified.sha256.clone(),
        taken_at,
        etcd_version: choice.status.version.clone(),
        etcdbak_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let secs = elapsed.as_secs_f64();
    info!(
        endpoint = %endpoint,
        member = %member,
        bytes = verified.file_size,
        duration_ms = elapsed.as_millis() as u64,
        mib_per_sec = format!("{:.1}", verified.file_size as f64 / (1 << 20) as f64 / secs.max(1e-9)),
        revision,
        sha256 = %verified.sha256,
        "snapshot streamed and verified"
    );
    phase.set("writing snapshot.json");
    ws.write_metadata(&meta)?;
    Ok(meta)
}

async fn take(cfg: &Config, ws: &Workspace, phase: &Phase) -> Result<SnapshotMetadata, Error> {
    phase.set("asking the endpoints for their status");
    let probes =
        futures::future::join_all(cfg.endpoints.iter().map(|ep| probe(ep.clone(), cfg))).await;
    let choice = select::choose(&probes).map_err(|e| cfg.selection_error(e))?;
    info!(
        endpoint = %choice.endpoint,
        member_id = %format!("{:x}", choice.status.member_id),
        leader = choice.status.is_leader(),
        applied_index = choice.status.raft_applied_index,
        "chose member to snapshot"
    );
    stream_snapshot(cfg, ws, &choice, phase).await
}

pub async fn run(args: SnapshotArgs) -> Result<()> {
    // The directory is cleared before anything else can fail, so even a run that stops at a bad flag
    // leaves no earlier snapshot under a final name for a store step to pick up as new.
    let ws = Workspace::prepare(&args.dir)?;
    let cfg = Config::from_args(args)?;
    let phase = Phase(Mutex::new("starting".into()));
    let started = Instant::now();
    let result = tokio::select! {
        r = tokio::time::timeout(cfg.timeout, take(&cfg, &ws, &phase)) => match r {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout {
                after: humantime::format_duration(cfg.timeout).to_string(),
                phase: phase.get(),
            }),
        },
        signal = crate::shutdown::signal() => Err(Error::Interrupted { signal, phase: phase.get() }),
    };
    // On any error the workspace is dropped here, which removes the .part files.
    let meta = result?;
    ws.publish()?;
    info!(
        cluster = %meta.cluster,
        dir = %cfg.dir.display(),
        revision = meta.revision,
        bytes = meta.file_size,
        duration_ms = started.elapsed().as_millis() as u64,
        "snapshot saved"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn endpoints_are_normalized() {
        assert_eq!(
            normalize_endpoints(
                &s(&["10.0.0.1:2379", " https://b:2379/ ", "10.0.0.1:2379"]),
                true
            )
            .expect("ok"),
            s(&["https://10.0.0.1:2379", "https://b:2379"])
        );
        assert_eq!(
            normalize_endpoints(
                &s(&["127.0.0.1:2379", "", "etcd-0.etcd", "[::1]:2379"]),
                false
            )
            .expect("ok"),
            s(&[
                "http://127.0.0.1:2379",
                "http://etcd-0.etcd",
                "http://[::1]:2379"
            ])
        );
    }

    #[test]
    fn endpoint_mistakes_are_named() {
        let cases = [
            (s(&["https://a:2379"]), false, "needs --cacert"),
            (s(&["http://a:2379"]), true, "use https://"),
            (s(&["ftp://a"]), false, "http://HOST:PORT"),
            (s(&["", " "]), false, "no etcd endpoints"),
            (s(&["not a url"]), false, "HOST:PORT"),
            (s(&["http://127.0.0.1:99999"]), false, "not a port"),
            (s(&["http://:2379"]), false, "missing host"),
            (s(&["https://[::1"]), true, "unclosed"),
        ];
        for (eps, tls, want) in cases {
            let err = normalize_endpoints(&eps, tls)
                .expect_err("must fail")
                .to_string();
            assert!(err.contains(want), "{eps:?}: {err}");
        }
    }

    #[test]
    fn cluster_name_falls_back_to_plain_env() {
        assert_eq!(
            resolve_cluster(Some("a".into()), Some("b".into())).expect("ok"),
            "a"
        );
        assert_eq!(resolve_cluster(None, Some("b".into())).expect("ok"), "b");
        assert_eq!(
            resolve_cluster(Some("".into()), Some("b".into())).expect("ok"),
            "b"
        );
        assert!(matches!(
            resolve_cluster(None, None),
            Err(Error::MissingCluster)
        ));
        for bad in ["a/b", "Not_A_Name", "-x", "a b"] {
            assert!(
                matches!(
                    resolve_cluster(Some(bad.into()), None),
                    Err(Error::BadCluster(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        let tls = Error::Tls {
            endpoint: "e".into(),
            detail: "d".into(),
            hint: "h".into(),
        };
        assert_eq!(tls.class(), Class::Auth);
        assert_eq!(
            Error::Unreachable { report: "r".into() }.class(),
            Class::EtcdUnavailable
        );
        assert_eq!(
            Error::NoHealthyMember { report: "r".into() }.class(),
            Class::EtcdUnavailable
        );
        assert_eq!(
            Error::Truncated {
                endpoint: "e".into(),
                received: 1,
                expected: 2
            }
            .class(),
            Class::CorruptSnapshot
        );
        assert_eq!(
            Error::Disk {
                action: "write",
                path: "/x".into(),
                source: std::io::Error::other("full")
            }
            .class(),
            Class::Failure
        );
    }
}
