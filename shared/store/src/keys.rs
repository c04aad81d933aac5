//! Item keys. Every partition key starts with the tenant, so that no key built here can reach
//! another tenant's items. Tenant ids are validated (`TenantId`) and cannot contain `#`.

use attest_domain::ids::{GroupId, TenantId};

use crate::backend::Key;

fn pk(tenant: &TenantId, kind: &str) -> String {
    format!("T#{tenant}#{kind}")
}

/// All groups of a tenant: one partition, sort key = group id.
pub fn groups(tenant: &TenantId) -> String {
    pk(tenant, "GROUP")
}

pub fn group(tenant: &TenantId, id: &GroupId) -> Key {
    Key::new(groups(tenant), id.as_str())
}

/// The lock item that makes a group name unique (case-insensitive) within a tenant.
pub fn group_name(tenant: &TenantId, unique_name: &str) -> Key {
    Key::new(pk(tenant, "GROUPNAME"), unique_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_scoped_by_tenant() {
        let a = TenantId::parse("a").unwrap();
        let b = TenantId::parse("b").unwrap();
        let g = GroupId::parse("g1").unwrap();
        assert_eq!(group(&a, &g), Key::new("T#a#GROUP", "g1"));
        assert_ne!(group(&a, &g), group(&b, &g));
        assert_eq!(group_name(&a, "europe").pk, "T#a#GROUPNAME");
    }
}
