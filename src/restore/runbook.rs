//! The restore runbook as a pure function: the cluster's facts in, numbered steps with exact commands out
//! (each step is built in [`super::steps`], rendered by [`super::render`]). docs/RESTORE.md explains the why
//! of each step at length; the `why` lines here are the short form an operator reads mid-incident.

use super::facts::{RestorePlan, Runbook};
use super::{download, steps, to_point};

/// The runbook for `plan`. Pure: the same plan always gives the same steps. A restore to a point adds
/// the chain check before anything is destroyed, and the replay between the members' health check and
/// the apiserver's start.
pub fn runbook(plan: &RestorePlan) -> Runbook {
    let point = plan.point.as_ref();
    let mut steps = vec![
        steps::suspend_backups(plan),
        download::download_and_verify(plan),
    ];
    if let Some(point) = point {
        steps.push(to_point::check_segments(plan, point));
        steps.push(to_point::stop_apiserver(plan));
    }
    steps.extend([steps::stop_members(plan), steps::restore_data_dirs(plan)]);
    steps.extend(
        plan.members
            .iter()
            .enumerate()
            .map(|(i, m)| steps::fill_pvc(plan, i, m)),
    );
    steps.extend([steps::start_members(plan), steps::check_health(plan)]);
    if let Some(point) = point {
        steps.push(to_point::replay(plan, point));
        steps.push(to_point::start_apiserver(plan));
    }
    steps.push(steps::resume_backups(plan));
    let title = match point {
        None => format!("Restore etcd cluster {} from a backup", plan.cluster),
        Some(p) => format!(
            "Restore etcd cluster {} to {}",
            plan.cluster,
            to_point::describe(p.target)
        ),
    };
    Runbook {
        title,
        facts: facts(plan),
        steps,
    }
}

