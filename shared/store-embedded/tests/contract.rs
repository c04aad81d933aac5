//! The backend contract suite over a real redb file.

use std::sync::Arc;

use attest_store::Backend;
use attest_store_embedded::EmbeddedBackend;

async fn fresh() -> Arc<dyn Backend> {
    let dir = tempfile::tempdir().unwrap();
    let backend = EmbeddedBackend::open(&dir.path().join("attest.redb")).unwrap();
    // Keep the directory for the life of the test process.
    std::mem::forget(dir);
    Arc::new(backend)
}

attest_store::backend_contract_tests!(fresh);

#[tokio::test]
async fn data_survives_reopening_the_file() {
    use attest_store::{Condition, Item, Key, WriteOp};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("attest.redb");
    let item = Item {
        key: Key::new("p", "s"),
        version: 1,
        body: serde_json::json!({"kept": true}),
    };
    {
        let b = EmbeddedBackend::open(&path).unwrap();
        b.write(vec![WriteOp::Put {
            item: item.clone(),
            condition: Condition::NotExists,
        }])
        .await
        .unwrap();
    }
    let b = EmbeddedBackend::open(&path).unwrap();
    assert_eq!(b.get(&item.key).await.unwrap(), Some(item));
}
