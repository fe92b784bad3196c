//! A stand-in kubelet: runs a pod spec read from the apiserver as local processes, so a test can prove that
//! the Jobs the controller renders really work, not just that they validate.
//!
//! What it does, the way the kubelet would:
//! - volumes: an `emptyDir` becomes a fresh temp dir; a `secret` (or `configMap`) volume becomes a temp dir
//!   holding the object's keys as files (read from the apiserver; `items`, `defaultMode`/`mode` and
//!   `optional` honoured; laid out as the kubelet's atomic writer does, each key a symlink through
//!   `..data` into a timestamped dir). Any other volume type fails the test: it cannot be emulated here.
//! - each container's `volumeMounts` map its mountPaths to those dirs (`subPath` included). Every env value
//!   and argument that is a mountPath or lies under one (also the value part of `--flag=/path`) is rewritten
//!   to the host dir, generically from the mounts: no path is hard-coded.
//! - env: `envFrom` first, then `env`, with `value` (`$(VAR)` expanded against the variables defined
//!   before it), `valueFrom.secretKeyRef` / `configMapKeyRef` (from the apiserver) and `fieldRef` for
//!   `metadata.name`, `metadata.namespace` and `spec.serviceAccountName`. The process starts from an empty
//!   environment (plus `PATH` and `HOSTNAME`, as a container runtime sets them), so the pod spec alone
//!   must be enough. `$(VAR)` in `command`/`args` is expanded too.
//! - `command[0]` must be `etcdbak` and the image the expected etcdbak image: it is replaced by the binary
//!   under test. Anything else fails the test with what was found, since only etcdbak can run here.
//! - init containers run one by one, each to completion, then the regular containers (concurrently, as
//!   in a pod). `run`: each must exit 0, a failure fails the test with the container's stdout and stderr;
//!   `try_run` returns the failing container instead, for tests of failure paths.
//! - identity, when the test runs as root (as it does in CI): each container runs as its
//!   `runAsUser`/`runAsGroup` (`runAsNonRoot` is checked as the kubelet does), emptyDirs are world-writable,
//!   Secret files are owned by root and group `fsGroup` with their `defaultMode`, so a key the pod's user
//!   could not read in a cluster cannot be read here either. `readOnly` mounts lose their write bits while
//!   the container runs, and the working dir (standing in for the image's root filesystem) is writable
//!   only when `readOnlyRootFilesystem` is false. Without root the containers run as the test's user.
//! - a `readOnly` mount the process changed anyway fails the test (in a pod that write would get EROFS);
//!   so does a file left in the working dir of a container with `readOnlyRootFilesystem`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Container, KeyToPath, PodSpec, Secret};
use kube::api::Api;
use kube::Client;

mod words;
pub use words::{expand, rewrite};

/// One container, resolved and ready to start. Not `Debug`: its env holds Secret values (S3 keys), which
/// must not end up in a test's failure output.
#[derive(Clone)]
pub struct Prepared {
    pub name: String,
    pub init: bool,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
    /// (mountPath, host dir, readOnly), longest mountPath first.
    pub mounts: Vec<(String, PathBuf, bool)>,
    /// The container has a read-only root filesystem and no workingDir, so its working dir stands in for
    /// the image's root: nothing may be left there.
    pub check_cwd_empty: bool,
    /// (uid, gid) to run as; `None` when the test is not root and cannot switch.
    pub identity: Option<(u32, u32)>,
}

/// What one container did.
#[derive(Debug)]
pub struct Ran {
    pub name: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub wall: Duration,
}

/// A pod's volumes on the host plus its resolved containers.
pub struct LocalPod {
    pub namespace: String,
    pub name: String,
    root: tempfile::TempDir,
    /// volume name -> host dir
    pub volumes: BTreeMap<String, PathBuf>,
    pub init_containers: Vec<Prepared>,
    pub containers: Vec<Prepared>,
    /// The test runs as root, so it can give containers their pod identity.
    as_root: bool,
}

