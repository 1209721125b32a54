# The CloudWatch twin of docker/grafana/dashboards/bayko-brown.json.

locals {
  widget = { width = 8, height = 6 }
  widgets = [
    { title = "Brown requests (ALB)", metrics = [
      ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", var.brown_load_balancer_suffix, "TargetGroup", var.brown_target_group_suffix, { stat = "Sum" }],
      [".", "HTTPCode_Target_5XX_Count", ".", ".", ".", ".", { stat = "Sum" }],
      [".", "HTTPCode_Target_4XX_Count", ".", ".", ".", ".", { stat = "Sum" }],
    ] },
    { title = "Brown latency (ALB)", metrics = [
      ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.brown_load_balancer_suffix, "TargetGroup", var.brown_target_group_suffix, { stat = "p50" }],
      ["...", { stat = "p99" }],
    ] },
    { title = "Brown rejections", metrics = [
      [{ expression = "SEARCH('{${local.ns},service,reason} MetricName=\"brown_rejections_total\"', 'Sum', 60)", id = "rejections" }],
    ] },
    { title = "Backlog", metrics = [
      ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.work_queue_name, { stat = "Maximum" }],
      [".", "ApproximateNumberOfMessagesNotVisible", ".", ".", { stat = "Maximum" }],
    ] },
    { title = "Backlog per worker", metrics = [
      [{ expression = "visible / MAX([workers, 1])", label = "visible per worker", id = "per_worker" }],
      ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.work_queue_name, { stat = "Maximum", id = "visible", visible = false }],
      ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", var.ecs_cluster_name, "ServiceName", var.bayko_service_name, { stat = "Average", id = "workers", visible = false }],
    ] },
    { title = "Oldest message age (s)", metrics = [
      ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", var.work_queue_name, { stat = "Maximum" }],
    ] },
    { title = "DLQ depth", metrics = [
      ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.dlq_name, { stat = "Maximum" }],
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

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${var.name_prefix}-bayko-brown"
  dashboard_body = jsonencode({
    widgets = [
      for index, widget in local.widgets : {
        type   = "metric"
        x      = (index % 3) * local.widget.width
        y      = floor(index / 3) * local.widget.height
        width  = local.widget.width
        height = local.widget.height
        properties = {
          title   = widget.title
          region  = var.region
          view    = "timeSeries"
          stacked = false
          period  = 60
          metrics = widget.metrics
        }
      }
    ]
  })
}
