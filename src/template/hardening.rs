//! The locked-down security settings every container gets where its template leaves them unset.

use k8s_openapi::api::core::v1::{Capabilities, SeccompProfile, SecurityContext};

/// A template's own settings win; every field it leaves unset gets the locked-down value.
pub(super) fn hardened_security_context(own: Option<SecurityContext>) -> SecurityContext {
    let mut sc = own.unwrap_or_default();
    sc.allow_privilege_escalation.get_or_insert(false);
    sc.read_only_root_filesystem.get_or_insert(true);
    sc.run_as_non_root.get_or_insert(true);
    sc.privileged.get_or_insert(false);
    // A template that adds a capability (or drops a few) still drops every other one: what it adds is all
    // it gets.
    let caps = sc.capabilities.get_or_insert_with(Capabilities::default);
    let drop = caps.drop.get_or_insert_with(Vec::new);
    if !drop.iter().any(|c| c == "ALL") {
        drop.insert(0, "ALL".into());
    }
    sc.seccomp_profile.get_or_insert_with(runtime_default);
    sc
}

pub(super) fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".into(),
        localhost_profile: None,
    }
}