/// Where the etcdbak image keeps its binary: the only command that can run here.
const ETCDBAK: &str = "etcdbak";
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl LocalPod {
    /// Builds the pod's volumes and resolves every container. `image` is the image the controller was
    /// configured with: every container must use it.
    pub async fn prepare(
        client: &Client,
        namespace: &str,
        name: &str,
        spec: &PodSpec,
        image: &str,
    ) -> LocalPod {
        let root = tempfile::Builder::new()
            .prefix("etcdbak-pod-")
            .tempdir()
            .expect("pod temp dir");
        let as_root = std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false);
        let fs_group = spec
            .security_context
            .as_ref()
            .and_then(|s| s.fs_group)
            .map(|g| g as u32);
        if as_root {
            // The pod's user must be able to reach its volumes, as it can in a container.
            std::fs::create_dir_all(root.path().join("volumes")).expect("volumes dir");
            for p in [root.path().to_path_buf(), root.path().join("volumes")] {
                chmod(&p, 0o755);
            }
        }
        let mut volumes = BTreeMap::new();
        for v in spec.volumes.iter().flatten() {
            let dir = root.path().join("volumes").join(&v.name);
            std::fs::create_dir_all(&dir).expect("volume dir");
            if v.empty_dir.is_some() {
                // The kubelet makes emptyDirs world-writable (setgid to fsGroup when one is set).
                if as_root {
                    if let Some(g) = fs_group {
                        std::os::unix::fs::chown(&dir, None, Some(g)).expect("chown emptyDir");
                    }
                    chmod(&dir, if fs_group.is_some() { 0o2777 } else { 0o777 });
                }
            } else if let Some(s) = &v.secret {
                let secret_name = s
                    .secret_name
                    .as_deref()
                    .unwrap_or_else(|| panic!("secret volume {} names no Secret", v.name));
                let found = secret(client, namespace, secret_name, s.optional).await;
                let data: BTreeMap<String, Vec<u8>> = found
                    .and_then(|s| s.data)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.0))
                    .collect();
                project(&dir, &data, s.items.as_deref(), s.default_mode, &v.name);
                if as_root {
                    own_projected(&dir, fs_group);
                }
            } else if let Some(c) = &v.config_map {
                let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
                let found = api
                    .get_opt(&c.name)
                    .await
                    .unwrap_or_else(|e| panic!("reading ConfigMap {namespace}/{}: {e}", c.name));
                assert!(
                    found.is_some() || c.optional == Some(true),
                    "configMap volume {}: ConfigMap {namespace}/{} does not exist (a kubelet would not start the pod)",
                    v.name,
                    c.name
                );
                let mut data: BTreeMap<String, Vec<u8>> = BTreeMap::new();
                if let Some(cm) = found {
                    for (k, s) in cm.data.unwrap_or_default() {
                        data.insert(k, s.into_bytes());
                    }
                    for (k, b) in cm.binary_data.unwrap_or_default() {
                        data.insert(k, b.0);
                    }
                }
                project(&dir, &data, c.items.as_deref(), c.default_mode, &v.name);
                if as_root {
                    own_projected(&dir, fs_group);
                }
            } else {
                let json = serde_json::to_value(v).expect("volume as JSON");
                let kinds: Vec<String> = json
                    .as_object()
                    .map(|o| o.keys().filter(|k| *k != "name").cloned().collect())
                    .unwrap_or_default();
                panic!(
                    "volume {} is of type {kinds:?}: the local kubelet emulates only emptyDir, secret and configMap",
                    v.name
                );
            }
            volumes.insert(v.name.clone(), dir);
        }

        let mut pod = LocalPod {
            namespace: namespace.to_string(),
            name: name.to_string(),
            root,
            volumes,
            init_containers: Vec::new(),
            containers: Vec::new(),
            as_root,
        };
        for c in spec.init_containers.iter().flatten() {
            let p = pod.resolve(client, spec, c, true, image).await;
            pod.init_containers.push(p);
        }
        for c in &spec.containers {
            let p = pod.resolve(client, spec, c, false, image).await;
            pod.containers.push(p);
        }
        pod
    }

    async fn resolve(
        &self,
        client: &Client,
        spec: &PodSpec,
        c: &Container,
        init: bool,
        image: &str,
    ) -> Prepared {
        let what = format!("container {:?}", c.name);
        assert_eq!(
            c.image.as_deref(),
            Some(image),
            "{what} uses another image than etcdbak's: only etcdbak can run here"
        );
        let command = c.command.clone().unwrap_or_default();
        assert_eq!(
            command.first().map(String::as_str),
            Some(ETCDBAK),
            "{what}: command {command:?} does not start with `{ETCDBAK}`: only etcdbak can run here"
        );

        let mut mounts = Vec::new();
        for m in c.volume_mounts.iter().flatten() {
            let dir = self.volumes.get(&m.name).unwrap_or_else(|| {
                panic!(
                    "{what} mounts volume {:?}, which the pod does not have",
                    m.name
                )
            });
            assert!(
                m.sub_path_expr.is_none(),
                "{what}: subPathExpr is not emulated"
            );
            let host = match m.sub_path.as_deref().filter(|s| !s.is_empty()) {
                Some(sub) => {
                    let p = dir.join(sub);
                    std::fs::create_dir_all(&p).expect("subPath dir");
                    p
                }
                None => dir.clone(),
            };
            mounts.push((
                m.mount_path.trim_end_matches('/').to_string(),
                host,
                m.read_only == Some(true),
            ));
        }
        mounts.sort_by_key(|(p, _, _)| std::cmp::Reverse(p.len()));

        // The env as the container sees it (container paths), in the kubelet's order.
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        for from in c.env_from.iter().flatten() {
            let prefix = from.prefix.clone().unwrap_or_default();
            if let Some(s) = &from.secret_ref {
                let found = secret(client, &self.namespace, &s.name, s.optional).await;
                for (k, v) in found.and_then(|s| s.data).unwrap_or_default() {
                    env.insert(format!("{prefix}{k}"), utf8(v.0, &what, &k));
                }
            }
            if let Some(cm) = &from.config_map_ref {
                let api: Api<ConfigMap> = Api::namespaced(client.clone(), &self.namespace);
                let found = api
                    .get_opt(&cm.name)
                    .await
                    .unwrap_or_else(|e| panic!("reading ConfigMap {}: {e}", cm.name));
                assert!(
                    found.is_some() || cm.optional == Some(true),
                    "{what}: envFrom ConfigMap {} does not exist",
                    cm.name
                );
                for (k, v) in found.and_then(|c| c.data).unwrap_or_default() {
                    env.insert(format!("{prefix}{k}"), v);
                }
            }
        }
        for e in c.env.iter().flatten() {
            let value = match &e.value_from {
                None => expand(e.value.as_deref().unwrap_or(""), &env),
                Some(src) => {
                    if let Some(r) = &src.secret_key_ref {
                        let found = secret(client, &self.namespace, &r.name, r.optional).await;
                        match found
                            .and_then(|s| s.data)
                            .and_then(|mut d| d.remove(&r.key))
                        {
                            Some(v) => utf8(v.0, &what, &e.name),
                            None if r.optional == Some(true) => continue,
                            None => panic!(
                                "{what}: env {} refers to key {:?} of Secret {}/{}, which it does not have (a kubelet would not start the container)",
                                e.name, r.key, self.namespace, r.name
                            ),
                        }
                    } else if let Some(r) = &src.config_map_key_ref {
                        let api: Api<ConfigMap> = Api::namespaced(client.clone(), &self.namespace);
                        let found = api
                            .get_opt(&r.name)
                            .await
                            .unwrap_or_else(|e| panic!("reading ConfigMap {}: {e}", r.name));
                        match found
                            .and_then(|c| c.data)
                            .and_then(|mut d| d.remove(&r.key))
                        {
                            Some(v) => v,
                            None if r.optional == Some(true) => continue,
                            None => panic!(
                                "{what}: env {} refers to missing key {:?} of ConfigMap {}",
                                e.name, r.key, r.name
                            ),
                        }
                    } else if let Some(f) = &src.field_ref {
                        match f.field_path.as_str() {
                            "metadata.name" => self.name.clone(),
                            "metadata.namespace" => self.namespace.clone(),
                            "spec.serviceAccountName" => spec
                                .service_account_name
                                .clone()
                                .unwrap_or_else(|| "default".into()),
                            other => panic!(
                                "{what}: env {} uses fieldRef {other}, which the local kubelet does not emulate",
                                e.name
                            ),
                        }
                    } else {
                        panic!(
                            "{what}: env {} uses a valueFrom source the local kubelet does not emulate: {src:?}",
                            e.name
                        );
                    }
                }
            };
            env.insert(e.name.clone(), value);
        }

        let args: Vec<String> = command
            .iter()
            .skip(1)
            .chain(c.args.iter().flatten())
            .map(|a| rewrite(&expand(a, &env), &mounts))
            .collect();
        let mut host_env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.clone(), rewrite(v, &mounts)))
            .collect();
        host_env
            .entry("PATH".into())
            .or_insert_with(|| PATH.to_string());
        host_env
            .entry("HOSTNAME".into())
            .or_insert_with(|| self.name.clone());

        let cwd = match c.working_dir.as_deref() {
            Some(w) => {
                let r = rewrite(w, &mounts);
                assert_ne!(
                    r, w,
                    "{what}: workingDir {w} is on the image's filesystem, which does not exist here"
                );
                PathBuf::from(r)
            }
            None => {
                let p = self.root.path().join("rootfs").join(&c.name);
                std::fs::create_dir_all(&p).expect("cwd");
                p
            }
        };
        let read_only_root = c
            .security_context
            .as_ref()
            .and_then(|s| s.read_only_root_filesystem)
            .unwrap_or(false);
        let check_cwd_empty = c.working_dir.is_none() && read_only_root;
        if c.working_dir.is_none() && self.as_root {
            chmod(&cwd, if read_only_root { 0o555 } else { 0o777 });
        }

        // The kubelet's rules: the container's securityContext wins over the pod's; runAsNonRoot refuses a
        // container whose user is (or may be, as an unknown image user) root.
        let pod_sc = spec.security_context.as_ref();
        let sc = c.security_context.as_ref();
        let uid = sc
            .and_then(|s| s.run_as_user)
            .or(pod_sc.and_then(|s| s.run_as_user));
        let gid = sc
            .and_then(|s| s.run_as_group)
            .or(pod_sc.and_then(|s| s.run_as_group));
        let non_root = sc
            .and_then(|s| s.run_as_non_root)
            .or(pod_sc.and_then(|s| s.run_as_non_root))
            .unwrap_or(false);
        if non_root {
            assert!(
                uid.is_some_and(|u| u != 0),
                "{what}: runAsNonRoot with runAsUser {uid:?}: the kubelet would not start it (the image's user is unknown)"
            );
        }
        let identity = match (self.as_root, uid) {
            (true, Some(u)) => {
                let g = gid.unwrap_or(0) as u32;
                // std drops supplementary groups when switching user; fsGroup is then only held as the
                // primary group, so a pod whose fsGroup differs from its runAsGroup cannot be emulated.
                let fs_group = pod_sc.and_then(|s| s.fs_group).map(|g| g as u32);
                assert!(
                    fs_group.is_none_or(|f| f == g),
                    "{what}: fsGroup {fs_group:?} differs from runAsGroup {g}: the local kubelet cannot add a supplementary group"
                );
                Some((u as u32, g))
            }
            _ => None,
        };

        Prepared {
            name: c.name.clone(),
            init,
            program: PathBuf::from(env!("CARGO_BIN_EXE_etcdbak")),
            args,
            env: host_env,
            cwd,
            mounts,
            check_cwd_empty,
            identity,
        }
    }

    /// Runs the init containers in order, then the containers; every one must exit 0 within `deadline`
    /// (the whole pod's budget, as `activeDeadlineSeconds` is). A failure fails the test with the
    /// container's output.
    pub fn run(&self, deadline: Duration) -> Vec<Ran> {
        self.try_run(deadline).unwrap_or_else(fail)
    }

    /// [`LocalPod::try_run_init_containers`], failing the test on a failure.
    pub fn run_init_containers(&self, deadline: Duration) -> Vec<Ran> {
        self.try_run_init_containers(deadline).unwrap_or_else(fail)
    }

    /// [`LocalPod::try_run_containers`], failing the test on a failure.
    pub fn run_containers(&self, deadline: Duration) -> Vec<Ran> {
        self.try_run_containers(deadline).unwrap_or_else(fail)
    }

    /// Like [`LocalPod::run`], but a container that exits non-zero is returned instead of failing the
    /// test, as the pod's failure: an init container's failure stops the pod (restartPolicy Never).
    pub fn try_run(&self, deadline: Duration) -> Result<Vec<Ran>, (&Prepared, Ran)> {
        let start = Instant::now();
        let mut ran = self.try_run_init_containers(deadline)?;
        ran.extend(self.try_run_containers(deadline.saturating_sub(start.elapsed()))?);
        Ok(ran)
    }

    /// Only the init containers, in order (the pod's state while its main containers have not started
    /// yet, e.g. while the snapshot streams).
    pub fn try_run_init_containers(
        &self,
        deadline: Duration,
    ) -> Result<Vec<Ran>, (&Prepared, Ran)> {
        let start = Instant::now();
        let mut ran = Vec::new();
        for c in &self.init_containers {
            let left = deadline.saturating_sub(start.elapsed());
            let r = finish(c, spawn(c, self.root.path()), left);
            if !r.status.success() {
                return Err((c, r));
            }
            ran.push(r);
        }
        Ok(ran)
    }

    /// Only the regular containers, concurrently (after [`LocalPod::try_run_init_containers`]).
    pub fn try_run_containers(&self, deadline: Duration) -> Result<Vec<Ran>, (&Prepared, Ran)> {
        let start = Instant::now();
        let mut ran = Vec::new();
        let started: Vec<_> = self
            .containers
            .iter()
            .map(|c| (c, spawn(c, self.root.path())))
            .collect();
        let mut failed = None;
        for (c, s) in started {
            let left = deadline.saturating_sub(start.elapsed());
            let r = finish(c, s, left);
            if !r.status.success() && failed.is_none() {
                failed = Some((c, r));
            } else {
                ran.push(r);
            }
        }
        match failed {
            Some(f) => Err(f),
            None => Ok(ran),
        }
    }

    /// The host dir of a volume.
    pub fn volume(&self, name: &str) -> &Path {
        self.volumes
            .get(name)
            .unwrap_or_else(|| panic!("the pod has no volume {name:?}"))
    }
}

