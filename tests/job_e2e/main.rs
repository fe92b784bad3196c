//! Issue 3's "end-to-end without a kubelet": the Jobs the controller renders really work, not just validate.
//!
//! Real servers only: a 3-member TLS etcd, MinIO, and the kube-apiserver rig (no kubelet, no
//! controller-manager). `etcdbak reconcile` (the binary) runs with a config derived from
//! examples/config.yaml, pointed at the rig's MinIO; the test reads the CronJob (and the mirrored TLS Secret)
//! it created back from the apiserver, creates a Job from its jobTemplate as the CronJob controller would,
//! and then plays kubelet for that Job's pod (tests/common/podrun.rs): volumes as temp dirs, env resolved
//! from the apiserver's Secrets, container paths mapped to those dirs, `etcdbak` replaced by the binary under
//! test. Then the backup is checked in the bucket, listed, downloaded and restored with etcdutl; retention
//! runs with the Cluster's `keep`; and the cleanup Job that deleting the Cluster produces is run the same way:
//! once succeeding, once really failing (a wrong S3 key: the finalizer and the backups stay, the retried Job
//! cleans up).
//!
//! Two tests pin down product bugs found here, both fixed: a backup Job in flight when its Cluster is
//! deleted uploaded after the cleanup (the controller now waits for it), and a Cluster named with a dot got
//! a CronJob whose store container always failed (such names are now refused).
//!
//! Timing is printed (run with `--nocapture`), never asserted.//!
//! One test binary (one apiserver); the world every test starts from is in world.rs.
#[path = "../common/mod.rs"]
mod common;

mod backup_and_cleanup;
mod deletion;
mod destinations;
mod object_lock;
mod variants;
mod world;
