//! The config's `destinations`, end to end: the CronJob the controller renders gives its store container
//! `ETCDBAK_DESTINATIONS` and the second destination's keys from its own Secret (`credentialsSecret`), and
//! one run of that pod puts the same backup in MinIO (the `s3` section) and in versitygw (`dr`), each with
//! its own keys.

use etcdbak::crd::Cluster;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};

use crate::common::etcd::EtcdCluster;
use crate::common::versitygw::{self, Versitygw};
use crate::world::*;

const TWICE: &str = "twice-etcd";
const DR_SECRET: &str = "etcdbak-s3-dr";

#[test]
fn a_configured_second_destination_gets_the_same_backup_with_its_own_keys() {
    let World {
        _serial,
        rt,
        etcd,
        minio,
        client,
        scratch: _scratch,
        setup,
    } = world_with(EtcdCluster::start(1, false));
    let vgw = Versitygw::start();
    // The config, as derived from examples/config.yaml, with versitygw as a second destination.
    let text = std::fs::read_to_string(&setup.config).expect("config");
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("config YAML");
    let dr = format!(
        "{{name: dr, endpoint: '{}', bucket: {}, credentialsSecret: {DR_SECRET}}}",
        vgw.endpoint(),
        versitygw::BUCKET
    );
    doc["destinations"] = serde_yaml::from_str(&format!("[{dr}]")).expect("destinations");
    std::fs::write(&setup.config, serde_yaml::to_string(&doc).unwrap()).expect("write config");
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(DR_SECRET.into()),
            namespace: Some(setup.job_ns.clone()),
            ..Default::default()
        },
        string_data: Some(
            [
                (
                    "AWS_ACCESS_KEY_ID".to_string(),
                    versitygw::ACCESS_KEY.to_string(),
                ),
                (
                    "AWS_SECRET_ACCESS_KEY".to_string(),
                    versitygw::SECRET_KEY.to_string(),
                ),
            ]
            .into(),
        ),
        ..Default::default()
    };
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &setup.job_ns);
    rt.block_on(create_or_replace(&secrets, &secret));

    etcd.put_keys("/registry/twice/", 30, 100);
    let clusters: Api<Cluster> = Api::all(client.clone());
    let mut c = cluster(TWICE, TENANT_NS, &etcd, None);
    c.spec.tls_secret = None;
    rt.block_on(clusters.create(&PostParams::default(), &c))
        .expect("the Cluster");
    reconcile(&setup);
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), &setup.job_ns);
    let cj = rt
        .block_on(cron_jobs.get(&etcdbak::naming::cron_job_name(TWICE)))
        .expect("the CronJob");
    let (meta, snapshot, pod) = run_backup(&rt, &client, &setup, &cj, 1);
    drop(pod);
    let key = expected_key(&setup.prefix, &meta);
    assert_eq!(
        backup_keys(&minio, &setup.prefix, TWICE),
        std::slice::from_ref(&key)
    );
    let prefix = format!("{}/{TWICE}/", setup.prefix);
    assert_eq!(
        vgw.keys(&prefix),
        std::slice::from_ref(&key),
        "versitygw has no copy"
    );
    let on_vgw = std::fs::read(vgw.object_file(&key)).expect("the copy");
    assert_eq!(on_vgw, minio.get(&key), "the two copies differ");
    assert_eq!(
        decompressed(&on_vgw),
        snapshot,
        "the copy is not the snapshot"
    );
    rt.block_on(clusters.delete(TWICE, &Default::default()))
        .expect("deleting the Cluster");
}
