//! Asking one endpoint for its status (and a member for its name), within the dial timeout.

use std::time::Duration;

use etcd_client::Client;
use tracing::{info, warn};

use super::classify::{self, Failure};
use super::select::{MemberStatus, Probe};
use super::setup::Setup;

pub(super) fn etcd_failure(e: &etcd_client::Error) -> Failure {
    let (code, links) = classify::links_of(e);
    let failure = classify::classify(code, &links);
    tracing::debug!(grpc_code = ?code, chain = ?links, kind = ?failure.kind, "etcd error");
    failure
}

pub(super) async fn probe(endpoint: String, cfg: &Setup) -> Probe {
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

pub(super) async fn member_name(client: &mut Client, id: u64, dial: Duration) -> String {
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