fn fail((c, r): (&Prepared, Ran)) -> Vec<Ran> {
    panic!(
        "{} container {} failed ({}); it ran {} {:?}\nstdout:\n{}\nstderr:\n{}",
        if c.init { "init" } else { "the" },
        c.name,
        r.status,
        c.program.display(),
        c.args,
        r.stdout,
        r.stderr
    )
}

struct Started {
    child: std::process::Child,
    out: PathBuf,
    err: PathBuf,
    before: Vec<(String, Tree)>,
    saved_modes: Vec<(PathBuf, u32)>,
    began: Instant,
}

fn spawn(c: &Prepared, root: &Path) -> Started {
    let logs = root.join("logs");
    std::fs::create_dir_all(&logs).expect("log dir");
    let out = logs.join(format!("{}.stdout", c.name));
    let err = logs.join(format!("{}.stderr", c.name));
    let before = c
        .mounts
        .iter()
        .filter(|(_, _, ro)| *ro)
        .map(|(mp, host, _)| (mp.clone(), tree(host)))
        .collect();
    let mut cmd = Command::new(&c.program);
    let mut saved_modes = Vec::new();
    if let Some((uid, gid)) = c.identity {
        cmd.uid(uid).gid(gid);
        for (_, host, ro) in &c.mounts {
            if *ro {
                saved_modes.extend(make_read_only(host));
            }
        }
    }
    let child = cmd
        .args(&c.args)
        .env_clear()
        .envs(&c.env)
        .current_dir(&c.cwd)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("starting container {}: {e}", c.name));
    Started {
        child,
        out,
        err,
        before,
        saved_modes,
        began: Instant::now(),
    }
}

