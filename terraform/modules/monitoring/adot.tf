# Custom metrics reach CloudWatch through an AWS Distro for OpenTelemetry (ADOT) collector
# running as a sidecar in each ECS task: it scrapes the service's /metrics on localhost and
# writes them as embedded-metric-format logs, which CloudWatch turns into metrics. Why a
# sidecar rather than EMF lines from the services: one instrumentation (Prometheus) serves
# both Prometheus and CloudWatch, the services keep no AWS-specific metrics code, and the
# JSON application logs stay free of metric payloads. See docs/operations.md.

locals {
  # Only these metrics go to CloudWatch (each one costs money); the dimensions are the labels
  # the alarms and the dashboard use.
  bayko_declarations = [
    { dimensions = [["service", "outcome"]], metric_name_selectors = ["^bayko_tasks_total$", "^bayko_task_duration_seconds$"] },
    { dimensions = [["service", "tool"]], metric_name_selectors = ["^bayko_tool_calls_total$", "^bayko_tool_errors_total$", "^bayko_tool_retries_total$", "^bayko_tool_call_duration_seconds$", "^bayko_fallbacks_total$"] },
    { dimensions = [["service", "tool", "state"]], metric_name_selectors = ["^bayko_circuit_state$"] },
    { dimensions = [["service", "reason"]], metric_name_selectors = ["^bayko_messages_released_total$"] },
    { dimensions = [["service"]], metric_name_selectors = ["^bayko_tasks_in_flight$", "^bayko_queue_lag_seconds$", "^bayko_takeovers_total$", "^bayko_visibility_extensions_total$", "^up$"] },
  ]
  brown_declarations = [
    { dimensions = [["service", "route", "status"]], metric_name_selectors = ["^brown_http_requests_total$"] },
    { dimensions = [["service", "route"]], metric_name_selectors = ["^brown_http_request_duration_seconds$"] },
    { dimensions = [["service", "reason"]], metric_name_selectors = ["^brown_rejections_total$"] },
    { dimensions = [["service"]], metric_name_selectors = ["^brown_s3_write_duration_seconds$", "^brown_rate_limit_hits_total$", "^up$"] },
  ]
}

locals {
  adot_config = {
    for service, settings in {
      brown = { port = var.metrics_port, declarations = local.brown_declarations }
      bayko = { port = var.metrics_port, declarations = local.bayko_declarations }
      } : service => yamlencode({
        receivers = {
          prometheus = {
            config = {
              global = { scrape_interval = "30s" }
              scrape_configs = [{
                job_name       = service
                static_configs = [{ targets = ["127.0.0.1:${settings.port}"], labels = { service = service } }]
              }]
            }
          }
        }
        processors = { batch = {} }
        exporters = {
          awsemf = {
            namespace               = var.metrics_namespace
            log_group_name          = "/${var.name}/metrics/${service}"
            dimension_rollup_option = "NoDimensionRollup"
            metric_declarations     = settings.declarations
          }
        }
        service = {
          pipelines = {
            metrics = { receivers = ["prometheus"], processors = ["batch"], exporters = ["awsemf"] }
          }
        }
    })
  }
}
