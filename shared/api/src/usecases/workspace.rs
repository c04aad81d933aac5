//! Everything a tenant-wide view needs, loaded in a few queries: assessments, group names,
//! the templates they use and every stored instance.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use attest_domain::action::{ActionStatus, InstanceRef};
use attest_domain::assessment::Assessment;
use attest_domain::ids::{AssessmentId, GroupId, RegulationId, TenantId};
use attest_domain::regulation::{ImprovementAction, Regulation};
use attest_domain::score::TenantScore;
use attest_store::{Store, StoreError, Versioned};

use super::catalog::Catalog;
use super::views::ResolvedActions;

pub struct Workspace {
    pub assessments: Vec<Versioned<Assessment>>,
    pub groups: HashMap<GroupId, String>,
    pub catalog: Catalog,
    pub statuses: HashMap<InstanceRef, Versioned<ActionStatus>>,
}

/// An instance as the tenant's live assessments use it.
pub struct InstanceUse<'a> {
    pub def: &'a ImprovementAction,
    pub instance: InstanceRef,
    pub status: ActionStatus,
    pub version: u64,
    pub assessments: BTreeSet<AssessmentId>,
    pub regulations: BTreeSet<RegulationId>,
    pub groups: BTreeSet<GroupId>,
}

impl Workspace {
    pub async fn load(store: &Store, tenant: &TenantId) -> Result<Self, StoreError> {
        let assessments = store.list_assessments(tenant).await?;
        let groups = store
            .list_groups(tenant)
            .await?
            .into_iter()
            .map(|g| (g.value.id, g.value.name.as_str().to_owned()))
            .collect();
        let catalog = Catalog::load_for(
            store,
            tenant,
            assessments.iter().map(|a| &a.value.regulation_id),
        )
        .await?;
        let statuses = store.list_instances(tenant).await?;
        Ok(Self {
            assessments,
            groups,
            catalog,
            statuses,
        })
    }

    pub fn group_name(&self, id: &GroupId) -> &str {
        self.groups.get(id).map(String::as_str).unwrap_or("")
    }

    pub fn live(&self) -> impl Iterator<Item = &Versioned<Assessment>> {
        self.assessments.iter().filter(|a| !a.value.is_archived())
    }

    pub fn resolve(&self, a: &Assessment) -> Option<(&Regulation, ResolvedActions<'_>)> {
        let regulation = self.catalog.regulation(&a.regulation_id)?;
        Some((
            regulation,
            ResolvedActions::new(regulation, &a.group_id, &self.catalog, &self.statuses),
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

    /// Every instance the live assessments use, by API id.
    pub fn instances(&self) -> BTreeMap<String, InstanceUse<'_>> {
        let mut out: BTreeMap<String, InstanceUse<'_>> = BTreeMap::new();
        for a in self.live() {
            let Some((_, resolved)) = self.resolve(&a.value) else {
                continue;
            };
            for e in resolved.entries.into_values() {
                let used = out
                    .entry(e.instance.api_id())
                    .or_insert_with(|| InstanceUse {
                        def: e.def,
                        instance: e.instance.clone(),
                        status: e.status.clone(),
                        version: e.version,
                        assessments: BTreeSet::new(),
                        regulations: BTreeSet::new(),
                        groups: BTreeSet::new(),
                    });
                used.assessments.insert(a.value.id.clone());
                used.regulations.insert(a.value.regulation_id.clone());
                used.groups.insert(a.value.group_id.clone());
            }
        }
        out
    }
}
