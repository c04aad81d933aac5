//! The names (pure), and the store against moto's Secrets Manager (one server per test binary,
//! shared by the tests: each uses its own tenant ids).

use std::collections::HashSet;

use aws_sdk_secretsmanager::config::retry::RetryConfig;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};

use super::*;

fn client_at(endpoint: &str, region: &str, access_key: &str, secret_key: &str) -> Client {
    Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(Region::new(region.to_string()))
            .credentials_provider(Credentials::new(
                access_key.to_string(),
                secret_key.to_string(),
                None,
                None,
                "tests",
            ))
            .build(),
    )
}

fn moto_client() -> Client {
    let moto = attest_testkit::moto_server();
    client_at(
        &moto.endpoint,
        moto.region,
        moto.access_key,
        moto.secret_key,
    )
}

fn store() -> SecretsManagerStore {
    SecretsManagerStore::new(moto_client(), "attest/")
}

/// A tenant id no other test uses.
fn tenant() -> String {
    attest_testkit::unique_name("tenant")
}

fn zoom() -> Secret {
    Secret::from_iter([
        ("client_id", "zoom-client-id"),
        ("client_secret", "PLAINTEXT-zoom-secret-4711"),
    ])
}

fn names_store() -> SecretsManagerStore {
    // Building a client makes no call: enough for the names.
    SecretsManagerStore::new(
        client_at("http://127.0.0.1:9", "us-east-1", "a", "b"),
        "attest/",
    )
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 512
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b))
}

/// Whether `name` ends with a hyphen followed by six characters.
fn looks_like_partial_arn(name: &str) -> bool {
    name.len() >= 7 && name.as_bytes()[name.len() - 7] == b'-'
}

#[test]
fn names_are_prefix_tenant_connectors_connector() {
    let s = names_store();
    assert_eq!(
        s.secret_name(&SecretRef::new("acme-corp", "zoom")),
        "attest/acme-corp/connectors/zoom"
    );
    assert_eq!(
        s.secret_name(&SecretRef::new("t_1.x@y+z", "sales.force_2")),
        "attest/t_1.x@y+z/connectors/sales.force_2"
    );
    // Characters Secrets Manager refuses, the separator and the escape are encoded.
    assert_eq!(
        s.secret_name(&SecretRef::new("org:acme", "a/b=c d")),
        "attest/org=3Aacme/connectors/a=2Fb=3Dc=20d"
    );
    assert_eq!(
        s.secret_name(&SecretRef::new("ü", "")),
        "attest/=C3=BC/connectors/="
    );
    let other = SecretsManagerStore::new(names_store().client, "dev/attest/");
    assert_eq!(
        other.secret_name(&SecretRef::new("acme", "zoom")),
        "dev/attest/acme/connectors/zoom"
    );
}

#[test]
fn a_name_never_ends_like_a_partial_arn() {
    let s = names_store();
    let name = s.secret_name(&SecretRef::new("acme", "zoom-abcdef"));
    assert_eq!(name, "attest/acme/connectors/zoom=2Dabcdef");
    for connector in ["-abcdef", "a-bcdefg", "-", "--------", "ab-cdef"] {
        let name = s.secret_name(&SecretRef::new("acme", connector));
        assert!(valid_name(&name), "{name}");
        assert!(!looks_like_partial_arn(&name), "{name}");
    }
}

#[test]
fn long_ids_are_hashed_and_names_stay_valid() {
    let s = names_store();
    let long = ":".repeat(128);
    let name = s.secret_name(&SecretRef::new(long.clone(), long.clone()));
    assert!(valid_name(&name), "{name}");
    assert!(name.starts_with("attest/=h"), "{name}");
    let longer = format!("{long}:");
    assert_ne!(
        name,
        s.secret_name(&SecretRef::new(longer.clone(), long.clone()))
    );
    // At the limit of the plain encoding, and one past it.
    let at_limit = "a".repeat(MAX_SEGMENT);
    assert_eq!(encode_id(&at_limit), at_limit);
    assert!(encode_id(&format!("{at_limit}a")).starts_with("=h"));
}

#[test]
fn different_ids_give_different_valid_names() {
    let s = names_store();
    let ids = [
        "",
        "=",
        "=3D",
        "a",
        "A",
        "a/b",
        "a=2Fb",
        "a/connectors/b",
        "connectors",
        "-",
        "=h",
        "a b",
        "a+b",
        "a:b",
        "a=3Ab",
        "ü",
        "=C3=BC",
        "zoom-abcdef",
        "zoom=2Dabcdef",
        "\0",
    ];
    let mut names = HashSet::new();
    for tenant in ids {
        for connector in ids {
            let name = s.secret_name(&SecretRef::new(tenant, connector));
            assert!(valid_name(&name), "{tenant:?} {connector:?}: {name}");
            assert!(
                names.insert(name.clone()),
                "{tenant:?} {connector:?}: {name} twice"
            );
        }
    }
}

#[tokio::test]
async fn round_trip() {
    let store = store();
    let at = SecretRef::new(tenant(), "zoom");
    store.put(&at, &zoom()).await.unwrap();
    assert_eq!(store.get(&at).await.unwrap(), zoom());
}

