# The CloudWatch twin of docker/grafana/dashboards/bayko-brown.json.

locals {
  widget = { width = 8, height = 6 }
  widgets = [
    { title = "Brown requests (ALB)", metrics = [
      ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", var.alb_arn_suffix, "TargetGroup", var.target_group_arn_suffix, { stat = "Sum" }],
      [".", "HTTPCode_Target_5XX_Count", ".", ".", ".", ".", { stat = "Sum" }],
      [".", "HTTPCode_Target_4XX_Count", ".", ".", ".", ".", { stat = "Sum" }],
    ] },
    { title = "Brown latency (ALB)", metrics = [
      ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.alb_arn_suffix, "TargetGroup", var.target_group_arn_suffix, { stat = "p50" }],
      ["...", { stat = "p99" }],
    ] },
    { title = "Brown rejections", metrics = [
      [{ expression = "SEARCH('{${local.ns},service,reason} MetricName=\"brown_rejections_total\"', 'Sum', 60)", id = "rejections" }],
    ] },
    { title = "Backlog", metrics = [
      ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.queue_name, { stat = "Maximum" }],
      [".", "ApproximateNumberOfMessagesNotVisible", ".", ".", { stat = "Maximum" }],
    ] },
    { title = "Backlog per worker", metrics = [
      [{ expression = "visible / MAX([workers, 1])", label = "visible per worker", id = "per_worker" }],
      ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.queue_name, { stat = "Maximum", id = "visible", visible = false }],
      ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", var.cluster_name, "ServiceName", var.bayko_service_name, { stat = "Average", id = "workers", visible = false }],
    ] },
    { title = "Oldest message age (s)", metrics = [
      ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", var.queue_name, { stat = "Maximum" }],
    ] },
    { title = "DLQ depth", metrics = [
      ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.dead_letter_queue_name, { stat = "Maximum", label = "work queue DLQ" }],
      ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.rule_dead_letter_queue_name, { stat = "Maximum", label = "EventBridge target DLQ" }],
    ] },
    { title = "Running ECS tasks", metrics = [
      ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", var.cluster_name, "ServiceName", var.brown_service_name, { stat = "Average", label = "Brown" }],
      ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", var.cluster_name, "ServiceName", var.bayko_service_name, { stat = "Average", label = "Bayko" }],
    ] },
    { title = "Task outcomes", metrics = [
      for outcome in ["succeeded", "degraded", "failed", "cancelled"] :
      [local.ns, "bayko_tasks_total", "service", "bayko", "outcome", outcome, { stat = "Sum" }]
    ] },
    { title = "Task duration (s)", metrics = [
      [local.ns, "bayko_task_duration_seconds", "service", "bayko", "outcome", "succeeded", { stat = "p50" }],
      ["...", { stat = "p99" }],
    ] },
    { title = "Tool latency p99 (s)", metrics = [
      for tool in var.tools : [local.ns, "bayko_tool_call_duration_seconds", "service", "bayko", "tool", tool, { stat = "p99" }]
    ] },
    { title = "Tool errors", metrics = [
      for tool in var.tools : [local.ns, "bayko_tool_errors_total", "service", "bayko", "tool", tool, { stat = "Sum" }]
    ] },
    { title = "Circuits not closed", metrics = [
      for tool in var.tools : [local.ns, "bayko_circuit_state", "service", "bayko", "tool", tool, "state", "open", { stat = "Maximum" }]
    ] },
  ]
}

data "aws_region" "current" {}

# Errors from both services' JSON logs, with the task and trace to follow up.
locals {
  error_log_query = join(" | ", concat(
    [for group in values(var.log_group_names) : "SOURCE '${group}'"],
    ["fields @timestamp, target, message, task_id, tenant, trace_id", "filter level = 'ERROR' or level = 'WARN'", "sort @timestamp desc", "limit 50"],
  ))
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${var.name}-bayko-brown"
  dashboard_body = jsonencode({
    widgets = concat([
      for index, widget in local.widgets : {
        type   = "metric"
        x      = (index % 3) * local.widget.width
        y      = floor(index / 3) * local.widget.height
        width  = local.widget.width
        height = local.widget.height
        properties = {
          title   = widget.title
          region  = data.aws_region.current.name
          view    = "timeSeries"
          stacked = false
          period  = 60
          metrics = widget.metrics
        }
      }
      ], [{
        type   = "log"
        x      = 0
        y      = ceil(length(local.widgets) / 3) * local.widget.height
        width  = 24
        height = 8
        properties = {
          title  = "Warnings and errors (JSON logs)"
          region = data.aws_region.current.name
          view   = "table"
          query  = local.error_log_query
        }
    }])
  })
}
