//! The Object Lock flags `store` and `follow` share: every object they write (backups, and the
//! follower's segments and full backups) is locked the same way.

use std::time::Duration;

use crate::s3::lock::parse_retain;
use crate::s3::{LockMode, ObjectLock};

#[derive(Debug, Clone, clap::Args)]
pub struct LockArgs {
    /// Write each object (backup, segment) with S3 Object Lock (WORM) in this mode, so not even these
    /// credentials can delete it before --object-lock-retain has passed: `governance` (lifted only with
    /// s3:BypassGovernanceRetention) or `compliance` (by nobody). The bucket must have Object Lock enabled,
    /// else the run fails naming it; every PUT then carries Content-MD5. See docs/OBJECT-LOCK.md.
    #[arg(
        long,
        env = "ETCDBAK_OBJECT_LOCK_MODE",
        value_enum,
        value_name = "MODE",
        requires = "object_lock_retain"
    )]
    pub object_lock_mode: Option<LockModeArg>,
    /// How long each object stays locked from its upload: days, hours, minutes, seconds in that order
    /// (30d, 1d12h). Retention and prune keep a backup (or segment) until its lock expires, then delete
    /// every version.
    #[arg(long, env = "ETCDBAK_OBJECT_LOCK_RETAIN", value_parser = parse_retain,
          value_name = "DURATION", requires = "object_lock_mode")]
    pub object_lock_retain: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LockModeArg {
    /// Locked; a principal with s3:BypassGovernanceRetention can still lift it.
    Governance,
    /// Locked for everyone, the bucket's root account included, until the date.
    Compliance,
}

impl LockArgs {
    /// The lock the two flags ask for; clap makes them come together.
    pub fn lock(&self) -> Option<ObjectLock> {
        let mode = match self.object_lock_mode? {
            LockModeArg::Governance => LockMode::Governance,
            LockModeArg::Compliance => LockMode::Compliance,
        };
        Some(ObjectLock {
            mode,
            retain: self.object_lock_retain?,
        })
    }
}
