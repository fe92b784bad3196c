//! A real etcd cluster on loopback for tests (the rig's `etcd` binary, no mocks).
//!
//! API (all blocking; safe to call from `#[test]` and from inside a tokio runtime, because the etcd-client
//! calls run on a scoped helper thread with their own runtime):
//! - `EtcdCluster::start(members, tls) -> EtcdCluster`: N members on free loopback ports, temp data dirs,
//!   `--unsafe-no-fsync`, mTLS for clients and peers when `tls`; returns once every member is healthy (a
//!   linearizable read succeeds through it). Port collisions are retried with fresh ports.
//! - `EtcdCluster::prepare(members, tls)` + `launch()`: the same in two steps, so a test can fill the data
//!   dirs in between (e.g. `etcdutl snapshot restore` with `initial_cluster()`, `token()`, `member_name(i)`,
//!   `peer_url(i)`, `data_dir(i)`). `EtcdCluster::start_from_snapshot(snapshot, members, tls)` does exactly
//!   that with `etcdutl snapshot restore` (no `--skip-hash-check`, so the hash trailer is checked).
//! - `endpoints()`: comma list of client URLs; `endpoint(i)`; `client_tls()`: `Option<ClientTls>` paths
//!   (`certs()` for every PEM, including the unrelated CA); `etcdbak_args()`: `--endpoints ... [TLS flags]`.
//! - `member_id(i)`, `raise_alarm(i, AlarmType::Nospace)`: what a member that ran out of quota looks like.
//! - `stop_member(i)` (SIGKILL), `start_member(i)` (same flags, same data dir; waits until healthy),
//!   `kill_all()`, `is_running(i)`, `leader_index()`, `wait_healthy()`.
//! - `put_keys(prefix, n, value_len) -> BTreeMap` (batched transactions; returns what was written),
//!   `read_all() -> BTreeMap<Vec<u8>, Vec<u8>>` (every key in the cluster), `client_blocking(f)` to run any
//!   etcd-client code against the cluster.
//! - `log_tail(i)`: the last lines of a member's log, for assertion messages.
//!
//! Timeouts are generous (60 s to become healthy, election timeout 2.5 s) because the test machine is a
//! loaded 2-core box.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use etcd_client::{
    AlarmAction, AlarmOptions, AlarmType, Certificate, Client, ConnectOptions, GetOptions,
    Identity, TlsOptions, Txn, TxnOp,
};

use super::certs::{Certs, ClientTls};
use super::{free_port, rig_bin, Proc};

const READY_TIMEOUT: Duration = Duration::from_secs(60);

struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    data_dir: PathBuf,
    log: PathBuf,
    proc: Option<Proc>,
}

pub struct EtcdCluster {
    // Declared first so the processes die before their temp dirs are removed.
    members: Vec<Member>,
    certs: Option<Certs>,
    token: String,
    dir: tempfile::TempDir,
}

impl EtcdCluster {
    /// Starts `n` members and waits until all are healthy, retrying with fresh ports on a port collision.
    pub fn start(n: usize, tls: bool) -> EtcdCluster {
        let mut last = String::new();
        for _attempt in 0..4 {
            let mut cluster = EtcdCluster::prepare(n, tls);
            match cluster.try_launch() {
                Ok(()) => return cluster,
                Err(e) if e.contains("address already in use") => last = e,
                Err(e) => panic!("{e}"),
            }
        }
        panic!("etcd cluster did not start after retries: {last}");
    }

    /// Allocates ports, dirs and (when `tls`) certificates, without starting anything.
    pub fn prepare(n: usize, tls: bool) -> EtcdCluster {
        assert!(n >= 1, "a cluster needs at least one member");
        let dir = tempfile::Builder::new()
            .prefix("etcdbak-etcd-")
            .tempdir()
            .expect("temp dir");
        let mut ports = Vec::new();
        while ports.len() < 2 * n {
            let p = free_port();
            if !ports.contains(&p) {
                ports.push(p);
            }
        }
        let members = (0..n)
            .map(|i| Member {
                name: format!("m{i}"),
                client_port: ports[2 * i],
                peer_port: ports[2 * i + 1],
                data_dir: dir.path().join(format!("m{i}.etcd")),
                log: dir.path().join(format!("m{i}.log")),
                proc: None,
            })
            .collect();
        let token = format!("etcdbak-test-{}", ports[0]);
        EtcdCluster {
            members,
            certs: tls.then(Certs::generate),
            token,
            dir,
        }
    }

