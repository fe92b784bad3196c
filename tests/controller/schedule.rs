//! What the controller renders for a Cluster and what it refuses, one reconcile at a time in-process against
//! the real kube-apiserver (tests/common/kube.rs): the CronJob following spec and config edits, retention
//! reaching the store container, and invalid specs or configs as conditions and Events. Every test holds
//! `serial()`: they share one apiserver and count its writes.

use etcdbak::controller::{Error, FINALIZER};
use etcdbak::crd::Cluster;
use etcdbak::naming;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kube::ResourceExt;

use crate::common::controller::*;
use crate::common::kube::{rig, serial, write_counts, writes_between};

#[tokio::test]
async fn cluster_gets_a_cronjob_that_follows_edits_and_idles_without_writes() {
    let _serial = serial().await;
    let client = rig().client().await;
    let name = "edits";
    tenant(&client, "tenant-edits").await;
    create_cluster(&client, &new_cluster(name, "tenant-edits")).await;
    let ctx = context(&client, test_config(""));

    // First reconcile: only the finalizer, before anything exists that would need cleaning up.
    reconcile_once(&ctx, name).await.unwrap();
    let api: Api<Cluster> = Api::all(client.clone());
    let c = api.get(name).await.unwrap();
    assert!(c.finalizers().iter().any(|f| f == FINALIZER));
    assert!(cron_job(&client, name).await.is_none());

    reconcile_once(&ctx, name).await.unwrap();
    let cj = cron_job(&client, name)
        .await
        .expect("the CronJob (accepted by the apiserver's validation)");
    let spec = cj.spec.as_ref().unwrap();
    let expected = etcdbak::schedule::expand("H/20 * * * *", name).unwrap();
    assert_eq!(spec.schedule, expected);
    assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
    assert_eq!(spec.suspend, Some(false));
    assert_eq!(store_env(&cj, "CLUSTER").as_deref(), Some(name));
    assert_eq!(store_env(&cj, "KEEP").as_deref(), Some("20"));
    let owner = &cj.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(owner.kind, "Cluster");
    assert_eq!(Some(&owner.uid), c.metadata.uid.as_ref());
    let secrets: Api<Secret> = Api::namespaced(client.clone(), JOB_NS);
    let mirrored = secrets
        .get(&naming::tls_secret_name(name))
        .await
        .expect("the mirrored TLS Secret");
    assert_eq!(
        mirrored.data.unwrap().get("tls.key").map(|b| b.0.clone()),
        Some(b"key".to_vec())
    );
    let c = api.get(name).await.unwrap();
    let cond = condition(&c, "BackupScheduled").expect("BackupScheduled condition");
    assert_eq!(cond.status, "True", "{cond:?}");
    let status = c.status.as_ref().unwrap();
    assert_eq!(status.schedule.as_deref(), Some(expected.as_str()));
    assert_eq!(
        status.cron_job_name.as_deref(),
        Some(format!("{JOB_NS}/{}", naming::cron_job_name(name)).as_str())
    );
    assert_eq!(status.observed_generation, c.metadata.generation);

    // Idle resync: nothing changed, so nothing is written. Counted by the apiserver itself.
    let before = write_counts(&client).await;
    for _ in 0..3 {
        reconcile_once(&ctx, name).await.unwrap();
    }
    let writes = writes_between(&before, &write_counts(&client).await);
    println!("writes during 3 idle reconciles: {writes:?}");
    assert!(writes.is_empty(), "idle reconciles wrote: {writes:?}");

    // Schedule and keep edits reach the CronJob.
    patch_spec(
        &client,
        name,
        serde_json::json!({"schedule": "H 3 * * *", "keep": 7}),
    )
    .await;
    let before = write_counts(&client).await;
    reconcile_once(&ctx, name).await.unwrap();
    let writes = writes_between(&before, &write_counts(&client).await);
    println!("writes for one schedule+keep edit: {writes:?}");
    assert!(writes.contains_key("APPLY/cronjobs") || writes.contains_key("PATCH/cronjobs"));
    assert!(
        !writes.contains_key("APPLY/secrets"),
        "the Secret did not change: {writes:?}"
    );
    let cj = cron_job(&client, name).await.unwrap();
    assert_eq!(
        cj.spec.as_ref().unwrap().schedule,
        etcdbak::schedule::expand("H 3 * * *", name).unwrap()
    );
    assert_eq!(store_env(&cj, "KEEP").as_deref(), Some("7"));

    // A template change in the controller config reaches the CronJob too.
    ctx.set_config(test_config(
        "storeContainer:\n  name: store\n  image: registry.example/custom-store:1\n  command: [/bin/custom-store]\n  volumeMounts: [{name: etcd-backup, mountPath: /backup}]\n",
    ));
    reconcile_once(&ctx, name).await.unwrap();
    let cj = cron_job(&client, name).await.unwrap();
    let pod = cj
        .spec
        .unwrap()
        .job_template
        .spec
        .unwrap()
        .template
        .spec
        .unwrap();
    let store = pod.containers.iter().find(|c| c.name == "store").unwrap();
    assert_eq!(
        store.image.as_deref(),
        Some("registry.example/custom-store:1")
    );
    assert_eq!(
        store.command.as_deref(),
        Some(&["/bin/custom-store".to_string()][..])
    );

    // Suspend keeps the CronJob, suspended.
    patch_spec(&client, name, serde_json::json!({"suspend": true})).await;
    reconcile_once(&ctx, name).await.unwrap();
    let cj = cron_job(&client, name).await.unwrap();
    assert_eq!(cj.spec.unwrap().suspend, Some(true));
    let c = api.get(name).await.unwrap();
    assert_eq!(
        condition(&c, "BackupScheduled").unwrap().reason,
        "Suspended"
    );

    purge(&client, name).await;
}