#[tokio::test]
async fn the_value_is_the_json_of_the_fields_under_the_documented_name() {
    let store = store();
    let tenant = tenant();
    let at = SecretRef::new(tenant.clone(), "zoom");
    store.put(&at, &zoom()).await.unwrap();
    let raw = moto_client()
        .get_secret_value()
        .secret_id(format!("attest/{tenant}/connectors/zoom"))
        .send()
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(raw.secret_string().unwrap()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "client_id": "zoom-client-id",
            "client_secret": "PLAINTEXT-zoom-secret-4711",
        })
    );
}

#[tokio::test]
async fn put_replaces_the_value() {
    let store = store();
    let at = SecretRef::new(tenant(), "zoom");
    store.put(&at, &zoom()).await.unwrap();
    let replaced = Secret::from_iter([("token", "second")]);
    store.put(&at, &replaced).await.unwrap();
    assert_eq!(store.get(&at).await.unwrap(), replaced);
    let third = zoom().merged(&Secret::from_iter([("client_secret", "third")]));
    store.put(&at, &third).await.unwrap();
    assert_eq!(store.get(&at).await.unwrap(), third);
}

#[tokio::test]
async fn delete_removes_it() {
    let store = store();
    let at = SecretRef::new(tenant(), "zoom");
    store.put(&at, &zoom()).await.unwrap();
    store.delete(&at).await.unwrap();
    assert_eq!(store.get(&at).await, Err(SecretError::NotFound));
    // And it can be stored again.
    store.put(&at, &zoom()).await.unwrap();
    assert_eq!(store.get(&at).await.unwrap(), zoom());
}

#[tokio::test]
async fn get_missing_is_not_found() {
    let store = store();
    let at = SecretRef::new(tenant(), "zoom");
    assert_eq!(store.get(&at).await, Err(SecretError::NotFound));
}

#[tokio::test]
async fn delete_missing_is_ok() {
    let store = store();
    let at = SecretRef::new(tenant(), "zoom");
    store.delete(&at).await.unwrap();
    store.delete(&at).await.unwrap();
}

#[tokio::test]
async fn two_tenants_with_the_same_connector_are_distinct() {
    let store = store();
    let a = SecretRef::new(tenant(), "zoom");
    let b = SecretRef::new(tenant(), "zoom");
    let secret_b = Secret::from_iter([("client_secret", "b's")]);
    store.put(&a, &zoom()).await.unwrap();
    store.put(&b, &secret_b).await.unwrap();
    assert_eq!(store.get(&a).await.unwrap(), zoom());
    assert_eq!(store.get(&b).await.unwrap(), secret_b);
    store.delete(&a).await.unwrap();
    assert_eq!(store.get(&a).await, Err(SecretError::NotFound));
    assert_eq!(store.get(&b).await.unwrap(), secret_b);
}

#[tokio::test]
async fn ids_that_would_collide_raw_are_distinct() {
    let store = store();
    let t = tenant();
    let places = [
        SecretRef::new(format!("{t}/connectors/x"), "y"),
        SecretRef::new(t.clone(), "x/connectors/y"),
        SecretRef::new(t.clone(), "zoom-abcdef"),
        SecretRef::new(t.clone(), "zoom"),
        SecretRef::new(format!("{t}:ü"), "a b"),
        SecretRef::new(t.clone(), ""),
    ];
    for (i, at) in places.iter().enumerate() {
        let secret = Secret::from_iter([("n", i.to_string())]);
        store.put(at, &secret).await.unwrap();
    }
    for (i, at) in places.iter().enumerate() {
        let secret = store.get(at).await.unwrap();
        assert_eq!(secret.get("n"), Some(i.to_string().as_str()), "{at:?}");
    }
    // Deleting the one that ends like a partial ARN of another leaves the other.
    store.delete(&places[2]).await.unwrap();
    assert_eq!(store.get(&places[2]).await, Err(SecretError::NotFound));
    assert_eq!(store.get(&places[3]).await.unwrap().get("n"), Some("3"));
}

#[tokio::test]
async fn an_unreachable_store_is_unavailable_without_the_value() {
    let port = attest_testkit::free_port();
    let client = Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("a", "b", None, None, "tests"))
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    let store = SecretsManagerStore::new(client, "attest/");
    let at = SecretRef::new("acme", "zoom");
    let err = store.put(&at, &zoom()).await.unwrap_err();
    let SecretError::Unavailable(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("CreateSecret"), "{message}");
    assert!(message.contains("attest/acme/connectors/zoom"), "{message}");
    assert!(!message.contains("PLAINTEXT"), "{message}");
    assert!(matches!(
        store.get(&at).await,
        Err(SecretError::Unavailable(_))
    ));
    assert!(matches!(
        store.delete(&at).await,
        Err(SecretError::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_secret_not_written_by_the_store_is_unavailable() {
    let store = store();
    let tenant = tenant();
    moto_client()
        .create_secret()
        .name(format!("attest/{tenant}/connectors/zoom"))
        .secret_string(r#"{"client_secret": 4711}"#)
        .send()
        .await
        .unwrap();
    let err = store
        .get(&SecretRef::new(tenant, "zoom"))
        .await
        .unwrap_err();
    let SecretError::Unavailable(message) = &err else {
        panic!("{err:?}")
    };
    assert!(!message.contains("4711"), "{message}");
}