    /// Starts every member of a prepared cluster (fresh or restored data dirs) and waits until healthy.
    pub fn launch(&mut self) {
        if let Err(e) = self.try_launch() {
            panic!("{e}");
        }
    }

    fn try_launch(&mut self) -> Result<(), String> {
        for i in 0..self.members.len() {
            self.spawn(i);
        }
        self.wait_healthy_result(READY_TIMEOUT)
    }

    /// Restores `snapshot` into every member's data dir with `etcdutl snapshot restore` (hash checked), then
    /// starts the cluster on those dirs.
    pub fn start_from_snapshot(snapshot: &Path, n: usize, tls: bool) -> EtcdCluster {
        let mut cluster = EtcdCluster::prepare(n, tls);
        for i in 0..n {
            cluster.restore_into(snapshot, i);
        }
        cluster.launch();
        cluster
    }

    /// `etcdutl snapshot restore` of `snapshot` into member `i`'s data dir, with this cluster's membership.
    pub fn restore_into(&self, snapshot: &Path, i: usize) {
        let out = Command::new(rig_bin("etcdutl"))
            .arg("snapshot")
            .arg("restore")
            .arg(snapshot)
            .arg("--data-dir")
            .arg(self.data_dir(i))
            .arg("--name")
            .arg(self.member_name(i))
            .arg("--initial-cluster")
            .arg(self.initial_cluster())
            .arg("--initial-cluster-token")
            .arg(&self.token)
            .arg("--initial-advertise-peer-urls")
            .arg(self.peer_url(i))
            .output()
            .expect("run etcdutl");
        assert!(
            out.status.success(),
            "etcdutl snapshot restore failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn scheme(&self) -> &'static str {
        if self.certs.is_some() {
            "https"
        } else {
            "http"
        }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn member_name(&self, i: usize) -> String {
        self.members[i].name.clone()
    }

    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.members[i].data_dir.clone()
    }

    pub fn peer_url(&self, i: usize) -> String {
        format!(
            "{}://127.0.0.1:{}",
            self.scheme(),
            self.members[i].peer_port
        )
    }

    pub fn endpoint(&self, i: usize) -> String {
        format!(
            "{}://127.0.0.1:{}",
            self.scheme(),
            self.members[i].client_port
        )
    }

    /// Every member's client URL, comma-separated (the `--endpoints` form).
    pub fn endpoints(&self) -> String {
        (0..self.members.len())
            .map(|i| self.endpoint(i))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn initial_cluster(&self) -> String {
        (0..self.members.len())
            .map(|i| format!("{}={}", self.members[i].name, self.peer_url(i)))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// The temp dir everything of this cluster lives in (data dirs, logs, certs are elsewhere).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn certs(&self) -> Option<&Certs> {
        self.certs.as_ref()
    }

    pub fn client_tls(&self) -> Option<ClientTls> {
        self.certs.as_ref().map(Certs::client)
    }

    /// `--endpoints <all>` plus the client TLS flags: what `etcdbak snapshot` needs to reach this cluster.
    pub fn etcdbak_args(&self) -> Vec<String> {
        let mut args = vec!["--endpoints".to_string(), self.endpoints()];
        if let Some(tls) = self.client_tls() {
            args.extend(tls.args());
        }
        args
    }

    fn spawn(&mut self, i: usize) {
        let initial_cluster = self.initial_cluster();
        let peer_url = self.peer_url(i);
        let client_url = self.endpoint(i);
        let m = &self.members[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&m.log)
            .expect("member log");
        let mut cmd = Command::new(rig_bin("etcd"));
        cmd.arg("--name")
            .arg(&m.name)
            .arg("--data-dir")
            .arg(&m.data_dir)
            .arg("--listen-client-urls")
            .arg(&client_url)
            .arg("--advertise-client-urls")
            .arg(&client_url)
            .arg("--listen-peer-urls")
            .arg(&peer_url)
            .arg("--initial-advertise-peer-urls")
            .arg(&peer_url)
            .arg("--initial-cluster")
            .arg(&initial_cluster)
            .arg("--initial-cluster-token")
            .arg(&self.token)
            .arg("--initial-cluster-state")
            .arg("new")
            // Tests do not need durability across machine crashes; this keeps a loaded box fast.
            .arg("--unsafe-no-fsync")
            // Longer than the defaults (100/1000 ms) so a busy 2-core machine does not flap leaders.
            .arg("--heartbeat-interval")
            .arg("250")
            .arg("--election-timeout")
            .arg("2500")
            .arg("--log-level")
            .arg("info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        if let Some(c) = &self.certs {
            cmd.arg("--cert-file")
                .arg(&c.server_cert)
                .arg("--key-file")
                .arg(&c.server_key)
                .arg("--trusted-ca-file")
                .arg(&c.ca)
                .arg("--client-cert-auth")
                .arg("--peer-cert-file")
                .arg(&c.server_cert)
                .arg("--peer-key-file")
                .arg(&c.server_key)
                .arg("--peer-trusted-ca-file")
                .arg(&c.ca)
                .arg("--peer-client-cert-auth");
        }
        let proc = Proc::spawn(&format!("etcd {}", m.name), &mut cmd);
        self.members[i].proc = Some(proc);
    }

    /// Kills member `i` (SIGKILL) and waits for it to exit.
    pub fn stop_member(&mut self, i: usize) {
        if let Some(mut p) = self.members[i].proc.take() {
            p.kill();
        }
    }

    /// Restarts member `i` on its data dir with its original flags and waits until the cluster is healthy.
    pub fn start_member(&mut self, i: usize) {
        assert!(self.members[i].proc.is_none(), "member {i} is running");
        self.spawn(i);
        self.wait_healthy();
    }

    pub fn kill_all(&mut self) {
        for i in 0..self.members.len() {
            self.stop_member(i);
        }
    }

    pub fn is_running(&mut self, i: usize) -> bool {
        self.members[i]
            .proc
            .as_mut()
            .map(|p| p.is_running())
            .unwrap_or(false)
    }

    /// The OS process id of member `i`, if running.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.members[i].proc.as_ref().and_then(|p| p.pid())
    }

    pub fn log_tail(&self, i: usize) -> String {
        let text = std::fs::read_to_string(&self.members[i].log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn connect_options(&self) -> ConnectOptions {
        let mut opts = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(30));
        if let Some(c) = &self.certs {
            let read = |p: &Path| std::fs::read(p).expect("read PEM");
            let tls = TlsOptions::new()
                .ca_certificate(Certificate::from_pem(read(&c.ca)))
                .identity(Identity::from_pem(
                    read(&c.client_cert),
                    read(&c.client_key),
                ));
            opts = opts.with_tls(tls);
        }
        opts
    }

    fn running_endpoints(&self) -> Vec<String> {
        (0..self.members.len())
            .filter(|&i| self.members[i].proc.is_some())
            .map(|i| self.endpoint(i))
            .collect()
    }

    /// Runs `f` with a client connected to the given endpoints, on a helper thread with its own runtime.
    fn with_client<T, F, Fut>(&self, endpoints: Vec<String>, f: F) -> Result<T, String>
    where
        T: Send,
        F: FnOnce(Client) -> Fut + Send,
        Fut: std::future::Future<Output = Result<T, etcd_client::Error>>,
    {
        let opts = self.connect_options();
        std::thread::scope(|s| {
            s.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                rt.block_on(async move {
                    let client = Client::connect(endpoints, Some(opts))
                        .await
                        .map_err(|e| e.to_string())?;
                    f(client).await.map_err(|e| e.to_string())
                })
            })
            .join()
            .unwrap_or_else(|_| Err("etcd client thread panicked".into()))
        })
    }