/// The table at the top: what is being restored, from where, and under which new token.
fn facts(p: &RestorePlan) -> Vec<(String, String)> {
    let snap = &p.snapshot;
    let (cj_ns, cj_name) = &p.cronjob;
    let taken = snap
        .taken_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut rows = vec![
        ("Cluster".into(), p.cluster.clone()),
        (
            "StatefulSet".into(),
            format!(
                "{}/{} ({} members)",
                p.namespace,
                p.statefulset,
                p.members.len()
            ),
        ),
        ("Snapshot".into(), snap.key.clone()),
        (
            "Taken at".into(),
            format!(
                "{taken} (revision {}, {})",
                snap.revision,
                crate::list::human_bytes(snap.size_bytes)
            ),
        ),
        ("SHA-256".into(), snap.sha256.clone()),
        (
            "Bucket".into(),
            format!("s3://{}/{}", p.s3.bucket, snap.key),
        ),
    ];
    if let Some(name) = &p.destination {
        rows.push(("Destination".into(), download::located(name, &p.s3)));
    }
    for copy in &p.copies {
        let at = download::located(&copy.destination, &copy.s3);
        rows.push((
            "Also in".into(),
            format!("{at}, s3://{}/{}", copy.s3.bucket, copy.key),
        ));
    }
    rows.extend([
        ("New cluster token".into(), p.token.clone()),
        ("Backup CronJob".into(), format!("{cj_ns}/{cj_name}")),
        ("Local work dir".into(), p.workdir.clone()),
    ]);
    if let Some(point) = &p.point {
        rows.splice(4..4, to_point::facts(point));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Format;
    use crate::restore::facts::{Member, S3Location, Snapshot, TlsPaths};
    use crate::restore::render::{commands_in_text, render_markdown, render_text};

    fn plan() -> RestorePlan {
        let members = (0..3)
            .map(|i| Member {
                name: format!("etcd-{i}"),
                peer_url: format!("https://etcd-{i}.etcd.prod.svc:2380"),
            })
            .collect();
        RestorePlan {
            cluster: "prod-main".into(),
            namespace: "prod".into(),
            statefulset: "etcd".into(),
            members,
            endpoints: (0..3)
                .map(|i| format!("https://etcd-{i}.etcd.prod.svc:2379"))
                .collect(),
            tls: Some(TlsPaths {
                cacert: "/etc/etcd/tls/ca.crt".into(),
                cert: "/etc/etcd/tls/tls.crt".into(),
                key: "/etc/etcd/tls/tls.key".into(),
            }),
            identity: None,
            data_dir: "/var/lib/etcd".into(),
            volume_mount_path: "/var/lib/etcd".into(),
            volume_claim: "data".into(),
            helper_image: "busybox:1.36".into(),
            owner: None,
            snapshot: Snapshot {
                key: "etcdbak/prod-main/20261125T103000.123Z-r4711-0123abcd.db".into(),
                taken_at: "2026-11-25T10:30:00.123Z".parse().unwrap(),
                revision: 4711,
                size_bytes: 25 * 1024 * 1024 + 12345,
                sha256: "0123abcd".repeat(8),
                format: Format::PLAIN,
            },
            s3: S3Location {
                endpoint: Some("http://minio.backup.svc:9000".into()),
                region: "us-east-1".into(),
                bucket: "etcd-backups".into(),
                prefix: "etcdbak".into(),
            },
            destination: None,
            copies: Vec::new(),
            cronjob: ("etcdbak".into(), "etcdbak-prod-main".into()),
            token: "prod-main-restore-20261125120000".into(),
            workdir: "restore-prod-main".into(),
            bump_revision: 1_000_000_000,
            point: None,
            apiserver: None,
            now: "2026-11-25T12:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn members_parse_from_name_equals_peer_url() {
        assert_eq!(
            Member::parse("a=https://127.0.0.1:1"),
            Ok(Member {
                name: "a".into(),
                peer_url: "https://127.0.0.1:1".into()
            })
        );
        assert!(Member::parse("a").is_err());
        assert!(Member::parse("a=ftp://x").is_err());
        assert!(Member::parse("=https://x").is_err());
    }

    #[test]
    fn text_runbook() {
        insta::assert_snapshot!(render_text(&runbook(&plan())));
    }

    #[test]
    fn markdown_runbook() {
        insta::assert_snapshot!(render_markdown(&runbook(&plan())));
    }

    /// Backed up to two destinations: the runbook names the one it downloads from and the other copy, with
    /// the command that fetches it when the first store is down.
    #[test]
    fn text_runbook_with_a_second_destination() {
        use crate::restore::facts::Replica;
        let mut p = plan();
        p.destination = Some("primary".into());
        p.copies = vec![Replica {
            destination: "dr".into(),
            s3: S3Location {
                endpoint: None,
                region: "eu-central-1".into(),
                bucket: "etcd-backups-dr".into(),
                prefix: "dr".into(),
            },
            key: "dr/prod-main/20261125T103000.123Z-r4711-0123abcd.db".into(),
        }];
        insta::assert_snapshot!(render_text(&runbook(&p)));
    }

    /// The fixture plan for a backup stored as `format`, decrypted with `identity`.
    fn plan_for(format: Format, identity: Option<&str>) -> RestorePlan {
        let mut p = plan();
        p.snapshot.key = format!(
            "etcdbak/prod-main/20261125T103000.123Z-r4711-0123abcd{}",
            format.suffix()
        );
        p.snapshot.format = format;
        p.identity = identity.map(str::to_string);
        p
    }

    const IDENTITY: &str = "/secure/etcd-backup.agekey";

    #[test]
    fn text_runbook_zstd() {
        insta::assert_snapshot!(render_text(&runbook(&plan_for(Format::ZSTD, None))));
    }

    #[test]
    fn text_runbook_age() {
        insta::assert_snapshot!(render_text(&runbook(&plan_for(
            Format::AGE,
            Some(IDENTITY)
        ))));
    }

    #[test]
    fn text_runbook_zstd_age() {
        insta::assert_snapshot!(render_text(&runbook(&plan_for(
            Format::ZSTD_AGE,
            Some(IDENTITY)
        ))));
    }

    #[test]
    fn markdown_runbook_zstd() {
        insta::assert_snapshot!(render_markdown(&runbook(&plan_for(Format::ZSTD, None))));
    }

    #[test]
    fn markdown_runbook_age() {
        insta::assert_snapshot!(render_markdown(&runbook(&plan_for(
            Format::AGE,
            Some(IDENTITY)
        ))));
    }

    #[test]
    fn markdown_runbook_zstd_age() {
        insta::assert_snapshot!(render_markdown(&runbook(&plan_for(
            Format::ZSTD_AGE,
            Some(IDENTITY)
        ))));
    }

    #[test]
    fn each_format_downloads_with_what_it_needs_and_shows_the_standard_tools() {
        let table = [
            (Format::PLAIN, false, None),
            (Format::ZSTD, false, Some("zstd -d -c ")),
            (
                Format::AGE,
                true,
                Some("age -d -i /secure/etcd-backup.agekey "),
            ),
            (Format::ZSTD_AGE, true, Some(".db.zst.age | zstd -d > ")),
        ];
        for (format, needs_identity, decode) in table {
            let book = runbook(&plan_for(format, Some(IDENTITY)));
            let step = &book.steps[1];
            let download = &step.commands[1];
            assert!(download.starts_with("etcdbak download "), "{download}");
            assert!(
                download.ends_with("--output restore-prod-main/snapshot.db"),
                "{download}"
            );
            assert_eq!(
                download.contains(&format!("--identity {IDENTITY} ")),
                needs_identity,
                "{format:?}: {download}"
            );
            assert_eq!(step.manual.is_some(), decode.is_some(), "{format:?}");
            let Some(decode) = decode else { continue };
            let manual = step.manual.as_ref().unwrap();
            assert!(
                manual.commands[0].starts_with(&format!(
                    "aws s3 cp s3://etcd-backups/{} restore-prod-main/",
                    book.facts[2].1
                )),
                "{:?}",
                manual.commands
            );
            assert!(manual.commands[1].contains(decode), "{:?}", manual.commands);
            assert!(
                manual.commands[1].ends_with(
                    "> restore-prod-main/snapshot.db.part && mv restore-prod-main/snapshot.db.part restore-prod-main/snapshot.db"
                ),
                "{:?}",
                manual.commands
            );
            assert_eq!(
                manual.commands[2],
                "sha256sum restore-prod-main/snapshot.db"
            );
            assert_eq!(
                manual.commands[3], step.commands[2],
                "both ways end in etcdutl's status"
            );
            // The operator runs one way or the other: the standard tools' fetch and decode are never among
            // the commands a text runbook is followed by.
            let text = render_text(&book);
            let run = commands_in_text(&text);
            assert!(
                manual.commands[..3].iter().all(|c| !run.contains(c)),
                "{format:?}"
            );
            assert_eq!(
                run.len(),
                commands_in_text(&render_text(&runbook(&plan()))).len()
            );
        }
    }

    #[test]
    fn an_encrypted_backup_without_identity_says_what_to_fill_in() {
        let book = runbook(&plan_for(Format::ZSTD_AGE, None));
        let step = &book.steps[1];
        assert!(step.commands[1].contains("--identity IDENTITY_FILE "));
        assert!(
            step.check.as_deref().unwrap().contains("--identity FILE"),
            "{:?}",
            step.check
        );
        let with = runbook(&plan_for(Format::ZSTD_AGE, Some(IDENTITY)));
        assert!(!with.steps[1]
            .check
            .as_deref()
            .unwrap()
            .contains("IDENTITY_FILE"));
        // A compressed-only backup needs no identity at all.
        let zstd = runbook(&plan_for(Format::ZSTD, None));
        assert!(!render_text(&zstd).contains("IDENTITY_FILE"));
    }

    #[test]
    fn every_member_is_restored_from_the_same_snapshot_with_the_whole_membership() {
        let p = plan();
        let text = render_text(&runbook(&p));
        let restores: Vec<String> = commands_in_text(&text)
            .into_iter()
            .filter(|c| c.starts_with("etcdutl snapshot restore"))
            .collect();
        assert_eq!(restores.len(), 3);
        let cluster = "etcd-0=https://etcd-0.etcd.prod.svc:2380,etcd-1=https://etcd-1.etcd.prod.svc:2380,etcd-2=https://etcd-2.etcd.prod.svc:2380";
        for (i, r) in restores.iter().enumerate() {
            assert!(r.contains("restore-prod-main/snapshot.db"), "{r}");
            assert!(r.contains(&format!("--name etcd-{i} ")), "{r}");
            assert!(r.contains(&format!("--initial-cluster {cluster} ")), "{r}");
            assert!(r.contains(&format!(
                "--initial-advertise-peer-urls https://etcd-{i}.etcd.prod.svc:2380 "
            )));
            assert!(r.contains(&format!("--data-dir restore-prod-main/etcd-{i}.etcd")));
            assert!(r.contains("--initial-cluster-token prod-main-restore-20261125120000"));
            assert!(
                r.ends_with("--bump-revision 1000000000 --mark-compacted"),
                "{r}"
            );
        }
    }

    #[test]
    fn suspend_comes_first_and_resume_last() {
        let cmds = commands_in_text(&render_text(&runbook(&plan())));
        assert!(cmds[0].contains("\"suspend\":true"), "{}", cmds[0]);
        let resume = cmds
            .iter()
            .position(|c| c.contains("\"suspend\":false"))
            .unwrap();
        let scale_up = cmds
            .iter()
            .position(|c| c.contains("--replicas=3"))
            .unwrap();
        let scale_down = cmds
            .iter()
            .position(|c| c.contains("--replicas=0"))
            .unwrap();
        let download = cmds
            .iter()
            .position(|c| c.starts_with("etcdbak download"))
            .unwrap();
        // Verify before destroying anything; restore only after stopping; resume only after the checks.
        assert!(download < scale_down && scale_down < scale_up && scale_up < resume);
    }

    #[test]
    fn without_bump_and_tls_the_commands_are_plain() {
        let mut p = plan();
        p.bump_revision = 0;
        p.tls = None;
        p.owner = Some("1001:1001".into());
        let text = render_text(&runbook(&p));
        assert!(!text.contains("--bump-revision"));
        assert!(!text.contains("--cacert"));
        assert!(text.contains("chown -R 1001:1001 /var/lib/etcd/member"));
        let checks: Vec<String> = runbook(&p)
            .steps
            .into_iter()
            .filter_map(|s| s.check)
            .collect();
        assert!(
            checks
                .iter()
                .any(|c| c.contains("\"Revision\" at 4711 or higher (the snapshot's 4711)")),
            "{checks:?}"
        );
    }

    /// The fixture restored to a point two segments past its snapshot, read by the guide (`encrypted`:
    /// not read, the segments being encrypted).
    fn plan_to_point(encrypted: bool) -> RestorePlan {
        use crate::naming::segment::SegmentName;
        use crate::restore::facts::{Point, Reached};
        let segment = |first, last, closed: &str| SegmentName {
            first,
            last,
            closed_at: closed.parse().unwrap(),
            compressed: true,
            encrypted,
        };
        let mut p = plan();
        p.point = Some(Point {
            target: crate::continuous::chain::Target::Time("2026-11-25T11:41:59Z".parse().unwrap()),
            segments: vec![
                segment(4712, 5100, "2026-11-25T11:41:20Z"),
                segment(5101, 5230, "2026-11-25T11:42:00Z"),
            ],
            reached: (!encrypted).then(|| Reached {
                events: 498,
                revision: 5207,
                seen_at: Some("2026-11-25T11:41:58.250Z".parse().unwrap()),
            }),
        });
        p
    }

    #[test]
    fn text_runbook_to_a_point() {
        insta::assert_snapshot!(render_text(&runbook(&plan_to_point(false))));
    }

    #[test]
    fn markdown_runbook_to_a_point_with_encrypted_segments() {
        let mut p = plan_to_point(true);
        p.apiserver = Some(("prod".into(), "kube-apiserver".into()));
        p.identity = Some(IDENTITY.into());
        insta::assert_snapshot!(render_markdown(&runbook(&p)));
    }

    #[test]
    fn a_restore_to_a_point_checks_before_destroying_and_replays_before_the_apiserver_starts() {
        let p = plan_to_point(false);
        let cmds = commands_in_text(&render_text(&runbook(&p)));
        let at = |needle: &str| {
            cmds.iter()
                .position(|c| c.contains(needle))
                .unwrap_or_else(|| panic!("no command with {needle:?} in {cmds:#?}"))
        };
        let check = at("etcdbak replay --cluster prod-main --to 2026-11-25T11:41:59Z --check");
        let stop_api = at("scale deployment APISERVER_DEPLOYMENT --replicas=0");
        let stop_etcd = at("scale statefulset etcd --replicas=0");
        let health = at("endpoint health");
        let replay = at("etcdbak replay --cluster prod-main --to 2026-11-25T11:41:59Z --endpoints");
        let start_api = at("--replicas=\"$(cat restore-prod-main/apiserver-replicas)\"");
        let resume = at("\"suspend\":false");
        assert!(at("etcdbak download") < check);
        assert!(
            check < stop_api && stop_api < stop_etcd,
            "checked before anything stops"
        );
        assert!(health < replay && replay < start_api && start_api < resume);
        assert!(
            cmds[replay].contains("--cacert /etc/etcd/tls/ca.crt"),
            "{}",
            cmds[replay]
        );
        assert!(
            cmds[replay].contains("--bucket etcd-backups --prefix etcdbak"),
            "{}",
            cmds[replay]
        );
        assert!(
            !cmds[replay].contains("--identity"),
            "plain segments need no identity"
        );
        // The runbook without a point is the same as ever, minus exactly the point's four steps.
        let plain = runbook(&plan());
        assert_eq!(runbook(&p).steps.len(), plain.steps.len() + 4);
    }

    #[test]
    fn encrypted_segments_are_read_with_the_identity_and_a_revision_point_is_spelled_as_one() {
        let mut p = plan_to_point(true);
        if let Some(point) = &mut p.point {
            point.target = crate::continuous::chain::Target::Revision(5207);
        }
        let book = runbook(&p);
        let text = render_text(&book);
        assert!(book.title.ends_with("to revision 5207"), "{}", book.title);
        let replays: Vec<String> = commands_in_text(&text)
            .into_iter()
            .filter(|c| c.starts_with("etcdbak replay"))
            .collect();
        assert_eq!(replays.len(), 2);
        for r in &replays {
            assert!(r.contains("--to-revision 5207 "), "{r}");
            assert!(r.contains("--identity IDENTITY_FILE"), "{r}");
        }
        assert!(text.contains("the check step reads them with the identity"));
    }
}
