//! `depends_on` in a living cluster: a service is first created only once each required
//! dependency meets its condition. Once created it stays, even if a dependency later flaps.

use std::collections::BTreeMap;

use super::live::Live;
use crate::object::WorkloadKind;
use crate::translate::{DependencyCondition, ServicePlan};

/// The services that must not be created yet, with what each waits for.
pub fn waiting(plans: &[ServicePlan], live: &Live) -> BTreeMap<String, String> {
    let by_name: BTreeMap<&str, &ServicePlan> = plans.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut waiting = BTreeMap::new();
    for plan in plans {
        if live.get(plan.kind.into(), &plan.name).is_some() {
            continue;
        }
        let unmet: Vec<String> = plan
            .depends_on
            .iter()
            .filter(|dependency| dependency.required)
            .filter(|dependency| {
                let Some(target) = by_name.get(dependency.service.as_str()) else { return false };
                !meets(target, live, dependency.condition)
            })
            .map(|dependency| {
                let compose_name = by_name.get(dependency.service.as_str()).map_or(dependency.service.as_str(), |p| p.compose_name.as_str());
                format!("{compose_name}: {}", dependency.condition.as_compose())
            })
            .collect();
        if !unmet.is_empty() {
            waiting.insert(plan.name.clone(), format!("waiting for {}", unmet.join(", ")));
        }
    }
    waiting
}

fn meets(target: &ServicePlan, live: &Live, condition: DependencyCondition) -> bool {
    let Some(workload) = live.get(target.kind.into(), &target.name).and_then(|o| o.workload()) else { return false };
    let progress = &workload.progress;
    match condition {
        DependencyCondition::Started => progress.started,
        DependencyCondition::Healthy => progress.ready,
        DependencyCondition::CompletedSuccessfully => target.kind == WorkloadKind::Job && progress.ready,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ComposeStackSpec;
    use crate::controller::cache::Cached;
    use crate::object::Kind;
    use crate::object::Object;
    use crate::policy::Policy;

    use serde_json::json;

    fn plans(compose: &str) -> Vec<ServicePlan> {
        let spec = ComposeStackSpec { compose: compose.into(), ..Default::default() };
        crate::pipeline::translate("s", "ns", &spec, &Policy::default()).unwrap().services
    }

    fn owned(objects: Vec<Object>) -> Live {
        let mut live = Live::default();
        objects.into_iter().for_each(|o| live.record(Cached::workload_of(o)));
        live
    }

    fn deployment(name: &str, ready: i32) -> Object {
        Object::from_json(
            Kind::Deployment,
            json!({"metadata": {"name": name, "generation": 1}, "spec": {"replicas": 2, "selector": {}, "template": {}},
                   "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": ready, "availableReplicas": ready}}),
        )
        .unwrap()
    }

    const STACK: &str = "services:\n  app:\n    image: a\n    depends_on:\n      db: {condition: service_healthy}\n      cache: {condition: service_started, required: false}\n  db: {image: b, deploy: {replicas: 2}}\n  cache: {image: c}\n";

    #[test]
    fn a_dependent_waits_until_its_dependency_meets_the_condition() {
        let plans = plans(STACK);
        assert_eq!(waiting(&plans, &owned(vec![])), BTreeMap::from([("app".into(), "waiting for db: service_healthy".into())]));
        assert_eq!(waiting(&plans, &owned(vec![deployment("db", 1)])).len(), 1, "one of two replicas is not healthy");
        assert!(waiting(&plans, &owned(vec![deployment("db", 2)])).is_empty());
    }

    #[test]
    fn a_created_service_is_not_held_back_when_a_dependency_flaps() {
        let plans = plans(STACK);
        assert!(waiting(&plans, &owned(vec![deployment("db", 0), deployment("app", 2)])).is_empty());
    }

    #[test]
    fn completed_successfully_needs_a_finished_job() {
        let plans = plans(
            "services:\n  migrate: {image: m, restart: 'no'}\n  app:\n    image: a\n    depends_on: {migrate: {condition: service_completed_successfully}}\n",
        );
        let job = |conditions: serde_json::Value| {
            Object::from_json(Kind::Job, json!({"metadata": {"name": "migrate"}, "spec": {"template": {}}, "status": {"conditions": conditions}})).unwrap()
        };
        assert_eq!(waiting(&plans, &owned(vec![job(json!([]))]))["app"], "waiting for migrate: service_completed_successfully");
        assert!(waiting(&plans, &owned(vec![job(json!([{"type": "Complete", "status": "True"}]))])).is_empty());
    }
}
