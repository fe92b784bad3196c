//! The table `prune --dry-run` prints: every backup, what retention does with it, and why (pure, so it is
//! snapshot-tested).

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};

use super::policy::{KeepReason, ListedKey};

/// One row per backup, newest first, as [`super::apply`] returns them.
pub fn dry_run_table(decisions: &[(ListedKey, Vec<KeepReason>)]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "TAKEN AT (UTC)",
        "REVISION",
        "ACTION",
        "KEPT BECAUSE",
        "KEY",
    ]);
    for (b, reasons) in decisions {
        let (action, why) = if reasons.is_empty() {
            ("delete", String::new())
        } else {
            let why: Vec<String> = reasons.iter().map(ToString::to_string).collect();
            ("keep", why.join(", "))
        };
        table.add_row([
            Cell::new(b.name.taken_at.format("%Y-%m-%d %H:%M:%S")),
            Cell::new(b.name.revision).set_alignment(CellAlignment::Right),
            Cell::new(action),
            Cell::new(why),
            Cell::new(&b.key),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::{plan_with, Floor, Keep, Policy, Within};

    #[test]
    fn dry_run_shows_each_backup_with_its_reasons() {
        let keys: Vec<String> = [
            "20261125T230000.000Z-r900-aaaaaaaa.db",
            "20261125T220000.000Z-r880-bbbbbbbb.db",
            "20261125T080000.000Z-r700-cccccccc.db",
            "20261124T230000.000Z-r600-dddddddd.db",
            "20261124T120000.000Z-r500-eeeeeeee.db",
            "20261117T230000.000Z-r400-ffffffff.db",
            "20261020T230000.000Z-r300-abababab.db",
        ]
        .iter()
        .map(|n| format!("etcdbak/prod/{n}"))
        .collect();
        let policy = Policy {
            last: 1,
            daily: 2,
            weekly: 2,
            within: Within {
                hours: 2,
                ..Within::default()
            },
            min: 1,
            ..Policy::newest(0)
        };
        let verified = vec![keys[4].clone()];
        let floor = Floor {
            just_uploaded: Some(&keys[0]),
            verified: &verified,
        };
        let plan = plan_with("etcdbak", "prod", &keys, Keep::Tiered(policy), &floor);
        insta::assert_snapshot!(dry_run_table(&plan.decisions).to_string());
    }

    #[test]
    fn a_locked_backup_shows_as_kept_until_its_date() {
        let keys: Vec<String> = [
            "etcdbak/prod/20261125T230000.000Z-r900-aaaaaaaa.db",
            "etcdbak/prod/20261125T220000.000Z-r880-bbbbbbbb.db",
        ]
        .map(String::from)
        .to_vec();
        let mut plan =
            crate::retention::plan_deletions("etcdbak", "prod", &keys, Keep::Newest(1), None);
        let until = chrono::DateTime::parse_from_rfc3339("2026-12-25T10:00:05Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        let held = [(keys[1].clone(), KeepReason::LockedUntil(until))];
        crate::retention::hold(&mut plan, "etcdbak", &held);
        let table = dry_run_table(&plan.decisions).to_string();
        let row = table.lines().find(|l| l.contains("r880")).expect("row");
        assert!(
            row.contains("keep") && row.contains("locked until 2026-12-25 10:00:05 UTC"),
            "{table}"
        );
    }
}