    /// Runs `f` with a client connected to every running member; panics on an error.
    pub fn client_blocking<T, F, Fut>(&self, f: F) -> T
    where
        T: Send,
        F: FnOnce(Client) -> Fut + Send,
        Fut: std::future::Future<Output = Result<T, etcd_client::Error>>,
    {
        self.with_client(self.running_endpoints(), f)
            .unwrap_or_else(|e| panic!("etcd client call failed: {e}"))
    }

    /// Waits until every running member serves a linearizable read (so it has a leader and is caught up).
    pub fn wait_healthy(&mut self) {
        if let Err(e) = self.wait_healthy_result(READY_TIMEOUT) {
            panic!("{e}");
        }
    }

    fn wait_healthy_result(&mut self, timeout: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            let mut pending = Vec::new();
            for i in 0..self.members.len() {
                if self.members[i].proc.is_none() {
                    continue;
                }
                if !self.is_running(i) {
                    let tail = self.log_tail(i);
                    return Err(format!("etcd member {i} exited while starting:\n{tail}"));
                }
                let ok = self
                    .with_client(vec![self.endpoint(i)], |mut c| async move {
                        c.get("etcdbak-test-health", None).await.map(|_| ())
                    })
                    .is_ok();
                if !ok {
                    pending.push(i);
                }
            }
            if pending.is_empty() {
                return Ok(());
            }
            if start.elapsed() > timeout {
                let tails: Vec<String> = pending
                    .iter()
                    .map(|&i| format!("--- member {i} log ---\n{}", self.log_tail(i)))
                    .collect();
                return Err(format!(
                    "etcd members {pending:?} not healthy after {timeout:?}\n{}",
                    tails.join("\n")
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Index of the current leader, asking the running members.
    pub fn leader_index(&self) -> usize {
        let start = Instant::now();
        loop {
            for i in 0..self.members.len() {
                if self.members[i].proc.is_none() {
                    continue;
                }
                let status =
                    self.with_client(
                        vec![self.endpoint(i)],
                        |mut c| async move { c.status().await },
                    );
                if let Ok(s) = status {
                    let id = s.header().map(|h| h.member_id()).unwrap_or(0);
                    if s.leader() != 0 && s.leader() == id {
                        return i;
                    }
                }
            }
            assert!(
                start.elapsed() < READY_TIMEOUT,
                "no etcd member reports itself as leader"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Member `i`'s ID, as its own status reports it.
    pub fn member_id(&self, i: usize) -> u64 {
        self.with_client(
            vec![self.endpoint(i)],
            |mut c| async move { c.status().await },
        )
        .map(|s| s.header().map(|h| h.member_id()).unwrap_or(0))
        .unwrap_or_else(|e| panic!("status of member {i}: {e}"))
    }

    /// Raises an alarm (e.g. `AlarmType::Nospace`, `AlarmType::Corrupt`) against member `i`, as etcd does
    /// itself when that member runs out of quota or fails a corruption check.
    pub fn raise_alarm(&self, i: usize, alarm: AlarmType) {
        let id = self.member_id(i);
        self.client_blocking(|mut c| async move {
            let mut opts = AlarmOptions::new();
            opts.with_member(id);
            c.alarm(AlarmAction::Activate, alarm, Some(opts))
                .await
                .map(|_| ())
        });
    }

    /// Writes `n` keys `<prefix><i:08>` with `value_len`-byte deterministic values (values up to about
    /// 1 MiB), batched into transactions, and returns what it wrote.
    pub fn put_keys(&self, prefix: &str, n: usize, value_len: usize) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let kvs: BTreeMap<Vec<u8>, Vec<u8>> = (0..n)
            .map(|i| {
                let key = format!("{prefix}{i:08}").into_bytes();
                let seed = format!("v{i}-");
                let value: Vec<u8> = seed.bytes().cycle().take(value_len.max(1)).collect();
                (key, value)
            })
            .collect();
        // At most 128 operations and about 1 MiB per transaction: etcd's --max-txn-ops and
        // --max-request-bytes (1.5 MiB) defaults.
        let mut batches: Vec<Vec<(Vec<u8>, Vec<u8>)>> = vec![Vec::new()];
        let mut bytes = 0usize;
        for (k, v) in &kvs {
            let size = k.len() + v.len();
            let full = batches
                .last()
                .is_some_and(|b| b.len() >= 128 || (!b.is_empty() && bytes + size > 1 << 20));
            if full {
                batches.push(Vec::new());
                bytes = 0;
            }
            bytes += size;
            if let Some(b) = batches.last_mut() {
                b.push((k.clone(), v.clone()));
            }
        }
        self.client_blocking(|mut c| async move {
            for batch in batches {
                let ops: Vec<TxnOp> = batch
                    .into_iter()
                    .map(|(k, v)| TxnOp::put(k, v, None))
                    .collect();
                c.txn(Txn::new().and_then(ops)).await?;
            }
            Ok(())
        });
        kvs
    }

    /// Every key and value in the cluster (linearizable ranges over the whole keyspace, 500 keys a page so
    /// no response outgrows the client's 4 MiB message limit).
    pub fn read_all(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.client_blocking(|mut c| async move {
            let mut all = BTreeMap::new();
            let mut from = vec![0u8];
            loop {
                let resp = c
                    .get(
                        from.clone(),
                        Some(GetOptions::new().with_from_key().with_limit(500)),
                    )
                    .await?;
                for kv in resp.kvs() {
                    all.insert(kv.key().to_vec(), kv.value().to_vec());
                }
                match resp.kvs().last() {
                    Some(last) if resp.more() => {
                        from = last.key().to_vec();
                        from.push(0);
                    }
                    _ => return Ok(all),
                }
            }
        })
    }
}
