//! The tenant's own regulation templates (custom and imported) and the actions they
//! generated. A regulation is a header item plus parts of about 200 KB each (a catalog's
//! statements do not fit one 400 KB item); the header is written last, so a regulation is
//! visible only once all of it is stored.

use attest_domain::ids::{RegulationId, TenantId};
use attest_domain::regulation::{Family, ImprovementAction, Regulation};
use serde::{Deserialize, Serialize};

use crate::backend::{BackendError, Condition, WriteOp};
use crate::record::{decode, encode};
use crate::{keys, Store, StoreError};

const PART_BYTES: usize = 200 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegulationHeader {
    pub id: RegulationId,
    pub name: String,
    pub source: String,
    pub families: usize,
    pub controls: usize,
    pub parts: usize,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub created_by: String,
}

#[derive(Serialize, Deserialize)]
struct RegulationPart {
    families: Vec<Family>,
}

/// Splits families into parts of about `PART_BYTES`; a family larger than that is split
/// into several parts with the same id and title.
fn split(families: &[Family]) -> Vec<RegulationPart> {
    let mut parts = vec![RegulationPart {
        families: Vec::new(),
    }];
    let mut size = 0;
    for family in families {
        let mut current = Family {
            id: family.id.clone(),
            title: family.title.clone(),
            controls: Vec::new(),
        };
        for control in &family.controls {
            let bytes = serde_json::to_string(control).map(|s| s.len()).unwrap_or(0);
            if size + bytes > PART_BYTES && (size > 0) {
                let full = std::mem::replace(
                    &mut current,
                    Family {
                        id: family.id.clone(),
                        title: family.title.clone(),
                        controls: Vec::new(),
                    },
                );
                if !full.controls.is_empty() {
                    parts.last_mut().expect("one part").families.push(full);
                }
                parts.push(RegulationPart {
                    families: Vec::new(),
                });
                size = 0;
            }
            size += bytes;
            current.controls.push(control.clone());
        }
        parts.last_mut().expect("one part").families.push(current);
    }
    parts
}

/// Joins parts back, merging a family that was split across them.
fn join(parts: Vec<RegulationPart>) -> Vec<Family> {
    let mut families: Vec<Family> = Vec::new();
    for part in parts {
        for family in part.families {
            match families.last_mut() {
                Some(last) if last.id == family.id && last.title == family.title => {
                    last.controls.extend(family.controls)
                }
                _ => families.push(family),
            }
        }
    }
    families
}

impl Store {
    /// Stores a new tenant regulation with the actions it generated. Conflict if the id is taken.
    pub async fn put_regulation(
        &self,
        tenant: &TenantId,
        regulation: &Regulation,
        generated: &[ImprovementAction],
        created_by: &str,
    ) -> Result<RegulationHeader, StoreError> {
        if self
            .backend()
            .get(&keys::regulation(tenant, &regulation.id))
            .await?
            .is_some()
        {
            return Err(StoreError::Conflict(format!(
                "a regulation with id {} already exists",
                regulation.id
            )));
        }
        let actions = generated
            .iter()
            .map(|a| WriteOp::Put {
                item: encode(keys::action_def(tenant, &a.id), 1, a),
                condition: Condition::Always,
            })
            .collect();
        self.write_chunked(actions).await?;
        let parts = split(&regulation.families);
        let pk = keys::regulation_parts(tenant, &regulation.id);
        let part_ops = parts
            .iter()
            .enumerate()
            .map(|(i, p)| WriteOp::Put {
                item: encode(crate::Key::new(pk.clone(), format!("{i:04}")), 1, p),
                condition: Condition::Always,
            })
            .collect();
        self.write_chunked(part_ops).await?;
        let header = RegulationHeader {
            id: regulation.id.clone(),
            name: regulation.name.clone(),
            source: regulation.source.clone(),
            families: regulation.families.len(),
            controls: regulation.controls().count(),
            parts: parts.len(),
            created_at: chrono::Utc::now(),
            created_by: created_by.to_owned(),
        };
        let put = WriteOp::Put {
            item: encode(keys::regulation(tenant, &regulation.id), 1, &header),
            condition: Condition::NotExists,
        };
        match self.backend().write(vec![put]).await {
            Ok(()) => Ok(header),
            Err(BackendError::ConditionFailed { .. }) => Err(StoreError::Conflict(format!(
                "a regulation with id {} already exists",
                regulation.id
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_regulation_headers(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<RegulationHeader>, StoreError> {
        let items = self.query_all(keys::regulations(tenant), "").await?;
        Ok(items
            .into_iter()
            .map(|i| decode(i).map(|v| v.value))
            .collect::<Result<_, _>>()?)
    }

    async fn load_regulation(
        &self,
        tenant: &TenantId,
        header: RegulationHeader,
    ) -> Result<Regulation, StoreError> {
        let items = self
            .query_all(keys::regulation_parts(tenant, &header.id), "")
            .await?;
        let parts = items
            .into_iter()
            .map(|i| decode::<RegulationPart>(i).map(|v| v.value))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Regulation {
            id: header.id,
            name: header.name,
            source: header.source,
            families: join(parts),
        })
    }

    pub async fn get_regulation(
        &self,
        tenant: &TenantId,
        id: &RegulationId,
    ) -> Result<Regulation, StoreError> {
        let item = self
            .backend()
            .get(&keys::regulation(tenant, id))
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("regulation {id}")))?;
        let header: RegulationHeader = decode(item)?.value;
        self.load_regulation(tenant, header).await
    }

    /// Every tenant regulation in full.
    pub async fn list_regulations(&self, tenant: &TenantId) -> Result<Vec<Regulation>, StoreError> {
        let mut out = Vec::new();
        for header in self.list_regulation_headers(tenant).await? {
            out.push(self.load_regulation(tenant, header).await?);
        }
        Ok(out)
    }

    pub async fn list_action_defs(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<ImprovementAction>, StoreError> {
        let items = self.query_all(keys::action_defs(tenant), "").await?;
        Ok(items
            .into_iter()
            .map(|i| decode(i).map(|v| v.value))
            .collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attest_domain::regulation::Control;

    #[test]
    fn parts_split_and_join_back() {
        let big = "x".repeat(50 * 1024);
        let families: Vec<Family> = (0..3)
            .map(|f| Family {
                id: format!("F{f}"),
                title: format!("Family {f}"),
                controls: (0..5)
                    .map(|c| Control {
                        id: format!("{f}.{c}"),
                        title: "t".into(),
                        description: big.clone(),
                        actions: vec![],
                    })
                    .collect(),
            })
            .collect();
        let parts = split(&families);
        assert!(parts.len() >= 3, "{} parts", parts.len());
        for p in &parts {
            assert!(serde_json::to_string(p).unwrap().len() < 300 * 1024);
        }
        assert_eq!(join(parts), families);
    }
}