fn finish(c: &Prepared, mut s: Started, left: Duration) -> Ran {
    let until = Instant::now() + left;
    let status = loop {
        if let Some(st) = s.child.try_wait().expect("waiting for a container") {
            break st;
        }
        if Instant::now() >= until {
            let _ = s.child.kill();
            let _ = s.child.wait();
            let stderr = std::fs::read_to_string(&s.err).unwrap_or_default();
            panic!(
                "container {} still running at the pod's deadline; killed. stderr:\n{stderr}",
                c.name
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    for (p, mode) in &s.saved_modes {
        chmod(p, *mode);
    }
    let ran = Ran {
        name: c.name.clone(),
        status,
        stdout: std::fs::read_to_string(&s.out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&s.err).unwrap_or_default(),
        wall: s.began.elapsed(),
    };
    for (mp, before) in &s.before {
        let host = &c.mounts.iter().find(|(p, _, _)| p == mp).expect("mount").1;
        assert_eq!(
            &tree(host),
            before,
            "container {} changed its readOnly mount {mp} (in a pod that write fails with EROFS)",
            c.name
        );
    }
    if c.check_cwd_empty {
        let left: Vec<_> = std::fs::read_dir(&c.cwd)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            left.is_empty(),
            "container {} wrote {left:?} to its working dir on a read-only root filesystem",
            c.name
        );
    }
    ran
}

/// Relative path -> (size, mtime, mode) of everything under `dir`: enough to see any write.
type Tree = BTreeMap<String, (u64, Option<std::time::SystemTime>, u32)>;

fn tree(dir: &Path) -> Tree {
    fn walk(base: &Path, dir: &Path, out: &mut Tree) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(md) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let rel = p.strip_prefix(base).unwrap_or(&p).display().to_string();
            out.insert(rel, (md.len(), md.modified().ok(), md.permissions().mode()));
            if md.is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Tree::new();
    walk(dir, dir, &mut out);
    out
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
}

/// Secret and ConfigMap volumes: root-owned, group fsGroup (when set), so the file modes decide what the
/// pod's user can read.
fn own_projected(dir: &Path, fs_group: Option<u32>) {
    for (rel, _) in tree(dir) {
        std::os::unix::fs::chown(dir.join(rel), Some(0), fs_group).expect("chown projected file");
    }
    std::os::unix::fs::chown(dir, Some(0), fs_group).expect("chown volume");
    chmod(dir, 0o755);
}

/// Takes the write bits away from everything under `dir` (a readOnly mount, for one container) and
/// returns the modes to put back afterwards.
fn make_read_only(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut paths: Vec<PathBuf> = tree(dir).into_keys().map(|r| dir.join(r)).collect();
    paths.push(dir.to_path_buf());
    let mut saved = Vec::new();
    for p in paths {
        let Ok(md) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if md.file_type().is_symlink() {
            continue;
        }
        let mode = md.permissions().mode() & 0o7777;
        chmod(&p, mode & !0o222);
        saved.push((p, mode));
    }
    saved
}

async fn secret(client: &Client, ns: &str, name: &str, optional: Option<bool>) -> Option<Secret> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let found = api
        .get_opt(name)
        .await
        .unwrap_or_else(|e| panic!("reading Secret {ns}/{name}: {e}"));
    assert!(
        found.is_some() || optional == Some(true),
        "Secret {ns}/{name} does not exist (a kubelet would not start the pod)"
    );
    found
}

fn utf8(bytes: Vec<u8>, what: &str, key: &str) -> String {
    String::from_utf8(bytes).unwrap_or_else(|_| {
        panic!("{what}: env from key {key} is not UTF-8 (a kubelet refuses it)")
    })
}

/// Writes the keys of a Secret or ConfigMap into `dir` as the kubelet does: all keys, or only `items` at
/// their paths; modes from the item, else `defaultMode`, else 0644.
fn project(
    dir: &Path,
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    default_mode: Option<i32>,
    volume: &str,
) {
    let default_mode = default_mode.unwrap_or(0o644) as u32;
    let files: Vec<(String, &Vec<u8>, u32)> = match items {
        Some(items) => items
            .iter()
            .map(|i| {
                let v = data.get(&i.key).unwrap_or_else(|| {
                    panic!("volume {volume}: item key {:?} is not in the object", i.key)
                });
                (
                    i.path.clone(),
                    v,
                    i.mode.map(|m| m as u32).unwrap_or(default_mode),
                )
            })
            .collect(),
        None => data
            .iter()
            .map(|(k, v)| (k.clone(), v, default_mode))
            .collect(),
    };
    // The kubelet's atomic-writer layout: the files live in a timestamped dir, `..data` points at it, and
    // each top-level name is a symlink through `..data` (how updates swap in atomically).
    let stamp = chrono::Utc::now()
        .format("..%Y_%m_%d_%H_%M_%S.%f")
        .to_string();
    let data_dir = dir.join(&stamp);
    std::fs::create_dir_all(&data_dir).expect("projected data dir");
    let mut top = std::collections::BTreeSet::new();
    for (path, bytes, mode) in files {
        let p = data_dir.join(&path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("projected dir");
        }
        std::fs::write(&p, bytes).expect("projected file");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
            .expect("projected file mode");
        if let Some(first) = Path::new(&path).components().next() {
            top.insert(first.as_os_str().to_os_string());
        }
    }
    std::os::unix::fs::symlink(&stamp, dir.join("..data")).expect("..data symlink");
    for name in top {
        std::os::unix::fs::symlink(Path::new("..data").join(&name), dir.join(&name))
            .expect("projected symlink");
    }
}
