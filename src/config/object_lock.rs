//! S3 Object Lock on the backups (docs/OBJECT-LOCK.md): the config's fleet default and a Cluster's own, as
//! the store container's `ETCDBAK_OBJECT_LOCK_MODE` and `ETCDBAK_OBJECT_LOCK_RETAIN`. Pure.

use crate::crd::ObjectLockSpec;

/// The lock one Cluster's backups get: its own `spec.objectLock`, else the config's; `None` leaves them
/// unlocked. A Cluster cannot turn off a lock the config sets (WORM is the platform's promise). `Err` names
/// the field that is wrong.
pub fn effective<'a>(
    config: Option<&'a ObjectLockSpec>,
    cluster: Option<&'a ObjectLockSpec>,
) -> Result<Option<&'a ObjectLockSpec>, String> {
    let Some(lock) = cluster.or(config) else {
        return Ok(None);
    };
    crate::s3::lock::parse_retain(&lock.retain).map_err(|e| format!("objectLock.retain: {e}"))?;
    Ok(Some(lock))
}

/// The env vars that hand it to `etcdbak store`, as (name, value).
pub fn env(lock: &ObjectLockSpec) -> [(&'static str, String); 2] {
    [
        ("ETCDBAK_OBJECT_LOCK_MODE", lock.mode.as_str().to_string()),
        ("ETCDBAK_OBJECT_LOCK_RETAIN", lock.retain.trim().to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::ObjectLockMode;

    fn lock(mode: ObjectLockMode, retain: &str) -> ObjectLockSpec {
        ObjectLockSpec {
            mode,
            retain: retain.into(),
        }
    }

    #[test]
    fn the_clusters_lock_replaces_the_configs_and_is_checked() {
        let fleet = lock(ObjectLockMode::Governance, "30d");
        let own = lock(ObjectLockMode::Compliance, "7d");
        assert_eq!(effective(None, None), Ok(None));
        assert_eq!(effective(Some(&fleet), None), Ok(Some(&fleet)));
        assert_eq!(effective(Some(&fleet), Some(&own)), Ok(Some(&own)));
        assert_eq!(effective(None, Some(&own)), Ok(Some(&own)));
        let zero = lock(ObjectLockMode::Compliance, "0d");
        let e = effective(Some(&fleet), Some(&zero)).expect_err("0d");
        assert!(e.starts_with("objectLock.retain: "), "{e}");
        assert_eq!(
            env(&own),
            [
                ("ETCDBAK_OBJECT_LOCK_MODE", "compliance".to_string()),
                ("ETCDBAK_OBJECT_LOCK_RETAIN", "7d".to_string()),
            ]
        );
    }
}
