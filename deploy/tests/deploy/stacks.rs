//! Smoke test of the deployment on the emulator: the synthesized stacks created and
//! updated through change sets, and deleted, with moto's CloudFormation. What moto
//! cannot create is left out (`synth::emulator::for_moto`), and listed.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use spa_aws::AwsConfig;
use spa_aws::cloudformation::{ChangeSetKind, StackEvent, StackRequest, Stacks, TemplateSource};
use spa_aws::dynamodb::DynamoStore;
use spa_aws::metrics::ApiCalls;
use spa_aws::s3::S3Objects;
use spa_core::settings::Settings;
use spa_deploy::package;
use spa_deploy::synth::{SynthOptions, emulator, synth};
use spa_usecases::ports::{Claim, Claims, Objects, PortError};

fn settings() -> Settings {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../settings.yaml");
    spa_aws::files::load_settings(&path).unwrap().settings
}

fn fake_bootstrap() -> Vec<u8> {
    let mut bytes = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    bytes.extend(3u16.to_le_bytes());
    bytes.extend(0xB7u16.to_le_bytes());
    bytes.extend([0; 44]);
    bytes
}

fn request(name: &str, template: &Value, parameters: &[(&str, &str)]) -> StackRequest {
    StackRequest {
        name: name.to_owned(),
        template: TemplateSource::Body(template.to_string()),
        parameters: parameters
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        tags: BTreeMap::from([("spa:environment".to_owned(), "SpaDemo".to_owned())]),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_automation_stack_deploys_updates_and_deletes_on_the_emulator() {
    let scenario = spa_testkit::scenario();
    let config = AwsConfig::from_sdk(&scenario.sdk_config().await, ApiCalls::new());
    let stacks =
        Stacks::new(&config).with_polling(Duration::from_millis(50), Duration::from_secs(120));
    let settings = settings();
    let templates = synth(&settings, SynthOptions { upcoming: true }).unwrap();
    let events: std::sync::Mutex<Vec<StackEvent>> = std::sync::Mutex::new(Vec::new());
    let mut progress = |e: &StackEvent| events.lock().unwrap().push(e.clone());

    // the artifacts bucket first: the functions' code comes from it
    let artifacts = templates.artifacts.to_json().unwrap();
    let (artifacts, left_out) = emulator::for_moto(&artifacts);
    assert_eq!(
        left_out.iter().map(|l| l.kind.as_str()).collect::<Vec<_>>(),
        ["AWS::S3::BucketPolicy"]
    );
    let plan = stacks
        .plan(&request("SpaDemo-artifacts", &artifacts, &[]))
        .await
        .unwrap()
        .expect("a change set");
    assert_eq!(plan.kind, ChangeSetKind::Create);
    let state = stacks.execute(&plan, &mut progress).await.unwrap();
    assert_eq!(state.status, "CREATE_COMPLETE");
    // moto computes no outputs on change sets: spa names its buckets itself
    let bucket = templates.names.artifacts_bucket.clone();

    let zip = package::zip(&fake_bootstrap(), &[]).unwrap();
    let key = package::content_key(&zip);
    S3Objects::new(config.s3(), &bucket)
        .put(&key, zip, "application/zip")
        .await
        .unwrap();

    let automation = templates.automation.to_json().unwrap();
    let (filtered, left_out) = emulator::for_moto(&automation);
    let mut unsupported: Vec<&str> = left_out
        .iter()
        .filter(|l| l.why == "unsupported by moto")
        .map(|l| l.kind.as_str())
        .collect();
    unsupported.sort_unstable();
    unsupported.dedup();
    eprintln!(
        "left out for moto: {unsupported:?}; {} resources of {}",
        filtered["Resources"].as_object().unwrap().len(),
        automation["Resources"].as_object().unwrap().len()
    );
    // only what moto lacks is left out: every function, queue, table, rule is created
    assert!(
        left_out.iter().all(|l| l.why == "unsupported by moto"),
        "{left_out:#?}"
    );
    let parameters = [
        ("ArtifactBucket", bucket.as_str()),
        ("ArtifactKey", key.as_str()),
        ("OrganizationId", "o-a1b2c3d4e5"),
    ];
    // the first time through S3, as templates over 51,200 bytes go
    let template_key = "templates/SpaDemo-automation.json";
    S3Objects::new(config.s3(), &bucket)
        .put(
            template_key,
            filtered.to_string().into_bytes(),
            "application/json",
        )
        .await
        .unwrap();
    let mut by_url = request("SpaDemo-automation", &filtered, &parameters);
    by_url.template = TemplateSource::Url(spa_deploy::release::object_url(
        &bucket,
        "eu-west-1",
        template_key,
    ));
    let plan = stacks.plan(&by_url).await.unwrap().expect("a change set");
    assert_eq!(plan.kind, ChangeSetKind::Create);
    assert!(
        plan.changes
            .iter()
            .any(|c| c.logical_id == "CommandsFunction" && c.action == "Add"),
        "{:?}",
        plan.changes
    );
    let state = stacks.execute(&plan, &mut progress).await.unwrap();
    assert_eq!(state.status, "CREATE_COMPLETE");
    let events = events.lock().unwrap().clone();
    assert!(
        events
            .iter()
            .any(|e| e.logical_id == "SpaDemo-automation" && e.status == "CREATE_COMPLETE"),
        "{events:#?}"
    );

    // the engine works on the tables the stack made, under the names it uses
    let store = DynamoStore::from_settings(config.dynamodb(), &settings);
    let at = chrono::Utc::now();
    let until = at + chrono::TimeDelta::seconds(60);
    assert_eq!(
        store.claim("smoke-test", at, until, false).await.unwrap(),
        Claim::New
    );
    store.complete("smoke-test", at, None).await.unwrap();
    assert_eq!(
        store.claim("smoke-test", at, until, false).await.unwrap(),
        Claim::Seen
    );

    // the same template again: nothing to change
    assert_eq!(
        stacks
            .plan(&request("SpaDemo-automation", &filtered, &parameters))
            .await
            .unwrap(),
        None
    );

    // a change: an update change set, executed
    let mut changed = filtered.clone();
    changed["Resources"]["SchedulerFunction"]["Properties"]["MemorySize"] = Value::from(1536);
    let plan = stacks
        .plan(&request("SpaDemo-automation", &changed, &parameters))
        .await
        .unwrap()
        .expect("a change set");
    assert_eq!(plan.kind, ChangeSetKind::Update);
    let state = stacks.execute(&plan, &mut progress).await.unwrap();
    assert_eq!(state.status, "UPDATE_COMPLETE");

    assert!(
        stacks
            .delete("SpaDemo-automation", &mut progress)
            .await
            .unwrap()
    );
    assert_eq!(stacks.describe("SpaDemo-automation").await.unwrap(), None);
    assert!(
        !stacks
            .delete("SpaDemo-automation", &mut progress)
            .await
            .unwrap(),
        "nothing left to delete"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudformation_out_of_reach_is_one_clear_error() {
    let config = AwsConfig::load(
        "eu-west-1",
        Some("http://127.0.0.1:9"),
        spa_aws::BaseCredentials::Emulator,
        ApiCalls::new(),
    )
    .await;
    let stacks =
        Stacks::new(&config).with_polling(Duration::from_millis(50), Duration::from_secs(60));
    let template = serde_json::json!({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}});
    let error = stacks
        .plan(&request("SpaDemo-automation", &template, &[]))
        .await
        .unwrap_err();
    assert!(matches!(error, PortError::Unavailable { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with("cloudformation is unavailable: DescribeStacks"),
        "{error}"
    );
}
