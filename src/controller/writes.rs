//! The controller's writes to the apiserver, each skipped when it would change nothing: server-side apply
//! of a rendered object (compared by its spec hash), merge patches of a Cluster's status, Events, and
//! deletes that treat "already gone" as done.

use std::fmt::Debug;

use kube::api::{Api, DeleteParams, GetParams, Patch, PatchParams, PropagationPolicy};
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Context, Error, FIELD_MANAGER};
use crate::crd::{Cluster, ClusterStatus};
use crate::template;

fn hash_of<K: Resource>(obj: &K) -> Option<&String> {
    annotation(obj, template::HASH_ANNOTATION)
}

fn annotation<'a, K: Resource>(obj: &'a K, key: &str) -> Option<&'a String> {
    obj.meta().annotations.as_ref().and_then(|a| a.get(key))
}

/// True when `live` already is what we would apply: same spec hash and owned by this Cluster (a Cluster
/// re-created under the same name has a new uid).
pub fn up_to_date<K: Resource>(live: &K, desired: &K) -> bool {
    records_same(live, desired, template::HASH_ANNOTATION)
}

/// True when `live` carries `desired`'s value of the annotation `key` and the same owners.
pub fn records_same<K: Resource>(live: &K, desired: &K, key: &str) -> bool {
    let (Some(have), Some(want)) = (annotation(live, key), annotation(desired, key)) else {
        return false;
    };
    let owners = |o: &K| {
        o.meta()
            .owner_references
            .as_ref()
            .map(|refs| refs.iter().map(|r| r.uid.clone()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    have == want && owners(live) == owners(desired)
}

/// What [`apply_if_changed`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Applied {
    Unchanged,
    Created,
    Updated,
}

/// Server-side applies `desired` unless the live object already matches; returns what it did and the
/// object as the apiserver now has it (its status included).
pub(super) async fn apply_if_changed<K>(
    api: &Api<K>,
    desired: &K,
    what: &str,
) -> Result<(Applied, K), Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
{
    let live = read(api, &desired.name_any(), what).await?;
    apply_unless_live(api, desired, live, what).await
}

/// The live object, if there is one, as the apiserver's watch cache has it (`resourceVersion=0`): no etcd
/// round trip, which at fleet scale is most of a reconcile's cost. A cache a few milliseconds behind is
/// safe here: an object it still misses is applied again (an unchanged apply writes nothing), and a
/// change it has not seen yet arrives as a watch event that reconciles the Cluster once more.
pub(super) async fn read<K>(api: &Api<K>, name: &str, what: &str) -> Result<Option<K>, Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    match api.get_with(name, &GetParams::any()).await {
        Ok(live) => Ok(Some(live)),
        Err(kube::Error::Api(s)) if s.is_not_found() => Ok(None),
        Err(e) => Err(Error::kube(format!("read {what} {name}"), e)),
    }
}

/// [`apply_if_changed`] with the live object already read.
pub(super) async fn apply_unless_live<K>(
    api: &Api<K>,
    desired: &K,
    live: Option<K>,
    what: &str,
) -> Result<(Applied, K), Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
{
    let name = desired.name_any();
    let outcome = match live {
        Some(l) if up_to_date(&l, desired) => return Ok((Applied::Unchanged, l)),
        Some(l) => {
            tracing::debug!(
                "{what} {name} differs (hash {:?} -> {:?}): applying",
                hash_of(&l),
                hash_of(desired)
            );
            Applied::Updated
        }
        None => Applied::Created,
    };
    let applied = api
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(desired),
        )
        .await
        .map_err(|e| Error::kube(format!("apply {what} {name}"), e))?;
    Ok((outcome, applied))
}

/// Server-side applies `desired` without reading it first: for the mirrored TLS Secrets, which the
/// controller may write but not read (the S3 keys share their namespace, and RBAC cannot tell them apart).
pub(super) async fn apply_unread<K>(api: &Api<K>, desired: &K, what: &str) -> Result<(), Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
{
    let name = desired.name_any();
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(&name, &params, &Patch::Apply(desired))
        .await
        .map(|_| ())
        .map_err(|e| Error::kube(format!("apply {what} {name}"), e))
}

/// Status fields a merge patch must name as null to clear (every optional one).
const NULLABLE_STATUS_FIELDS: [&str; 9] = [
    "observedGeneration",
    "cronJobName",
    "schedule",
    "lastError",
    "lastSuccessfulTime",
    "lastScheduleTime",
    "lastVerified",
    "recoveryPoint",
    "recoveryRevision",
];

/// Writes `status` only when it differs from what the Cluster has.
pub(super) async fn patch_status(
    cluster: &Cluster,
    status: ClusterStatus,
    ctx: &Context,
) -> Result<bool, Error> {
    if cluster.status.as_ref() == Some(&status) {
        return Ok(false);
    }
    let mut value = serde_json::to_value(&status).map_err(|e| Error::Status(e.to_string()))?;
    // A merge patch only clears what it names as null.
    if let Some(map) = value.as_object_mut() {
        for key in NULLABLE_STATUS_FIELDS {
            map.entry(key).or_insert(serde_json::Value::Null);
        }
    }
    let api: Api<Cluster> = Api::all(ctx.client.clone());
    let name = cluster.name_any();
    api.patch_status(
        &name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({ "status": value })),
    )
    .await
    .map_err(|e| Error::kube(format!("update the status of Cluster {name}"), e))?;
    Ok(true)
}

/// [`patch_status`] for the apply path, skipping the write when our copy of the Cluster is out of date: a
/// reconcile triggered by a CronJob event can run before the Cluster's own last status update reached the
/// cache. A newer Cluster means its watch event is queued and that reconcile decides, with the real status.
pub(super) async fn patch_status_unless_stale(
    cluster: &Cluster,
    status: ClusterStatus,
    ctx: &Context,
) -> Result<bool, Error> {
    if cluster.status.as_ref() == Some(&status) {
        return Ok(false);
    }
    let api: Api<Cluster> = Api::all(ctx.client.clone());
    let name = cluster.name_any();
    let fresh = api
        .get_opt(&name)
        .await
        .map_err(|e| Error::kube(format!("read Cluster {name}"), e))?;
    if let Some(fresh) = fresh {
        if fresh.metadata.resource_version != cluster.metadata.resource_version {
            tracing::debug!(cluster = %name, "newer Cluster in the apiserver; its reconcile writes the status");
            return Ok(false);
        }
    }
    patch_status(cluster, status, ctx).await
}

pub(super) async fn publish(
    ctx: &Context,
    cluster: &Cluster,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    let event = Event {
        type_,
        reason: reason.to_string(),
        note: Some(note.chars().take(1000).collect()),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &cluster.object_ref(&())).await {
        // An Event is a courtesy: the condition already carries the same sentence.
        tracing::warn!(cluster = %cluster.name_any(), "cannot publish an Event: {e}");
    }
}

pub(super) async fn delete_if_present<K>(api: &Api<K>, name: &str, what: &str) -> Result<(), Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(Error::kube(format!("delete {what} {name}"), e)),
    }
}
