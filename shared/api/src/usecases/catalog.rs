//! The templates a tenant sees: the built-in library plus its own regulations and the
//! actions they generated.

use std::collections::HashMap;

use attest_domain::ids::{ActionId, RegulationId, TenantId};
use attest_domain::regulation::{ImprovementAction, Regulation};
use attest_library::Library;
use attest_store::{Store, StoreError};

pub struct Catalog {
    library: &'static Library,
    own: Vec<Regulation>,
    own_actions: HashMap<ActionId, ImprovementAction>,
}

impl Catalog {
    pub fn builtin_only() -> Self {
        Self {
            library: attest_library::builtin(),
            own: Vec::new(),
            own_actions: HashMap::new(),
        }
    }

    /// The library plus every tenant regulation and generated action.
    pub async fn load(store: &Store, tenant: &TenantId) -> Result<Self, StoreError> {
        let own = store.list_regulations(tenant).await?;
        let own_actions = store
            .list_action_defs(tenant)
            .await?
            .into_iter()
            .map(|a| (a.id.clone(), a))
            .collect();
        Ok(Self {
            library: attest_library::builtin(),
            own,
            own_actions,
        })
    }

    /// The library plus the named regulations only (built-in ones cost no storage call).
    pub async fn load_for<'a>(
        store: &Store,
        tenant: &TenantId,
        regulations: impl IntoIterator<Item = &'a RegulationId>,
    ) -> Result<Self, StoreError> {
        let mut catalog = Self::builtin_only();
        let mut wanted: Vec<&RegulationId> = regulations
            .into_iter()
            .filter(|r| catalog.library.regulation(r).is_none())
            .collect();
        wanted.sort();
        wanted.dedup();
        if wanted.is_empty() {
            return Ok(catalog);
        }
        for id in wanted {
            match store.get_regulation(tenant, id).await {
                Ok(r) => catalog.own.push(r),
                Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        catalog.own_actions = store
            .list_action_defs(tenant)
            .await?
            .into_iter()
            .map(|a| (a.id.clone(), a))
            .collect();
        Ok(catalog)
    }

    pub fn is_builtin(&self, id: &RegulationId) -> bool {
        self.library.regulation(id).is_some()
    }

    pub fn regulation(&self, id: &RegulationId) -> Option<&Regulation> {
        self.library
            .regulation(id)
            .or_else(|| self.own.iter().find(|r| &r.id == id))
    }

    pub fn regulations(&self) -> impl Iterator<Item = &Regulation> {
        self.library.regulations().iter().chain(self.own.iter())
    }

    pub fn action(&self, id: &ActionId) -> Option<&ImprovementAction> {
        self.library.action(id).or_else(|| self.own_actions.get(id))
    }
}
