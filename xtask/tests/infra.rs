//! The infrastructure, checked by what runs: terraform fmt (and validate where its providers
//! can be downloaded), checkov over terraform/ and docker/, hadolint over every Dockerfile, and
//! tests that parse the HCL (python-hcl2) for the least-privilege matrix of docs/design.md, the
//! private tier's isolation, and policies identical to bb-provision's.
//!
//! `cargo xtask test` provides the tools: `BB_TEST_INFRA_BIN` (checkov, hadolint) and
//! `BB_TEST_HCL_PYTHON` (a Python with python-hcl2).

mod hcl;

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use hcl::{Hcl, strings};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn infra_tool(name: &str) -> PathBuf {
    let dir = std::env::var_os("BB_TEST_INFRA_BIN").expect(
        "BB_TEST_INFRA_BIN is not set: run the tests with `cargo xtask test`, which installs \
         checkov and hadolint into .venv-infra/",
    );
    PathBuf::from(dir).join(name)
}

/// Runs a command in the workspace root; panics with its output unless it succeeds.
fn run_ok(command: &mut Command) -> String {
    let output = command
        .current_dir(root())
        .output()
        .unwrap_or_else(|err| panic!("running {command:?}: {err}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{text}",
        output.status
    );
    text
}

#[test]
fn terraform_is_formatted() {
    run_ok(Command::new("terraform").args(["fmt", "-check", "-recursive", "-diff", "terraform"]));
}

#[test]
fn terraform_validates_where_its_providers_can_be_downloaded() {
    // A copy, so that init's lock file and provider cache stay out of the source tree.
    let work = root().join("target/terraform-validate");
    let _ = fs::remove_dir_all(&work);
    copy_tree(&root().join("terraform"), &work);
    let init = Command::new("terraform")
        .args(["init", "-backend=false", "-input=false", "-no-color"])
        .current_dir(&work)
        .output()
        .expect("running terraform init");
    if !init.status.success() {
        let reason = String::from_utf8_lossy(&init.stderr);
        let reason = reason
            .lines()
            .find(|line| !line.trim().is_empty() && !line.contains('╷'))
            .unwrap_or("terraform init failed");
        println!("SKIPPED terraform validate: the providers cannot be downloaded here ({reason})");
        return;
    }
    let validate = Command::new("terraform")
        .args(["validate", "-no-color"])
        .current_dir(&work)
        .output()
        .expect("running terraform validate");
    assert!(
        validate.status.success(),
        "terraform validate:\n{}{}",
        String::from_utf8_lossy(&validate.stdout),
        String::from_utf8_lossy(&validate.stderr)
    );
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != ".terraform" {
                copy_tree(&entry.path(), &target);
            }
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn checkov(directory: &str, framework: &str) {
    let report = run_ok(
        Command::new(infra_tool("checkov"))
            .args(["--directory", directory, "--framework", framework])
            .args(["--skip-download", "--compact", "--quiet", "--output", "cli"]),
    );
    println!("{report}");
}

#[test]
fn checkov_finds_nothing_in_terraform() {
    checkov("terraform", "terraform");
}

#[test]
fn checkov_finds_nothing_in_the_dockerfiles() {
    checkov("docker", "dockerfile");
}

#[test]
fn every_skipped_check_is_justified() {
    // checkov:skip=ID: reason — a skip without a reason hides a finding.
    let mut unjustified = Vec::new();
    for file in files_under(&root().join("terraform"))
        .into_iter()
        .chain(files_under(&root().join("docker")))
    {
        let text = fs::read_to_string(&file).unwrap_or_default();
        for line in text.lines().filter(|line| line.contains("checkov:skip=")) {
            let after = line.split("checkov:skip=").nth(1).unwrap_or_default();
            let reason = after.split_once(':').map(|(_, reason)| reason.trim());
            if reason.is_none_or(|reason| reason.len() < 20) {
                unjustified.push(format!("{}: {line}", file.display()));
            }
        }
    }
    assert!(
        unjustified.is_empty(),
        "skips without a reason: {unjustified:#?}"
    );
}

#[test]
fn hadolint_passes_every_dockerfile() {
    let dockerfiles: Vec<PathBuf> = files_under(&root().join("docker"))
        .into_iter()
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().contains("Dockerfile"))
        })
        .collect();
    assert!(!dockerfiles.is_empty(), "no Dockerfile under docker/");
    for dockerfile in dockerfiles {
        run_ok(Command::new(infra_tool("hadolint")).arg(&dockerfile));
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

// ------------------------------------------------------------------ least privilege

/// A grant as (action, resource), resources named by what they are: `tasks:inbox/*`,
/// `artifacts:*`, `tasks` (the bucket), `queue`, `bedrock-model`.
fn grants(policy: &Value) -> BTreeSet<(String, String)> {
    let mut grants = BTreeSet::new();
    let statements = policy["statement"].as_array().cloned().unwrap_or_default();
    let dynamic = policy["dynamic"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|block| block.get("statement"))
        .map(|statement| statement["content"][0].clone());
    for statement in statements.into_iter().chain(dynamic) {
        assert!(
            statement.get("effect").is_none() || statement["effect"] == "Allow",
            "a task role statement that is not an Allow: {statement}"
        );
        assert!(
            statement.get("condition").is_none() && statement.get("not_actions").is_none(),
            "task role statements are plain grants: {statement}"
        );
        for action in strings(&statement["actions"]) {
            assert!(!action.contains('*'), "wildcard action {action}");
            for resource in strings(&statement["resources"]) {
                grants.insert((action.clone(), resource_name(&resource)));
            }
        }
    }
    grants
}

fn resource_name(resource: &str) -> String {
    if let Some(rest) = resource.strip_prefix("${var.tasks_bucket_arn}") {
        return format!("tasks{}", rest.replacen('/', ":", 1));
    }
    if let Some(rest) = resource.strip_prefix("${var.artifacts_bucket_arn}") {
        return format!("artifacts{}", rest.replacen('/', ":", 1));
    }
    if resource == "${var.queue_arn}" {
        return "queue".into();
    }
    if resource == "${var.event_bus_arn}" {
        return "event-bus".into();
    }
    if resource.contains("foundation-model/") {
        return "bedrock-model".into();
    }
    panic!("a task role grants on an unexpected resource: {resource}");
}

fn expected(grants: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    grants
        .iter()
        .map(|(action, resource)| ((*action).to_owned(), (*resource).to_owned()))
        .collect()
}

#[test]
fn task_roles_hold_exactly_the_least_privilege_matrix() {
    let iam = Hcl::parse(&root().join("terraform/modules/compute/iam.tf"));
    let documents = iam.blocks("data", "aws_iam_policy_document");

    // docs/design.md's list, plus ListBucket for Bayko: without it S3 answers 403 rather than
    // 404 for a missing cancel/ or status/ object (docs/architecture.md).
    assert_eq!(
        grants(&documents["brown_task"]),
        expected(&[
            ("s3:PutObject", "tasks:inbox/*"),
            ("s3:PutObject", "tasks:cancel/*"),
            ("s3:GetObject", "tasks:inbox/*"),
            ("s3:GetObject", "tasks:status/*"),
            ("s3:GetObject", "artifacts:*"),
            ("s3:ListBucket", "tasks"),
        ])
    );
    assert_eq!(
        grants(&documents["bayko_task"]),
        expected(&[
            ("s3:GetObject", "tasks:inbox/*"),
            ("s3:GetObject", "tasks:cancel/*"),
            ("s3:GetObject", "tasks:status/*"),
            ("s3:PutObject", "tasks:status/*"),
            ("s3:GetObject", "artifacts:*"),
            ("s3:PutObject", "artifacts:*"),
            ("s3:ListBucket", "tasks"),
            ("sqs:ReceiveMessage", "queue"),
            ("sqs:DeleteMessage", "queue"),
            ("sqs:ChangeMessageVisibility", "queue"),
            ("sqs:GetQueueAttributes", "queue"),
            ("events:PutEvents", "event-bus"),
            ("bedrock:InvokeModel", "bedrock-model"),
        ])
    );

    // Each task role has its own document and nothing else: no managed policy attached.
    let role_policies = iam.blocks("resource", "aws_iam_role_policy");
    for role in ["brown_task", "bayko_task"] {
        assert_eq!(
            role_policies[role]["policy"],
            format!("${{data.aws_iam_policy_document.{role}.json}}")
        );
    }
    for file in files_under(&root().join("terraform")) {
        let text = fs::read_to_string(&file).unwrap_or_default();
        assert!(
            !text.contains("aws_iam_role_policy_attachment")
                && !text.contains("managed_policy_arns"),
            "{} attaches a managed policy",
            file.display()
        );
    }
    // The task roles and the execution roles are different roles.
    let ecs = Hcl::parse(&root().join("terraform/modules/compute/ecs.tf"));
    for service in ["brown", "bayko"] {
        let definition = &ecs.blocks("resource", "aws_ecs_task_definition")[service];
        assert_eq!(
            definition["task_role_arn"],
            format!("${{aws_iam_role.{service}_task.arn}}")
        );
        assert_eq!(
            definition["execution_role_arn"],
            format!("${{aws_iam_role.execution[\"{service}\"].arn}}")
        );
    }
}

// ------------------------------------------------------------------ private tier

#[test]
fn no_private_tier_security_group_admits_outside_traffic() {
    let groups = Hcl::parse(&root().join("terraform/modules/compute/security_groups.tf"));
    let bayko = &groups.blocks("resource", "aws_security_group")["bayko"];
    assert_eq!(bayko["vpc_id"], "${var.private_vpc_id}");
    assert!(
        bayko.get("ingress").is_none(),
        "Bayko's group has an inline ingress rule"
    );
    for (name, rule) in groups.blocks("resource", "aws_vpc_security_group_ingress_rule") {
        assert_ne!(
            rule["security_group_id"], "${aws_security_group.bayko.id}",
            "ingress rule {name} admits traffic to Bayko"
        );
    }
    // Brown admits the ALB only.
    for (name, rule) in groups.blocks("resource", "aws_vpc_security_group_ingress_rule") {
        if rule["security_group_id"] == "${aws_security_group.brown.id}" {
            assert_eq!(
                rule["referenced_security_group_id"], "${aws_security_group.alb.id}",
                "Brown's ingress rule {name} admits more than the ALB"
            );
        }
    }

    // The endpoints admit HTTPS from their own VPC only, and the private VPC's are given the
    // private CIDR.
    let endpoints = Hcl::parse(&root().join("terraform/modules/network/endpoints/main.tf"));
    let group = &endpoints.blocks("resource", "aws_security_group")["endpoints"];
    let ingress = group["ingress"].as_array().expect("the endpoints' ingress");
    assert_eq!(ingress.len(), 1);
    assert_eq!(strings(&ingress[0]["cidr_blocks"]), vec!["${var.vpc_cidr}"]);
    assert_eq!(ingress[0]["from_port"], 443);
    let network = Hcl::parse(&root().join("terraform/modules/network/main.tf"));
    let private = &network.modules()["private_endpoints"];
    assert_eq!(private["vpc_cidr"], "${var.private_vpc_cidr}");
    assert_eq!(private["vpc_id"], "${aws_vpc.private.id}");

    // The private VPC's internet path exists only with the Anthropic provider's NAT.
    for (name, gateway) in network.blocks("resource", "aws_internet_gateway") {
        if gateway["vpc_id"] == "${aws_vpc.private.id}" {
            assert_eq!(
                gateway["count"], "${var.nat_for_llm ? 1 : 0}",
                "internet gateway {name} in the private VPC is unconditional"
            );
        }
    }
    // Nothing joins the two VPCs.
    for file in files_under(&root().join("terraform")) {
        let text = fs::read_to_string(&file).unwrap_or_default();
        for joining in ["aws_vpc_peering_connection", "aws_ec2_transit_gateway"] {
            assert!(
                !text.contains(joining),
                "{} joins the VPCs ({joining})",
                file.display()
            );
        }
    }
}

// ------------------------------------------------------------------ one set of policies

#[test]
fn terraform_and_bb_provision_write_the_same_policies() {
    use bb_provision::policy;

    let bucket = Hcl::parse(&root().join("terraform/modules/storage/bucket/main.tf"));
    let tls_only = &bucket.blocks("data", "aws_iam_policy_document")["this"]["statement"][0];
    let local = policy::bucket_policy("arn:aws:s3:::b", policy::Transport::Tls).expect("a policy");
    let local = &local["Statement"][0];
    assert_same_statement(tls_only, local);

    let messaging = Hcl::parse(&root().join("terraform/modules/messaging/main.tf"));
    let queue = &messaging.blocks("data", "aws_iam_policy_document")["rule_sends"]["statement"];
    let local = policy::queue_policy("arn:q", "arn:rule", policy::Transport::Tls);
    for (index, statement) in queue.as_array().expect("statements").iter().enumerate() {
        assert_same_statement(statement, &local["Statement"][index]);
    }
}

/// The same sid, effect, actions, principal and condition (resources differ by construction).
fn assert_same_statement(terraform: &Value, local: &Value) {
    assert_eq!(terraform["sid"], local["Sid"]);
    assert_eq!(
        terraform.get("effect").cloned().unwrap_or("Allow".into()),
        local["Effect"]
    );
    let local_actions: Vec<String> = match &local["Action"] {
        Value::String(action) => vec![action.clone()],
        other => strings(other),
    };
    assert_eq!(strings(&terraform["actions"]), local_actions);
    let principal = &terraform["principals"][0];
    let local_principal = match &local["Principal"] {
        Value::String(any) => ("*".to_owned(), any.clone()),
        Value::Object(map) => {
            let (kind, who) = map.iter().next().expect("a principal");
            (kind.clone(), who.as_str().unwrap_or_default().to_owned())
        }
        other => panic!("unexpected principal {other}"),
    };
    assert_eq!(principal["type"], local_principal.0);
    assert_eq!(strings(&principal["identifiers"]), vec![local_principal.1]);
    let condition = &terraform["condition"][0];
    let test = condition["test"].as_str().unwrap_or_default();
    let variable = condition["variable"].as_str().unwrap_or_default();
    let value = &local["Condition"][test][variable];
    assert!(
        !value.is_null(),
        "bb-provision has no {test} {variable} condition"
    );
    match strings(&condition["values"]).as_slice() {
        [literal] if !literal.starts_with("${") => assert_eq!(value, literal),
        // An ARN terraform knows at apply time; bb-provision passes the rule's.
        [_reference] => assert!(value.is_string()),
        other => panic!("unexpected condition values {other:?}"),
    }
}
