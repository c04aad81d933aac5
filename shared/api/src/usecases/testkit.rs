//! What the use-case tests share: ports over a real embedded store on a temporary file, an
//! administrator of tenant `acme`, and a quick way to start an assessment.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use attest_domain::group::GroupName;
use attest_domain::identity::{Identity, Role};
use attest_domain::ids::{RegulationId, TenantId, UserId};
use attest_store::{Backend, BackendError, Item, Key, Page, Query, Store, WriteOp};

use super::assessments::{self, CreateAssessment};
use super::views::AssessmentView;
use crate::AppState;

/// Ports over a real embedded store on a temporary file (kept while the `TempDir` lives), and
/// an administrator of "acme".
pub fn ports() -> (AppState, Identity, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let backend = attest_store_embedded::EmbeddedBackend::open(&dir.path().join("a.redb")).unwrap();
    let state = AppState::new(Store::new(Arc::new(backend)));
    let caller = Identity {
        tenant: TenantId::parse("acme").unwrap(),
        user: UserId::parse("alice").unwrap(),
        name: None,
        email: None,
        roles: BTreeSet::from([Role::Administrator]),
    };
    (state, caller, dir)
}

/// Creates an assessment of `regulation` for "aws" in a new group named `group`.
pub async fn assess(
    state: &AppState,
    caller: &Identity,
    regulation: &str,
    group: &str,
) -> AssessmentView {
    let body = CreateAssessment {
        connectors: None,
        regulation_id: RegulationId::parse(regulation).unwrap(),
        group_id: None,
        group_name: Some(GroupName::parse(group).unwrap()),
        copy_from: None,
        services: vec!["aws".into()],
        name: None,
    };
    assessments::create(state, caller, body).await.unwrap()
}

/// A backend that notes every read (and passes everything to an embedded one).
pub struct Recording {
    inner: attest_store_embedded::EmbeddedBackend,
    pub reads: Mutex<Vec<String>>,
}

impl Recording {
    pub fn open(path: &std::path::Path) -> Self {
        Self {
            inner: attest_store_embedded::EmbeddedBackend::open(path).unwrap(),
            reads: Mutex::new(Vec::new()),
        }
    }

    /// The reads noted since the last call, and forgets them.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.reads.lock().unwrap())
    }
}

type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T, BackendError>> + Send + 'a>>;

impl Backend for Recording {
    fn get<'a, 'b, 'f>(&'a self, key: &'b Key) -> Fut<'f, Option<Item>>
    where
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        self.reads
            .lock()
            .unwrap()
            .push(format!("get {} {}", key.pk, key.sk));
        self.inner.get(key)
    }

    fn get_many<'a, 'b, 'f>(&'a self, keys: &'b [Key]) -> Fut<'f, Vec<Option<Item>>>
    where
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        self.reads
            .lock()
            .unwrap()
            .push(format!("get_many {}", keys.len()));
        self.inner.get_many(keys)
    }

    fn query<'a, 'b, 'f>(&'a self, query: &'b Query) -> Fut<'f, Page>
    where
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        self.reads
            .lock()
            .unwrap()
            .push(format!("query {} ^{}", query.pk, query.sk_prefix));
        self.inner.query(query)
    }

    fn write<'a, 'f>(&'a self, ops: Vec<WriteOp>) -> Fut<'f, ()>
    where
        'a: 'f,
        Self: 'f,
    {
        self.inner.write(ops)
    }
}
