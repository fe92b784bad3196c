//! A real single-node Kubernetes for tests: etcd, kube-apiserver (Node,RBAC), kube-controller-manager,
//! kube-scheduler, containerd (Debian's, with runc and the CNI loopback plugin) and a kubelet, all from
//! `scripts/rig-install`, on loopback with their own ports and one temp dir. The images `scripts/rig-install`
//! built (pause, etcd, minio, mc, busybox) and etcdbak's own (`scripts/image`) are imported into containerd,
//! so pods run with `imagePullPolicy: IfNotPresent` and nothing is ever pulled.
//!
//! The recipe is ../shared/TEST-SERVERS.md's, verified on this kind of machine: the kubelet needs
//! `failCgroupV1: false` (cgroup v1 hierarchy) and containerd `restrict_oom_score_adj` (a negative
//! oom_score_adj is refused here). There is no pod network and no kube-proxy: pods that talk to anything use
//! `hostNetwork: true` and loopback addresses, and in-cluster clients are pointed at the apiserver with
//! `KUBERNETES_SERVICE_HOST=127.0.0.1` / `KUBERNETES_SERVICE_PORT` ([`Node::api_port`]).
//!
//! One node per test binary ([`node`]), shared by its tests. It lives in a static that is never dropped, so
//! a watcher process tears it down when the test process is gone, however it ended (a panic, or a kill):
//! it kills the processes, force-deletes the containers, unmounts what containerd and the kubelet mounted
//! under the temp dir (overlay rootfs, tmpfs Secret volumes, shm, netns), removes the pod cgroups and then
//! the temp dir.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node as KubeNode, ServiceAccount};
use kube::api::Api;
use kube::Client;

use super::kube::{
    client_from, kubeconfig_for, pki, reap_with_test_process, start_control_plane, write,
    ApiServerFlags, ControlPlane,
};
use super::{free_port, rig_bin, wait_until, Proc};

/// The node's name. It resolves to 127.0.0.1 from /etc/hosts, which is how the apiserver reaches the kubelet
/// for logs, exec and cp (`--kubelet-preferred-address-types=Hostname`) without any DNS.
pub const NODE_NAME: &str = "localhost";

/// The repository etcdbak's image is imported under; with the tag from Cargo.toml it is the chart's and the
/// example config's default image.
pub const ETCDBAK_REPOSITORY: &str = "ghcr.io/etcdbak/etcdbak";

pub struct Node {
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    pub url: String,
    pub api_port: u16,
    /// Image name (`etcd`, `minio`, `mc`, `busybox`, `pause`, `etcdbak`) → reference in containerd.
    pub images: BTreeMap<String, String>,
    /// How long the node took from nothing to Ready with every image imported.
    pub startup: Duration,
    _plane: ControlPlane,
    _procs: Vec<Proc>,
}

static NODE: OnceLock<Node> = OnceLock::new();

/// The shared node, started on first use and Ready on return.
pub fn node() -> &'static Node {
    // A plain thread: the first caller may be inside a runtime, where the start's block_on is not allowed.
    NODE.get_or_init(|| {
        std::thread::spawn(start)
            .join()
            .unwrap_or_else(|_| panic!("the Kubernetes node failed to start (see above)"))
    })
}

impl Node {
    pub async fn client(&self) -> Client {
        client_from(&self.kubeconfig).await
    }

    /// The reference of a rig image (`etcd`, `minio`, `mc`, `busybox`, `pause`) or of `etcdbak`.
    pub fn image(&self, name: &str) -> &str {
        self.images
            .get(name)
            .unwrap_or_else(|| panic!("no image {name} on the node: {:?}", self.images))
    }

