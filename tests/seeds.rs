//! The seed stacks from examples/ convert to the objects the README promises.

use compose_operator::api::ComposeStack;
use compose_operator::object::WorkloadKind;
use compose_operator::policy::Policy;
use compose_operator::translate::Translation;
use serde_json::Value;

mod support;

fn translate_example(name: &str) -> Translation {
    let path = format!("{}/examples/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
    let stack: ComposeStack = serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    compose_operator::pipeline::translate(name, "seeds", &stack.spec, &Policy::default()).unwrap()
}

fn object(translation: &Translation, kind: &str, name: &str) -> Value {
    translation.objects().find(|o| o.kind().as_str() == kind && o.name() == name).unwrap_or_else(|| panic!("no {kind} {name}")).to_json()
}

#[test]
fn get_started_swarm_stack() {
    let translation = translate_example("get-started");
    insta::assert_yaml_snapshot!(translation.objects().map(|o| o.to_json()).collect::<Vec<_>>());
    let web = object(&translation, "Deployment", "web");
    assert_eq!(web["spec"]["replicas"], 5);
    let container = &web["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["resources"]["limits"]["cpu"], "100m");
    assert_eq!(container["resources"]["limits"]["memory"], "50Mi");
    assert_eq!(web["spec"]["template"]["spec"]["restartPolicy"], "Always");
    let published = object(&translation, "Service", "web-published");
    assert_eq!(published["spec"]["type"], "LoadBalancer");
    assert_eq!(published["spec"]["ports"][0]["port"], 4000);
    assert_eq!(published["spec"]["ports"][0]["targetPort"], 80);
    assert_eq!(object(&translation, "Service", "web")["spec"]["ports"][0]["port"], 80);
    assert!(translation.warnings.iter().any(|w| w.message.contains("exit 0")), "{:?}", translation.warnings);
}

#[test]
fn microblog_with_mysql_volume_links_and_variables() {
    let translation = translate_example("microblog");
    insta::assert_yaml_snapshot!(translation.objects().map(|o| o.to_json()).collect::<Vec<_>>());
    let mysql = translation.services.iter().find(|s| s.name == "mysql").unwrap();
    assert_eq!(mysql.kind, WorkloadKind::StatefulSet);
    let statefulset = object(&translation, "StatefulSet", "mysql");
    assert_eq!(statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"], "mysql-data");
    assert_eq!(statefulset["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"], "Retain");
    let probe = &statefulset["spec"]["template"]["spec"]["containers"][0]["readinessProbe"];
    assert_eq!(probe["exec"]["command"][0], "mysqladmin");
    assert_eq!(probe["periodSeconds"], 10);
    let alias = object(&translation, "Service", "dbserver");
    assert_eq!(alias["spec"]["selector"]["compose-operator.dev/service"], "mysql");
    let app = object(&translation, "Deployment", "microblog");
    let env = &app["spec"]["template"]["spec"]["containers"][0]["env"];
    let database_url = env.as_array().unwrap().iter().find(|e| e["name"] == "DATABASE_URL").unwrap();
    assert_eq!(database_url["value"], "mysql+pymysql://microblog:microblog-password@dbserver/microblog");
    let microblog = translation.services.iter().find(|s| s.name == "microblog").unwrap();
    let conditions: Vec<_> = microblog.depends_on.iter().map(|d| (d.service.as_str(), d.condition.as_compose())).collect();
    assert_eq!(conditions, [("elasticsearch", "service_started"), ("mysql", "service_healthy")]);
    let elasticsearch = object(&translation, "Deployment", "elasticsearch");
    let es_env = &elasticsearch["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(es_env.as_array().unwrap().iter().any(|e| e["name"] == "discovery.type" && e["value"] == "single-node"));
}

#[test]
fn redis_with_a_published_port() {
    let translation = translate_example("redis");
    let published = object(&translation, "Service", "redis-published");
    assert_eq!(published["spec"]["ports"][0]["port"], 6379);
    assert_eq!(object(&translation, "Deployment", "redis")["spec"]["template"]["spec"]["containers"][0]["image"], "redis:7-alpine");
}

#[test]
fn django_dev_server() {
    let translation = translate_example("django");
    insta::assert_yaml_snapshot!(translation.objects().map(|o| o.to_json()).collect::<Vec<_>>());
    let web = object(&translation, "Deployment", "web");
    let args = &web["spec"]["template"]["spec"]["containers"][0]["args"];
    assert_eq!(args, &serde_json::json!(["python", "manage.py", "runserver", "0.0.0.0:8000"]));
    let db = translation.services.iter().find(|s| s.name == "db").unwrap();
    assert_eq!(db.kind, WorkloadKind::StatefulSet);
    let password = &object(&translation, "StatefulSet", "db")["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(password.as_array().unwrap().iter().any(|e| e["name"] == "POSTGRES_PASSWORD" && e["value"] == "postgres"));
}

/// Every example translates: the ComposeStacks of examples/ and the plain compose files of
/// examples/compose (what the README's `convert` reads).
#[test]
fn every_example_translates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = 0;
    for (group, dir) in [("examples", dir.clone()), ("examples-compose", dir.join("compose"))] {
        let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "yaml")).collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let spec = match group {
                "examples" => serde_saphyr::from_str::<ComposeStack>(&text).unwrap().spec,
                _ => compose_operator::api::ComposeStackSpec { compose: text, ..Default::default() },
            };
            let output = support::render(&name, &spec, &Policy::default());
            support::record::record(group, &name, &output);
            assert!(!output.starts_with("refused"), "{} was refused:\n{output}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} examples found");
}