/// A Cluster's `spec.retention` passes the CRD's schema and CEL rule only when it keeps something, and
/// reaches the store container of the CronJob the apiserver accepted as `ETCDBAK_KEEP*`.
#[tokio::test]
async fn a_clusters_retention_is_validated_and_reaches_the_store_container() {
    let _serial = serial().await;
    let client = rig().client().await;
    tenant(&client, "tenant-retention").await;
    let refused = [
        (
            serde_json::json!({"keepLast": 0}),
            "retention keeps nothing",
        ),
        (
            serde_json::json!({"keepLast": 0, "keepWithin": "0d"}),
            "retention keeps nothing",
        ),
        (serde_json::json!({"keepDaily": -1}), "keepDaily"),
        (serde_json::json!({"keepWithin": "7days"}), "keepWithin"),
    ];
    // Sent as raw JSON: a negative count does not even fit the Rust type.
    let ar = kube::api::ApiResource::erase::<Cluster>(&());
    let raw: Api<kube::api::DynamicObject> = Api::all_with(client.clone(), &ar);
    for (i, (retention, says)) in refused.iter().enumerate() {
        let mut c = serde_json::to_value(new_cluster(
            &format!("bad-retention-{i}"),
            "tenant-retention",
        ))
        .unwrap();
        c["spec"]["retention"] = retention.clone();
        let obj: kube::api::DynamicObject = serde_json::from_value(c).unwrap();
        let err = raw
            .create(&PostParams::default(), &obj)
            .await
            .expect_err(&format!("{retention} was accepted"));
        assert!(err.to_string().contains(says), "{retention}: {err}");
    }

    let name = "retention";
    let mut c = new_cluster(name, "tenant-retention");
    c.spec.retention = Some(etcdbak::crd::RetentionSpec {
        keep_last: Some(0),
        keep_daily: Some(7),
        keep_within: Some("2d".into()),
        ..Default::default()
    });
    create_cluster(&client, &c).await;
    let ctx = context(&client, test_config(""));
    converge(&ctx, name).await;
    let cj = cron_job(&client, name).await.expect("the CronJob");
    assert_eq!(store_env(&cj, "ETCDBAK_KEEP").as_deref(), Some("0"));
    assert_eq!(store_env(&cj, "ETCDBAK_KEEP_DAILY").as_deref(), Some("7"));
    assert_eq!(store_env(&cj, "ETCDBAK_KEEP_WITHIN").as_deref(), Some("2d"));
    assert_eq!(store_env(&cj, "ETCDBAK_KEEP_HOURLY"), None);

    // An edit reaches it too, and the config's block applies once the Cluster drops its own.
    patch_spec(
        &client,
        name,
        serde_json::json!({"retention": {"keepWeekly": 4}}),
    )
    .await;
    reconcile_once(&ctx, name).await.unwrap();
    let cj = cron_job(&client, name).await.unwrap();
    assert_eq!(store_env(&cj, "ETCDBAK_KEEP_WEEKLY").as_deref(), Some("4"));
    ctx.set_config(test_config("retention:\n  keepMonthly: 12\n"));
    patch_spec(&client, name, serde_json::json!({"retention": null})).await;
    reconcile_once(&ctx, name).await.unwrap();
    let cj = cron_job(&client, name).await.unwrap();
    assert_eq!(
        store_env(&cj, "ETCDBAK_KEEP_MONTHLY").as_deref(),
        Some("12")
    );
    assert_eq!(store_env(&cj, "ETCDBAK_KEEP_WEEKLY"), None);
    assert_eq!(store_env(&cj, "ETCDBAK_KEEP").as_deref(), Some("20"));

    purge(&client, name).await;
}