    /// `kubectl` (the rig's) against this node's apiserver.
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new(rig_bin("kubectl"));
        cmd.env("KUBECONFIG", &self.kubeconfig);
        cmd
    }

    /// `helm` (the rig's) against this node, with its caches in the node's dir.
    pub fn helm(&self) -> Command {
        let mut cmd = Command::new(rig_bin("helm"));
        let h = self.dir.join("helm");
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .env("HELM_CACHE_HOME", h.join("cache"))
            .env("HELM_CONFIG_HOME", h.join("config"))
            .env("HELM_DATA_HOME", h.join("data"));
        cmd
    }

    /// The last `lines` lines of one of the node's logs (`kubelet`, `containerd`, `kube-apiserver`,
    /// `kube-controller-manager`, `kube-scheduler`), for failure messages.
    pub fn log_tail(&self, name: &str, lines: usize) -> String {
        let text =
            std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Waits until the controller-manager has given namespace `ns` its `default` ServiceAccount: pods
    /// created before that are refused.
    pub async fn wait_default_service_account(&self, client: &Client, ns: &str) {
        let api: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
        let start = Instant::now();
        while api.get_opt("default").await.ok().flatten().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "namespace {ns} has no default ServiceAccount after 60s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Runs `cmd` to completion, failing the node's start with its output when it fails.
fn run_ok(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn log_file(d: &Path, name: &str) -> std::fs::File {
    std::fs::File::create(d.join(format!("{name}.log"))).expect("node log file")
}

/// The cgroup v1 hierarchies of this machine (`/sys/fs/cgroup/<controller>`), where the kubelet's cgroup
/// root is created.
fn cgroup_hierarchies() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !p.is_symlink())
        .collect();
    dirs.sort();
    dirs
}

/// The teardown, as a shell script a watcher runs once this test process is gone. Every step is scoped to
/// this node: its runc root, processes whose command line names its dir, mounts under its dir, its cgroup.
fn teardown_script(
    d: &Path,
    ctr_address: &Path,
    cgroup: &str,
    bridge: &str,
    subnet: &str,
) -> String {
    let d = d.display();
    let sock = ctr_address.display();
    format!(
        r#"set +e
while kill -0 {pid} 2>/dev/null; do sleep 1; done
# The node's own processes: the kubelet first, so it restarts nothing while the rest goes.
for name in kubelet kube-scheduler kube-controller-manager kube-apiserver; do
  [ -s '{d}/pids/'$name ] && kill -9 "$(cat '{d}/pids/'$name)" 2>/dev/null
done
# Containers: runc's state for this node lives under its own root.
for id in $(runc --root '{d}/runc/k8s.io' list -q 2>/dev/null); do
  runc --root '{d}/runc/k8s.io' kill "$id" KILL 2>/dev/null
  runc --root '{d}/runc/k8s.io' delete --force "$id" 2>/dev/null
done
# containerd and its shims (started with -address {sock}), found by this node's dir in their command line.
for p in /proc/[0-9]*; do
  case "$(tr '\0' ' ' < $p/cmdline 2>/dev/null)" in
    *'{d}/'*) kill -9 "${{p#/proc/}}" 2>/dev/null ;;
  esac
done
sleep 1
# Everything mounted under the dir, deepest first: overlay rootfs, shm, tmpfs Secret volumes, netns.
for i in 1 2 3; do
  awk '{{print $5}}' /proc/self/mountinfo | grep '^{d}/' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
done
ip link del '{bridge}' 2>/dev/null
ip route del blackhole '{subnet}' 2>/dev/null
# Pod cgroups go once their last (just killed) task is reaped, which can take a while here.
for i in $(seq 1 120); do
  left=0
  for h in /sys/fs/cgroup/*/; do
    [ -d "${{h}}{cgroup}" ] && {{ find "${{h}}{cgroup}" -depth -type d -exec rmdir {{}} \; 2>"$0.log"; [ -d "${{h}}{cgroup}" ] && left=1; }}
  done
  [ $left = 0 ] && break
  sleep 1
done
rm -rf '{d}'
# The last rmdir errors stay beside the dir when a cgroup could not be removed.
[ $left = 0 ] && rm -f "$0.log"
rm -f "$0"
"#,
        pid = std::process::id(),
    )
}

fn start() -> Node {
    let started = Instant::now();
    for bin in [
        "kubelet",
        "kube-controller-manager",
        "kube-scheduler",
        "kubectl",
        "helm",
    ] {
        rig_bin(bin);
    }
    let index = rig_images();
    let etcdbak_archive = etcdbak_image_archive();

    // Under /var/tmp, not a tmpfs /tmp: containerd's overlay snapshotter needs a real filesystem.
    let tmp = tempfile::Builder::new()
        .prefix("etcdbak-node-")
        .tempdir_in("/var/tmp")
        .expect("node temp dir");
    let d = tmp.keep();
    for sub in ["pids", "cni", "pod-logs", "kubelet", "containerd"] {
        std::fs::create_dir_all(d.join(sub)).expect("node dirs");
    }
    let cgroup = format!("etcdbak-node-{}", std::process::id());
    // Per process, so two nodes on one machine never share a bridge (names are at most 15 characters).
    let bridge = format!("ebk{}", std::process::id() % 1_000_000);
    let subnet = format!("10.254.{}.0/24", std::process::id() % 250);
    let ctr_address = d.join("containerd/containerd.sock");
    // Beside the dir, not in it: the teardown kills every process whose command line names the dir.
    let teardown = PathBuf::from(format!("{}.teardown.sh", d.display()));
    write(
        &teardown,
        teardown_script(&d, &ctr_address, &cgroup, &bridge, &subnet),
    );
    // Spawned before anything starts, so even a start that panics half-way is cleaned up.
    let _ = Command::new("sh")
        .arg(&teardown)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();

    let pki = pki();
    let kubelet_client = d.join("kubelet-client");
    let (cert, key) = pki.client("kube-apiserver-kubelet-client", Some("system:masters"));
    write(&kubelet_client.with_extension("crt"), cert);
    write(&kubelet_client.with_extension("key"), key);
    let plane = start_control_plane(
        &d,
        &pki,
        ApiServerFlags {
            authorization_mode: "Node,RBAC",
            service_account_admission: true,
            extra: vec![
                // The node's name resolves to 127.0.0.1; its status carries no loopback address.
                "--kubelet-preferred-address-types=Hostname".into(),
                format!(
                    "--kubelet-client-certificate={}",
                    kubelet_client.with_extension("crt").display()
                ),
                format!(
                    "--kubelet-client-key={}",
                    kubelet_client.with_extension("key").display()
                ),
            ],
        },
    );
    let url = plane.url.clone();
    let ca = d.join("ca.crt");
    let pid_file = |name: &str, p: &Proc| {
        if let Some(pid) = p.pid() {
            write(&d.join("pids").join(name), pid.to_string());
            reap_with_test_process(pid);
        }
    };
    if let Some(pid) = plane.apiserver.pid() {
        write(&d.join("pids/kube-apiserver"), pid.to_string());
    }
    let mut procs = Vec::new();

    // kube-controller-manager and kube-scheduler as the admin (system:masters): one identity is enough here.
    let admin = plane.kubeconfig.clone();
    let cm = Proc::spawn(
        "kube-controller-manager",
        Command::new(rig_bin("kube-controller-manager"))
            .arg(format!("--kubeconfig={}", admin.display()))
            .arg(format!("--authentication-kubeconfig={}", admin.display()))
            .arg(format!("--authorization-kubeconfig={}", admin.display()))
            .arg(format!(
                "--service-account-private-key-file={}",
                plane.sa_key.display()
            ))
            .arg(format!("--root-ca-file={}", ca.display()))
            .arg("--use-service-account-credentials=false")
            .arg("--leader-elect=false")
            .arg("--controllers=*")
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={}", free_port()))
            .arg("--v=1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&d, "kube-controller-manager")),
    );
    pid_file("kube-controller-manager", &cm);
    procs.push(cm);
    let sched = Proc::spawn(
        "kube-scheduler",
        Command::new(rig_bin("kube-scheduler"))
            .arg(format!("--kubeconfig={}", admin.display()))
            .arg(format!("--authentication-kubeconfig={}", admin.display()))
            .arg(format!("--authorization-kubeconfig={}", admin.display()))
            .arg("--leader-elect=false")
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={}", free_port()))
            .arg("--v=1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&d, "kube-scheduler")),
    );
    pid_file("kube-scheduler", &sched);
    procs.push(sched);

    // containerd: its own root, state, socket and runc root, so nothing is shared with any other containerd.
    let pause = index
        .get("pause")
        .expect("the rig's pause image (scripts/rig-install images)")
        .0
        .clone();
    // Pods that are not on the host network (the restore runbook's helper pods) still need an eth0 with an
    // address, or containerd refuses the sandbox. A bridge without an address of its own, no gateway and no
    // masquerading gives them exactly that and nothing more: a pod can reach no one, and nothing reaches it.
    // The blackhole route keeps anything on the host that dials a pod address (nothing here does) from
    // falling through to the default route.
    write(
        &d.join("cni/10-pods.conflist"),
        format!(
            r#"{{"cniVersion":"0.4.0","name":"etcdbak-node","plugins":[{{"type":"bridge","bridge":"{bridge}","isGateway":false,"ipMasq":false,"hairpinMode":false,"ipam":{{"type":"host-local","dataDir":"{ipam}","ranges":[[{{"subnet":"{subnet}"}}]]}}}}]}}"#,
            ipam = d.join("cni-ipam").display(),
        ),
    );
    let _ = Command::new("ip")
        .args(["route", "add", "blackhole", &subnet])
        .stderr(Stdio::null())
        .status();
    let p = |sub: &str| d.join(sub).display().to_string();
    write(
        &d.join("containerd/config.toml"),
        format!(
            r#"version = 2
root = "{root}"
state = "{state}"
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  # This machine refuses a negative oom_score_adj; without this every sandbox fails to start.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # Pod network namespaces under the state dir, so the teardown finds and unmounts them.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "{runc}"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni}"
"#,
            root = p("containerd/root"),
            state = p("containerd/state"),
            sock = ctr_address.display(),
            opt = p("containerd/opt"),
            runc = p("runc"),
            cni = p("cni"),
        ),
    );
    let path_env = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    let containerd = Proc::spawn(
        "containerd",
        Command::new("containerd")
            .arg("--config")
            .arg(d.join("containerd/config.toml"))
            .env("PATH", path_env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&d, "containerd")),
    );
    if let Some(pid) = containerd.pid() {
        reap_with_test_process(pid);
    }
    procs.push(containerd);
    wait_until("containerd", Duration::from_secs(60), || {
        Command::new("ctr")
            .arg("--address")
            .arg(&ctr_address)
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });

    // The images, named as the index says; etcdbak's under the chart's default repository.
    let mut images = BTreeMap::new();
    let mut archives: Vec<(String, String, PathBuf)> = index
        .iter()
        .map(|(name, (reference, archive))| (name.clone(), reference.clone(), archive.clone()))
        .collect();
    archives.push((
        "etcdbak".into(),
        format!("{ETCDBAK_REPOSITORY}:{}", env!("CARGO_PKG_VERSION")),
        etcdbak_archive,
    ));
    for (name, reference, archive) in archives {
        let base = reference
            .rsplit_once(':')
            .map(|(b, _)| b.to_string())
            .unwrap_or_else(|| reference.clone());
        run_ok(
            Command::new("ctr")
                .arg("--address")
                .arg(&ctr_address)
                .args(["-n", "k8s.io", "images", "import", "--base-name", &base])
                .arg(&archive),
            &format!("importing {}", archive.display()),
        );
        images.insert(name, reference);
    }
    let listed = run_ok(
        Command::new("ctr")
            .arg("--address")
            .arg(&ctr_address)
            .args(["-n", "k8s.io", "images", "ls", "-q"]),
        "ctr images ls",
    );
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    for reference in images.values() {
        assert!(
            listed.lines().any(|l| l == reference),
            "{reference} is not in containerd after its import:\n{listed}"
        );
    }

    // The kubelet, as system:node:<name> (the Node authorizer's identity), in its own cgroup root.
    for h in cgroup_hierarchies() {
        let _ = std::fs::create_dir_all(h.join(&cgroup));
    }
    let (cert, key) = pki.client(&format!("system:node:{NODE_NAME}"), Some("system:nodes"));
    write(&d.join("kubelet.crt"), cert);
    write(&d.join("kubelet.key"), key);
    write(
        &d.join("kubelet.kubeconfig"),
        kubeconfig_for(&url, &ca, &d.join("kubelet.crt"), &d.join("kubelet.key")),
    );
    let kubelet_port = free_port();
    write(
        &d.join("kubelet.yaml"),
        format!(
            r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: {kubelet_port}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: {healthz}
# The machine has the cgroup v1 hierarchy; kubelets refuse it unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /{cgroup}
failSwapOn: false
containerRuntimeEndpoint: unix://{sock}
podLogsDir: {logs}
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: false}}
  x509: {{clientCAFile: {ca}}}
authorization:
  mode: AlwaysAllow
# A shared, busy disk: neither evict pods nor collect the preloaded images (nothing can be pulled again).
evictionHard: {{memory.available: "1Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
localStorageCapacityIsolation: false
serializeImagePulls: false
resolvConf: /etc/resolv.conf
# Secrets and ConfigMaps reach running pods quickly (the default cache is a minute).
syncFrequency: 10s
nodeStatusUpdateFrequency: 5s
"#,
            healthz = free_port(),
            sock = ctr_address.display(),
            logs = p("pod-logs"),
            ca = ca.display(),
        ),
    );
    let kubelet = Proc::spawn(
        "kubelet",
        Command::new(rig_bin("kubelet"))
            .arg(format!(
                "--kubeconfig={}",
                d.join("kubelet.kubeconfig").display()
            ))
            .arg(format!("--config={}", d.join("kubelet.yaml").display()))
            .arg(format!("--root-dir={}", p("kubelet")))
            .arg(format!("--hostname-override={NODE_NAME}"))
            .arg("--node-ip=127.0.0.1")
            .arg("--v=1")
            .env("PATH", path_env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&d, "kubelet")),
    );
    pid_file("kubelet", &kubelet);
    procs.push(kubelet);

    let mut node = Node {
        dir: d.clone(),
        kubeconfig: plane.kubeconfig.clone(),
        url,
        api_port: plane.port,
        images,
        startup: Duration::ZERO,
        _plane: plane,
        _procs: procs,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = node.client().await;
        let nodes: Api<KubeNode> = Api::all(client.clone());
        let start = Instant::now();
        loop {
            let current = nodes.get_opt(NODE_NAME).await.ok().flatten();
            // The kubelet refuses a loopback node IP (--node-ip=127.0.0.1: "nodeIP can't be loopback") and
            // then sets no address at all, so nothing on the node ever dials the machine's other interfaces.
            // The apiserver still needs one to reach the kubelet for logs, exec and cp: the node's name,
            // which resolves to 127.0.0.1. The kubelet leaves addresses it did not compute alone.
            let addressed = current
                .as_ref()
                .and_then(|n| n.status.as_ref())
                .and_then(|s| s.addresses.as_ref())
                .is_some_and(|a| !a.is_empty());
            if current.is_some() && !addressed {
                let patch = serde_json::json!({"status": {"addresses": [
                    {"type": "Hostname", "address": NODE_NAME}
                ]}});
                let _ = nodes
                    .patch_status(
                        NODE_NAME,
                        &kube::api::PatchParams::default(),
                        &kube::api::Patch::Merge(patch),
                    )
                    .await;
            }
            let ready = current
                .and_then(|n| n.status)
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            if ready && addressed {
                break;
            }
            if start.elapsed() > Duration::from_secs(180) {
                panic!(
                    "node {NODE_NAME} not Ready after 180s\n--- kubelet ---\n{}\n--- containerd ---\n{}",
                    node.log_tail("kubelet", 40),
                    node.log_tail("containerd", 20)
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        node.wait_default_service_account(&client, "default").await;
    });
    node.startup = started.elapsed();
    println!(
        "MEASURE: node Ready (apiserver, controller-manager, scheduler, containerd, kubelet, {} images) in {:.1?}",
        node.images.len(),
        node.startup
    );
    node
}

/// The rig's image index (`scripts/rig-install images`): name → (reference, archive).
fn rig_images() -> BTreeMap<String, (String, PathBuf)> {
    let bin = rig_bin("kubelet");
    let cache = bin
        .parent()
        .and_then(Path::parent)
        .expect("the rig bin dir sits in the rig cache")
        .to_path_buf();
    let index = cache.join("images/index");
    let text = std::fs::read_to_string(&index).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): run scripts/rig-install",
            index.display()
        )
    });
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if let (Some(name), Some(reference), Some(archive)) =
            (words.next(), words.next(), words.next())
        {
            out.insert(
                name.to_string(),
                (reference.to_string(), PathBuf::from(archive)),
            );
        }
    }
    for name in ["pause", "etcd", "minio", "mc", "busybox"] {
        assert!(
            out.contains_key(name),
            "the rig has no {name} image: run scripts/rig-install images"
        );
    }
    out
}

/// etcdbak's image archive from `scripts/image` (ETCDBAK_IMAGE_ARCHIVE overrides the path).
fn etcdbak_image_archive() -> PathBuf {
    let path = std::env::var_os("ETCDBAK_IMAGE_ARCHIVE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
            target.join("image/etcdbak.oci.tar")
        });
    assert!(
        path.exists(),
        "{} is missing: run scripts/image (or set ETCDBAK_IMAGE_ARCHIVE)",
        path.display()
    );
    path
}
