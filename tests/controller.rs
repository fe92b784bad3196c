//! The controller against a real kube-apiserver (tests/common/kube.rs).
mod common;

use common::kube::{rig, write_counts};

#[tokio::test]
async fn rig_starts() {
    let client = rig().client().await;
    let counts = write_counts(&client).await;
    println!("{counts:?}");
}
