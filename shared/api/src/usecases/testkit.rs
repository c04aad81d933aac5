//! What the use-case tests share: ports over a real embedded store on a temporary file, an
//! administrator of tenant `acme`, and a quick way to start an assessment.

use std::collections::BTreeSet;
use std::sync::Arc;

use attest_domain::group::GroupName;
use attest_domain::identity::{Identity, Role};
use attest_domain::ids::{RegulationId, TenantId, UserId};
use attest_store::Store;

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
        regulation_id: RegulationId::parse(regulation).unwrap(),
        group_id: None,
        group_name: Some(GroupName::parse(group).unwrap()),
        copy_from: None,
        services: vec!["aws".into()],
        name: None,
    };
    assessments::create(state, caller, body).await.unwrap()
}
