//! `rollcall_scim_operations_total{resource,op}`: what SCIM clients ask,
//! counted from the route a request matched (and, inside `/Bulk`, from each
//! operation), with every counter resolved when the process starts.

use std::collections::HashMap;

use actix_web::http::Method;
use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

/// Route template and method → (resource, op).
const ROUTES: [(&str, &str, &str, &str); 22] = [
    ("/scim_v2/Users", "POST", "User", "create"),
    ("/scim_v2/Users", "GET", "User", "list"),
    ("/scim_v2/Users/.search", "POST", "User", "search"),
    ("/scim_v2/Users/{id}", "GET", "User", "get"),
    ("/scim_v2/Users/{id}", "PUT", "User", "replace"),
    ("/scim_v2/Users/{id}", "PATCH", "User", "patch"),
    ("/scim_v2/Users/{id}", "DELETE", "User", "delete"),
    ("/scim_v2/Groups", "POST", "Group", "create"),
    ("/scim_v2/Groups", "GET", "Group", "list"),
    ("/scim_v2/Groups/.search", "POST", "Group", "search"),
    ("/scim_v2/Groups/{id}", "GET", "Group", "get"),
    ("/scim_v2/Groups/{id}", "PUT", "Group", "replace"),
    ("/scim_v2/Groups/{id}", "PATCH", "Group", "patch"),
    ("/scim_v2/Groups/{id}", "DELETE", "Group", "delete"),
    ("/scim_v2/Bulk", "POST", "Bulk", "bulk"),
    ("/scim_v2/.search", "POST", "any", "search"),
    (
        "/scim_v2/ServiceProviderConfig",
        "GET",
        "ServiceProviderConfig",
        "get",
    ),
    ("/scim_v2/ResourceTypes", "GET", "ResourceType", "list"),
    (
        "/scim_v2/ResourceTypes/{name}",
        "GET",
        "ResourceType",
        "get",
    ),
    ("/scim_v2/Schemas", "GET", "Schema", "list"),
    ("/scim_v2/Schemas/{id}", "GET", "Schema", "get"),
    ("/scim_v2/Me", "GET", "Me", "get"),
];

/// The counters, one per SCIM operation, made at start.
#[derive(Clone)]
pub struct ScimOperations {
    by_route: HashMap<(&'static str, &'static str), IntCounter>,
    by_operation: HashMap<(&'static str, &'static str), IntCounter>,
}

impl ScimOperations {
    /// Creates the counter, registers it and makes every series (at 0).
    pub fn register(registry: &Registry) -> prometheus::Result<ScimOperations> {
        let counter = IntCounterVec::new(
            Opts::new(
                "rollcall_scim_operations_total",
                "SCIM operations asked, by resource and op, whatever their answer \
                 (each operation of a /Bulk request counts too)",
            ),
            &["resource", "op"],
        )?;
        registry.register(Box::new(counter.clone()))?;
        let mut operations = ScimOperations {
            by_route: HashMap::new(),
            by_operation: HashMap::new(),
        };
        for (route, method, resource, op) in ROUTES {
            let child = counter.with_label_values(&[resource, op]);
            operations.by_route.insert((route, method), child.clone());
            operations.by_operation.insert((resource, op), child);
        }
        Ok(operations)
    }

    /// Counts a request that matched `route` with `method`, if it is a
    /// SCIM operation.
    pub fn count_route(&self, method: &Method, route: &str) {
        if let Some(counter) = self.by_route.get(&(route, method.as_str())) {
            counter.inc();
        }
    }

    /// Counts one operation of a `/Bulk` request on `resource` (`User`,
    /// `Group`): `create`, `replace`, `patch` or `delete`.
    pub fn count(&self, resource: &str, op: &str) {
        if let Some(counter) = self.by_operation.get(&(resource, op)) {
            counter.inc();
        }
    }
}
