//! What the command line reads from the process environment beyond its flags' `ETCDBAK_*` variables: the
//! library reads no environment itself, so everything it needs from there is found here and handed over
//! as options.

/// This process's environment as the credential chain reads it.
pub fn credentials() -> crate::credentials::Env {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    crate::credentials::Env::new(std::env::vars(), home)
}

/// The chain's view of the `<prefix>AWS_*` variables, as `AWS_*` (a destination's own keys,
/// `credentials=env:PREFIX`); `None` when not one of them is set.
pub fn credentials_with_prefix(prefix: &str) -> Option<crate::credentials::Env> {
    let vars = crate::s3::destination::prefixed_vars(std::env::vars(), prefix);
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    (!vars.is_empty()).then(|| crate::credentials::Env::new(vars, home))
}

/// `KUBECONFIG`, an in-cluster service account (`KUBERNETES_SERVICE_HOST`), or `~/.kube/config`.
pub fn kubeconfig_present() -> bool {
    std::env::var_os("KUBECONFIG").is_some()
        || std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
        || std::env::var_os("HOME")
            .map(|h| std::path::Path::new(&h).join(".kube/config").exists())
            .unwrap_or(false)
}

/// This replica's name: `explicit`, else POD_NAME, else the hostname (HOSTNAME, then the kernel's), else
/// one made from the process id.
pub fn replica_identity(explicit: Option<String>) -> String {
    explicit
        .or_else(|| nonempty("POD_NAME"))
        .or_else(|| nonempty("HOSTNAME"))
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| format!("etcdbak-{}", std::process::id()))
}

/// A variable's value; empty counts as unset (pod specs often set `value: ""`).
pub fn nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
