//! Large inputs by upload, on the emulator: a presigned PUT with plain HTTP, a task naming the
//! upload, and the refusals (another tenant's upload, a missing one, one over the limit).

use std::collections::BTreeMap;

use bb_tests::{TestStack, sigv4};
use serde_json::{Value, json};

use crate::cli::{bnb, json_stdout, piped, scratch};

const REGIONS: [&str; 4] = ["north", "south", "east", "west"];

/// A CSV of `rows` rows, the same each time (a small LCG, no randomness in the verdict).
fn sales_csv(rows: usize) -> String {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    let mut csv = String::from("region,sku,units,revenue\n");
    for row in 0..rows {
        let region = REGIONS[(next() % 4) as usize];
        let units = next() % 1000;
        let cents = next() % 10_000_000;
        csv.push_str(&format!(
            "{region},sku-{region}-{row:06}-standard,{units},{}.{:02}\n",
            cents / 100,
            cents % 100
        ));
    }
    csv
}

/// Sum, min and max of a numeric column, and the revenue per region, computed here.
struct Expected {
    count: usize,
    sum: f64,
    min: f64,
    max: f64,
    revenue_by_region: BTreeMap<String, f64>,
}

fn expected(csv: &str, column: usize) -> Expected {
    let mut values = Vec::new();
    let mut revenue_by_region: BTreeMap<String, f64> = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        values.push(cells[column].parse::<f64>().unwrap());
        *revenue_by_region.entry(cells[0].to_owned()).or_default() +=
            cells[3].parse::<f64>().unwrap();
    }
    Expected {
        count: values.len(),
        sum: values.iter().sum(),
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        revenue_by_region,
    }
}

fn close(actual: &Value, expected: f64) {
    let actual = actual
        .as_f64()
        .unwrap_or_else(|| panic!("{actual} is not a number"));
    assert!(
        (actual - expected).abs() <= 1e-6 * expected.abs().max(1.0),
        "{actual} != {expected}"
    );
}

/// Asks for an upload URL as `http`'s tenant.
async fn grant(stack: &TestStack, http: &reqwest::Client, size: usize) -> Value {
    let response = http
        .post(format!("{}/v1/uploads", stack.base_url))
        .json(&json!({ "size": size }))
        .send()
        .await
        .expect("POST /v1/uploads");
    assert_eq!(response.status(), 200);
    response.json().await.expect("an upload grant")
}

/// PUTs `body` to the grant's URL as any HTTP client would: no API key, the signed headers.
async fn put(stack: &TestStack, grant: &Value, body: Vec<u8>) -> reqwest::Response {
    let mut request = stack.anonymous.put(grant["url"].as_str().unwrap());
    for (name, value) in grant["headers"].as_object().unwrap() {
        if name != "content-length" && name != "host" {
            request = request.header(name, value.as_str().unwrap());
        }
    }
    request
        .body(body)
        .send()
        .await
        .expect("PUT to the upload URL")
}

fn task_on(upload_id: &Value) -> Value {
    json!({
        "input": "Process quarterly data analysis request",
        "data": {"format": "csv", "upload": upload_id},
        "tools": ["data-processor"],
    })
}