#[tokio::test]
async fn invalid_cron_is_a_condition_and_an_event_and_deletes_without_cleanup() {
    let _serial = serial().await;
    let client = rig().client().await;
    let name = "badcron";
    tenant(&client, "tenant-bad").await;
    let mut c = new_cluster(name, "tenant-bad");
    // Five fields, so the schema's pattern accepts it; minute 61 is for the reconciler to reject.
    c.spec.schedule = Some("61 * * * *".into());
    create_cluster(&client, &c).await;
    let ctx = context(&client, test_config(""));

    reconcile_once(&ctx, name).await.unwrap(); // finalizer
    let err = reconcile_once(&ctx, name)
        .await
        .expect_err("an invalid schedule fails");
    assert!(
        matches!(
            err,
            Error::Invalid {
                reason: "InvalidSchedule",
                ..
            }
        ),
        "{err:?}"
    );
    let api: Api<Cluster> = Api::all(client.clone());
    let got = api.get(name).await.unwrap();
    let cond = condition(&got, "BackupScheduled").expect("condition");
    assert_eq!(
        (cond.status.as_str(), cond.reason.as_str()),
        ("False", "InvalidSchedule")
    );
    assert!(cond.message.contains("spec.schedule"), "{}", cond.message);
    assert_eq!(
        got.status.as_ref().unwrap().last_error.as_deref(),
        Some(cond.message.as_str())
    );
    assert!(cron_job(&client, name).await.is_none());

    // Cluster-scoped objects get their Events in "default".
    let list = events_for(&client, name, "InvalidSchedule").await;
    let ev = list
        .first()
        .expect("a Warning Event for the invalid schedule");
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    assert!(ev.note.as_deref().unwrap_or("").contains("spec.schedule"));

    // Retrying the same invalid spec writes nothing (no status flapping, no Event storm).
    let before = write_counts(&client).await;
    let _ = reconcile_once(&ctx, name).await;
    let writes = writes_between(&before, &write_counts(&client).await);
    assert!(writes.is_empty(), "{writes:?}");

    // It never had a backup CronJob: deletion is prompt, without a cleanup Job.
    delete_cluster(&client, name).await;
    reconcile_once(&ctx, name).await.unwrap();
    assert!(
        api.get_opt(name).await.unwrap().is_none(),
        "the Cluster is gone"
    );
    assert!(cleanup_jobs(&client, name).await.is_empty());
}

#[tokio::test]
async fn a_missing_secret_and_a_bad_template_are_conditions_that_say_what_to_fix() {
    let _serial = serial().await;
    let client = rig().client().await;
    let name = "nosecret";
    tenant(&client, "tenant-nosecret").await;
    let mut c = new_cluster(name, "tenant-nosecret");
    c.spec.tls_secret = Some("does-not-exist".into());
    create_cluster(&client, &c).await;
    let api: Api<Cluster> = Api::all(client.clone());

    // (config, expected reason, words the message must contain)
    let bad_template = test_config(
        "storeContainer:\n  name: store\n  image: registry.example/custom:1\n  command: [/bin/store]\n",
    );
    let cases = [
        (
            test_config(""),
            "TlsSecretNotFound",
            vec!["does-not-exist", "spec.tlsSecret"],
        ),
        (
            bad_template,
            "TemplateMissingBackupMount",
            vec!["etcd-backup", "/backup"],
        ),
    ];
    for (i, (config, reason, words)) in cases.into_iter().enumerate() {
        if i == 1 {
            patch_spec(
                &client,
                name,
                serde_json::json!({"tlsSecret": "etcd-client-tls"}),
            )
            .await;
        }
        let ctx = context(&client, config);
        let _ = reconcile_once(&ctx, name).await; // finalizer (first round only)
        let err = reconcile_once(&ctx, name).await.expect_err(reason);
        assert!(
            matches!(&err, Error::Invalid { reason: r, .. } if *r == reason),
            "{err:?}"
        );
        let got = api.get(name).await.unwrap();
        let cond = condition(&got, "BackupScheduled").unwrap();
        assert_eq!(
            (cond.status.as_str(), cond.reason.as_str()),
            ("False", reason)
        );
        for w in words {
            assert!(
                cond.message.contains(w),
                "{reason}: {:?} lacks {w:?}",
                cond.message
            );
        }
        assert!(cron_job(&client, name).await.is_none());
        assert!(!events_for(&client, name, reason).await.is_empty());
    }

    // Fixed: the next reconcile schedules it and clears the error.
    let ctx = context(&client, test_config(""));
    reconcile_once(&ctx, name).await.unwrap();
    let got = api.get(name).await.unwrap();
    assert_eq!(condition(&got, "BackupScheduled").unwrap().status, "True");
    assert_eq!(got.status.unwrap().last_error, None);
    assert!(cron_job(&client, name).await.is_some());
    purge(&client, name).await;
}
