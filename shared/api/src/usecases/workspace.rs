//! What the tenant-wide score needs, loaded in a few queries: the assessments, the templates
//! they use and every stored instance. (Only `GET /score` reads the whole tenant; stored
//! scores, kept current by events, will replace it.)

use std::collections::HashMap;

use attest_domain::action::{ActionStatus, InstanceRef};
use attest_domain::assessment::Assessment;
use attest_domain::ids::TenantId;
use attest_domain::regulation::Regulation;
use attest_domain::score::TenantScore;
use attest_store::{Store, StoreError, Versioned};

use super::catalog::Catalog;
use super::views::ResolvedActions;

pub struct Workspace {
    pub assessments: Vec<Versioned<Assessment>>,
    pub catalog: Catalog,
    pub statuses: HashMap<InstanceRef, Versioned<ActionStatus>>,
}

impl Workspace {
    pub async fn load(store: &Store, tenant: &TenantId) -> Result<Self, StoreError> {
        let assessments = store.list_assessments(tenant).await?;
        let catalog = Catalog::load_for(
            store,
            tenant,
            assessments
                .iter()
                .filter(|a| !a.value.is_archived())
                .map(|a| &a.value.regulation_id),
        )
        .await?;
        let statuses = store.list_instances(tenant).await?;
        Ok(Self {
            assessments,
            catalog,
            statuses,
        })
    }

    pub fn live(&self) -> impl Iterator<Item = &Versioned<Assessment>> {
        self.assessments.iter().filter(|a| !a.value.is_archived())
    }

    pub fn resolve(&self, a: &Assessment) -> Option<(&Regulation, ResolvedActions<'_>)> {
        let regulation = self.catalog.regulation(&a.regulation_id)?;
        Some((
            regulation,
            ResolvedActions::new(regulation, a, &self.catalog, &self.statuses),
        ))
    }

    /// Overall score over the live assessments.
    pub fn tenant_score(&self) -> TenantScore {
        let mut score = TenantScore::default();
        for a in self.live() {
            if let Some((_, resolved)) = self.resolve(&a.value) {
                for e in resolved.entries.values() {
                    score.add(&e.instance.scope, e.def, &e.status);
                }
            }
        }
        score
    }
}