async fn problem_type(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status(), status);
    let problem: Value = response.json().await.expect("a problem document");
    problem["type"].as_str().expect("a problem type").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_of_several_mib_goes_by_upload_and_gets_its_statistics() {
    let stack = TestStack::spawn().await;
    let csv = sales_csv(80_000);
    assert!(csv.len() > 3 * 1024 * 1024, "{} bytes", csv.len());

    // Inline, it is over Brown's body limit.
    let inline = stack
        .submit(&json!({"input": "Analyse", "data": {"format": "csv", "content": csv}}))
        .await;
    assert_eq!(
        problem_type(inline, 413).await,
        "/problems/payload-too-large"
    );

    let grant = grant(&stack, &stack.http, csv.len()).await;
    assert_eq!(grant["method"], "PUT");
    assert_eq!(grant["headers"]["content-length"], csv.len().to_string());
    let stored = put(&stack, &grant, csv.clone().into_bytes()).await;
    assert_eq!(stored.status(), 200, "{:?}", stored.text().await);
    let upload_id = grant["upload_id"].as_str().unwrap();
    assert_eq!(
        stack.keys(stack.tasks_bucket(), "uploads/").await,
        [format!("uploads/default/{upload_id}")]
    );

    let task_id = stack.submit_ok(&task_on(&grant["upload_id"])).await;
    let status = stack.wait_until_final(&task_id).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    let payload: Value =
        serde_json::from_str(&stack.download(&status, "output_payload.json").await).unwrap();
    let output = &payload["steps"]["analyse"]["output"];
    for (name, column) in [("units", 2), ("revenue", 3)] {
        let want = expected(&csv, column);
        let got = &output["numeric"][name];
        assert_eq!(got["count"], want.count, "{name}");
        close(&got["sum"], want.sum);
        close(&got["min"], want.min);
        close(&got["max"], want.max);
    }
    let groups = &output["group_by"];
    assert_eq!(groups["column"], "region");
    for (region, revenue) in expected(&csv, 3).revenue_by_region {
        close(&groups["groups"][&region]["totals"]["revenue"], revenue);
    }
    // The upload is never work: the task ran once, and nothing but the task reached the queue.
    assert_eq!(status["attempt"], 1);
    stack.wait_until_drained(&stack.provisioned.queue_url).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_is_its_tenants_alone() {
    let stack = TestStack::spawn_brown_only().await;
    let csv = sales_csv(100);
    let grant = grant(&stack, &stack.http, csv.len()).await;
    let url = grant["url"].as_str().unwrap();
    assert_eq!(
        put(&stack, &grant, csv.clone().into_bytes()).await.status(),
        200
    );

    // The other tenant naming the id finds nothing in its own space.
    let other = stack
        .other_http
        .post(format!("{}/v1/tasks", stack.base_url))
        .json(&task_on(&grant["upload_id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(problem_type(other, 422).await, "/problems/upload-not-found");
    assert!(stack.keys(stack.tasks_bucket(), "inbox/").await.is_empty());

    // The URL writes the tenant's key and that length only: S3 checks the signature over both
    // (the emulator does not, so the check is made here as S3 makes it).
    let host = url.split('/').nth(2).unwrap();
    let length = csv.len().to_string();
    let headers = [("host", host), ("content-length", length.as_str())];
    assert!(sigv4::presigned_request_is_signed(
        "PUT", url, &headers, "test"
    ));
    let elsewhere = url.replace(
        "/uploads/default/",
        &format!("/uploads/{}/", bb_tests::OTHER_TENANT),
    );
    assert!(!sigv4::presigned_request_is_signed(
        "PUT", &elsewhere, &headers, "test"
    ));
    let inbox = url.replace("/uploads/default/", "/inbox/default/");
    assert!(!sigv4::presigned_request_is_signed(
        "PUT", &inbox, &headers, "test"
    ));
    let longer = [("host", host), ("content-length", "99999999")];
    assert!(!sigv4::presigned_request_is_signed(
        "PUT", url, &longer, "test"
    ));

    // Its own tenant is accepted.
    stack.submit_ok(&task_on(&grant["upload_id"])).await;

    // Uploads expire after a day, as terraform's storage module sets it.
    let lifecycle = stack
        .s3
        .get_bucket_lifecycle_configuration()
        .bucket(stack.tasks_bucket())
        .send()
        .await
        .unwrap();
    let uploads_rule = lifecycle
        .rules()
        .iter()
        .find(|rule| rule.filter().and_then(|filter| filter.prefix()) == Some("uploads/"))
        .expect("a lifecycle rule for uploads/");
    assert_eq!(uploads_rule.expiration().and_then(|e| e.days()), Some(1));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_oversized_uploads_are_refused() {
    let stack = TestStack::spawn_brown_only_configured(|config| {
        config.upload_max_bytes = 64 * 1024;
    })
    .await;
    let missing = stack.submit(&task_on(&json!(uuid::Uuid::new_v4()))).await;
    assert_eq!(
        problem_type(missing, 422).await,
        "/problems/upload-not-found"
    );

    // Granted, but never PUT.
    let unused = grant(&stack, &stack.http, 100).await;
    let unused = stack.submit(&task_on(&unused["upload_id"])).await;
    assert_eq!(
        problem_type(unused, 422).await,
        "/problems/upload-not-found"
    );

    // No URL for more than the limit.
    let response = stack
        .http
        .post(format!("{}/v1/uploads", stack.base_url))
        .json(&json!({"size": 64 * 1024 + 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem_type(response, 422).await, "/problems/validation");

    // An object over the limit in the tenant's space (S3 would refuse the signed URL a longer
    // body; the HEAD holds whatever wrote it).
    let grant = grant(&stack, &stack.http, 100).await;
    let upload_id = grant["upload_id"].as_str().unwrap();
    stack
        .s3
        .put_object()
        .bucket(stack.tasks_bucket())
        .key(format!("uploads/default/{upload_id}"))
        .body(sales_csv(2_000).into_bytes().into())
        .send()
        .await
        .unwrap();
    let oversized = stack.submit(&task_on(&grant["upload_id"])).await;
    assert_eq!(
        problem_type(oversized, 422).await,
        "/problems/upload-too-large"
    );
    assert!(stack.keys(stack.tasks_bucket(), "inbox/").await.is_empty());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bnb_submit_sends_a_large_file_by_upload() {
    let stack = TestStack::spawn().await;
    let dir = scratch();
    let csv = sales_csv(25_000);
    assert!(csv.len() > 768 * 1024);
    std::fs::write(dir.join("sales.csv"), &csv).unwrap();
    let output = piped(bnb(
        &stack,
        &dir,
        &[
            "submit",
            "sales.csv",
            "--input",
            "Analyse the sales",
            "--out",
            "report",
            "--json",
        ],
    ))
    .await;
    assert!(output.status.success(), "{output:?}");
    let status = json_stdout(&output);
    assert_eq!(status["status"], "succeeded", "{status}");
    let uploads = stack.keys(stack.tasks_bucket(), "uploads/default/").await;
    assert_eq!(uploads.len(), 1, "{uploads:?}");
    let payload: Value = serde_json::from_slice(
        &std::fs::read(dir.join("report/output_payload.json")).expect("the downloaded payload"),
    )
    .unwrap();
    let revenue = &payload["steps"]["analyse"]["output"]["numeric"]["revenue"];
    assert_eq!(revenue["count"], 25_000);
    close(&revenue["sum"], expected(&csv, 3).sum);
    stack.stop().await;
    std::fs::remove_dir_all(dir).ok();
}
