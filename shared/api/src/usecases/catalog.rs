//! The templates a tenant sees: the built-in library plus its own regulations and the
//! actions they generated.

use std::collections::{BTreeMap, HashMap};

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

    /// The library plus the named regulations only, and the tenant's generated actions those
    /// regulations reference, read by key (built-in ones cost no storage call): what it reads
    /// grows with the regulations asked for, never with the rest of the tenant's templates.
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
        for id in wanted {
            match store.get_regulation(tenant, id).await {
                Ok(r) => catalog.own.push(r),
                Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        catalog.load_actions(store, tenant).await?;
        Ok(catalog)
    }

    /// Reads the generated actions the loaded regulations reference.
    async fn load_actions(&mut self, store: &Store, tenant: &TenantId) -> Result<(), StoreError> {
        let mut ids: Vec<&ActionId> = self
            .own
            .iter()
            .flat_map(|r| r.controls())
            .flat_map(|c| c.actions.iter())
            .filter(|a| self.library.action(a).is_none())
            .collect();
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Ok(());
        }
        self.own_actions = store
            .get_action_defs(tenant, &ids)
            .await?
            .into_iter()
            .map(|a| (a.id.clone(), a))
            .collect();
        Ok(())
    }

    /// The library's actions and the tenant's generated ones with these ids; the ids that are
    /// neither are returned apart.
    pub async fn actions_named<'a>(
        store: &Store,
        tenant: &TenantId,
        ids: impl IntoIterator<Item = &'a ActionId>,
    ) -> Result<(Self, Vec<ActionId>), StoreError> {
        let mut catalog = Self::builtin_only();
        let mut own: Vec<&ActionId> = ids
            .into_iter()
            .filter(|a| catalog.library.action(a).is_none())
            .collect();
        own.sort();
        own.dedup();
        if !own.is_empty() {
            catalog.own_actions = store
                .get_action_defs(tenant, &own)
                .await?
                .into_iter()
                .map(|a| (a.id.clone(), a))
                .collect();
        }
        let missing = own
            .into_iter()
            .filter(|a| !catalog.own_actions.contains_key(*a))
            .cloned()
            .collect();
        Ok((catalog, missing))
    }

    /// The names of these regulations (built-in ones from the library, the tenant's from
    /// their headers, one batch read); ids that name nothing are left out.
    pub async fn names<'a>(
        store: &Store,
        tenant: &TenantId,
        ids: impl IntoIterator<Item = &'a RegulationId>,
    ) -> Result<BTreeMap<RegulationId, String>, StoreError> {
        let mut names = BTreeMap::new();
        let mut own: Vec<&RegulationId> = Vec::new();
        for id in ids {
            match attest_library::builtin().regulation(id) {
                Some(r) => {
                    names.insert(id.clone(), r.name.clone());
                }
                None if !own.contains(&id) => own.push(id),
                None => {}
            }
        }
        if !own.is_empty() {
            for h in store.get_regulation_headers(tenant, &own).await? {
                names.insert(h.id, h.name);
            }
        }
        Ok(names)
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

impl Catalog {
    /// This catalog plus one regulation just written and the actions it generated, with no
    /// storage call: what a create or an import returns is built from what it wrote. Start
    /// from [`Catalog::actions_named`] (the tenant's actions the regulation references) or
    /// [`Catalog::builtin_only`] (it references built-in actions only).
    pub fn with_own(
        mut self,
        regulation: Regulation,
        generated: impl IntoIterator<Item = ImprovementAction>,
    ) -> Self {
        self.own_actions
            .extend(generated.into_iter().map(|a| (a.id.clone(), a)));
        self.own.retain(|r| r.id != regulation.id);
        self.own.push(regulation);
        self
    }
}
