//! Metrics against Prometheus's own tools: `promtool check metrics` on both expositions, the
//! alert rules' unit tests, and a real Prometheus scraping Brown and Bayko during a run, whose
//! HTTP API must return the expected values and data for every dashboard panel.

use bb_tests::{
    TestStack,
    prometheus::{self, PrometheusServer, scalar},
};
use serde_json::{Value, json};

const TASKS: usize = 4;
const DASHBOARD: &str = include_str!("../../../docker/grafana/dashboards/bayko-brown.json");

fn host(url: &str) -> String {
    url.trim_start_matches("http://").to_owned()
}

async fn exposition(url: &str) -> String {
    let response = reqwest::get(format!("{url}/metrics"))
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.expect("exposition")
}

/// Every PromQL expression of the Grafana dashboard, with its panel's title.
fn panel_queries() -> Vec<(String, String)> {
    let dashboard: Value = serde_json::from_str(DASHBOARD).expect("dashboard JSON");
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("expr").to_owned();
            queries.push((panel["title"].as_str().unwrap_or_default().to_owned(), expr));
        }
    }
    queries
}

#[test]
fn alert_rules_and_scrape_config_pass_promtool_and_the_rules_unit_tests() {
    let Some(promtool) = prometheus::tool("promtool") else {
        return;
    };
    let checked = prometheus::promtool(&promtool, &["check", "rules", "alerts.yml"], None);
    assert!(checked.contains("SUCCESS: 9 rules found"), "{checked}");
    let tested = prometheus::promtool(&promtool, &["test", "rules", "alerts.test.yml"], None);
    assert!(tested.contains("SUCCESS"), "{tested}");
    // The compose stack's configuration loads, rules included.
    let config = prometheus::promtool(&promtool, &["check", "config", "prometheus.yml"], None);
    assert!(
        config.contains("SUCCESS: prometheus.yml is valid"),
        "{config}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_brown_and_bayko_and_every_panel_has_data() {
    let (Some(promtool), Some(server)) =
        (prometheus::tool("promtool"), prometheus::tool("prometheus"))
    else {
        return;
    };
    let mut stack = TestStack::spawn_brown_only().await;
    let bayko_url = stack.start_bayko_with_metrics().await;
    let prometheus = PrometheusServer::start(
        &server,
        &[
            ("brown", vec![host(&stack.brown_metrics_url)]),
            ("bayko", vec![host(&bayko_url)]),
        ],
    )
    .await;

    // Metrics stay off the public port.
    let public = reqwest::get(format!("{}/metrics", stack.base_url))
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
    // Bayko's listener is its health check too.
    let ready = reqwest::get(format!("{bayko_url}/readyz")).await.unwrap();
    let health = reqwest::get(format!("{bayko_url}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(matches!(ready.status().as_u16(), 200 | 503));

    let mut ids = Vec::new();
    for n in 0..TASKS {
        ids.push(
            stack
                .submit_ok(&json!({"input": format!("Summarise report number {n} for the board.")}))
                .await,
        );
    }
    let rejected = stack.submit(&json!({"input": ""})).await;
    assert_eq!(rejected.status(), 422);
    for id in &ids {
        let status = stack.wait_until_final(id).await;
        assert_eq!(status["status"], "succeeded", "{status}");
    }
    let ready = reqwest::get(format!("{bayko_url}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200, "a receiving worker is ready");

    // Both expositions pass promtool's linter.
    for url in [&stack.brown_metrics_url, &bayko_url] {
        let text = exposition(url).await;
        prometheus::promtool(&promtool, &["check", "metrics"], Some(&text));
    }

    // The scraped values match what happened.
    let expect = |value: f64| move |result: &[Value]| scalar(result) == Some(value);
    let tasks = TASKS as f64;
    prometheus
        .wait_for(
            r#"sum(bayko_tasks_total{outcome="succeeded"})"#,
            expect(tasks),
        )
        .await;
    prometheus
        .wait_for(r#"sum(bayko_tasks_total{outcome="failed"})"#, expect(0.0))
        .await;
    prometheus
        .wait_for(
            r#"sum(brown_http_requests_total{route="/v1/tasks", method="POST", status="202"})"#,
            expect(tasks),
        )
        .await;
    prometheus
        .wait_for(
            r#"sum(brown_rejections_total{reason="validation"})"#,
            expect(1.0),
        )
        .await;
    prometheus
        .wait_for(r#"sum(bayko_task_duration_seconds_count)"#, expect(tasks))
        .await;
    prometheus
        .wait_for(
            r#"sum(brown_s3_write_duration_seconds_count{prefix="inbox", outcome="ok"})"#,
            expect(tasks),
        )
        .await;
    // Once per delivery: a redelivery (a slow machine outliving the lease) counts again.
    prometheus
        .wait_for(r#"sum(bayko_queue_lag_seconds_count)"#, |r| {
            scalar(r).is_some_and(|deliveries| deliveries >= tasks)
        })
        .await;
    // Every message came in a receive, and no receive brought more than it was asked for.
    prometheus
        .wait_for(r#"sum(bayko_receive_messages_sum)"#, |r| {
            scalar(r).is_some_and(|messages| messages >= tasks)
        })
        .await;
    prometheus
        .wait_for(
            r#"sum(bayko_receive_messages_bucket{le="4"}) - sum(bayko_receive_messages_count)"#,
            expect(0.0),
        )
        .await;
    prometheus
        .wait_for(
            r#"sum(bayko_tool_calls_total{tool="document-processor"})"#,
            |r| scalar(r).is_some_and(|calls| calls >= tasks),
        )
        .await;
    prometheus
        .wait_for(r#"sum(up{job=~"brown|bayko"})"#, expect(2.0))
        .await;
    prometheus
        .wait_for(
            r#"max(bayko_queue_messages{queue="dlq", state="visible"})"#,
            expect(0.0),
        )
        .await;

    // Every dashboard panel's query returns data.
    let queries = panel_queries();
    assert!(queries.len() >= 20, "{} queries", queries.len());
    for (panel, expr) in &queries {
        let result = prometheus.wait_for(expr, |result| !result.is_empty()).await;
        assert!(!result.is_empty(), "panel {panel:?}: {expr}");
    }

    // The alert rules load into the server, and none fires on a healthy run.
    let rules = prometheus.rules().await;
    let loaded: usize = rules["data"]["groups"]
        .as_array()
        .expect("rule groups")
        .iter()
        .map(|group| group["rules"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(loaded, 9, "{rules}");
    let firing = prometheus.query(r#"ALERTS{alertstate="firing"}"#).await;
    assert!(firing.is_empty(), "{firing:?}");

    stack.stop().await;
}
