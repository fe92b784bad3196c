//! The controller's backlog, as far as it can be seen: kube-runtime's Controller does not expose its work
//! queue, so the honest stand-in is the Clusters whose current spec no reconcile has finished yet
//! (`metadata.generation` is not `status.observedGeneration`, which every finished apply records, a refused
//! spec included), counted from the Controller's own cache when `/metrics` is scraped. A Cluster being
//! deleted is counted by `etcdbak_cleanups_pending` instead. Pure.

use kube::Resource;

use crate::crd::Cluster;

/// True when a reconcile has finished for the Cluster's current spec (or it is being deleted).
pub fn converged(cluster: &Cluster) -> bool {
    let meta = cluster.meta();
    if meta.deletion_timestamp.is_some() {
        return true;
    }
    let observed = cluster.status.as_ref().and_then(|s| s.observed_generation);
    observed.is_some() && observed == meta.generation
}

/// How many of `clusters` are not [`converged`].
pub fn not_converged<'a>(clusters: impl IntoIterator<Item = &'a Cluster>) -> usize {
    clusters.into_iter().filter(|c| !converged(c)).count()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kube::runtime::reflector::store::Writer;
    use kube::runtime::watcher::Event;

    use super::*;
    use crate::crd::ClusterStatus;

    fn cluster(name: &str, generation: Option<i64>, observed: Option<i64>) -> Cluster {
        let mut c: Cluster = serde_json::from_value(serde_json::json!({
            "apiVersion": "etcdbak.io/v1alpha1", "kind": "Cluster",
            "metadata": { "name": name },
            "spec": { "endpoints": ["https://etcd:2379"], "namespace": "tenant" },
        }))
        .expect("a Cluster");
        c.metadata.generation = generation;
        c.status = observed.map(|g| ClusterStatus {
            observed_generation: Some(g),
            ..Default::default()
        });
        c
    }

    #[test]
    fn a_cluster_is_converged_once_its_generation_is_observed() {
        let mut deleted = cluster("d", Some(4), Some(3));
        deleted.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
        let table = [
            (cluster("new", Some(1), None), false),
            (cluster("edited", Some(3), Some(2)), false),
            (cluster("done", Some(3), Some(3)), true),
            (cluster("no-generation", None, Some(1)), false),
            (deleted, true),
        ];
        for (c, want) in &table {
            assert_eq!(converged(c), *want, "{:?}", c.metadata.name);
        }
        assert_eq!(not_converged(table.iter().map(|(c, _)| c)), 3);
    }

    /// Counted as the controller counts it: from a reflector store as the watch fills it.
    #[test]
    fn the_backlog_follows_the_controllers_cache() {
        let mut writer: Writer<Cluster> = Writer::default();
        let store = writer.as_reader();
        let count = || not_converged(store.state().iter().map(|c| c.as_ref()));
        writer.apply_watcher_event(&Event::Apply(cluster("a", Some(1), None)));
        writer.apply_watcher_event(&Event::Apply(cluster("b", Some(2), Some(2))));
        assert_eq!(count(), 1);
        writer.apply_watcher_event(&Event::Apply(cluster("a", Some(1), Some(1))));
        writer.apply_watcher_event(&Event::Apply(cluster("b", Some(3), Some(2))));
        assert_eq!(count(), 1);
        writer.apply_watcher_event(&Event::Delete(cluster("b", Some(3), Some(2))));
        assert_eq!(count(), 0);
    }
}
