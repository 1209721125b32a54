# One alarm per Prometheus alert (docker/prometheus/alerts.yml), on CloudWatch's own data.

locals {
  ns            = var.metrics_namespace
  alarm_names   = "${var.name}-"
  sqs           = "AWS/SQS"
  alarm_actions = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]
  # Autoscaling tracks its target; three times the target means scaling is not keeping up.
  backlog_alarm_per_worker = var.bayko_backlog_per_task_target * 3
}

resource "aws_cloudwatch_metric_alarm" "brown_5xx_rate" {
  alarm_name          = "${local.alarm_names}brown-5xx-rate"
  alarm_description   = "Brown answers more than ${var.error_rate_threshold * 100}% of requests with a 5xx. Runbook: docs/operations.md#brownhigherrorrate"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.error_rate_threshold
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "ratio"
    expression  = "IF(requests > 0, errors / requests, 0)"
    label       = "5xx share"
    return_data = true
  }
  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      period      = 60
      stat        = "Sum"
      dimensions = {
        LoadBalancer = var.alb_arn_suffix
        TargetGroup  = var.target_group_arn_suffix
      }
    }
  }
  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      period      = 60
      stat        = "Sum"
      dimensions = {
        LoadBalancer = var.alb_arn_suffix
        TargetGroup  = var.target_group_arn_suffix
      }
    }
  }
}

# The work queue's DLQ (messages Bayko could not process) and the EventBridge target's DLQ
# (events never delivered to the work queue): either holding anything needs an operator.
resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  for_each = {
    dlq      = { queue = var.dead_letter_queue_name, what = "Messages in the work queue's dead-letter queue" }
    rule-dlq = { queue = var.rule_dead_letter_queue_name, what = "EventBridge could not deliver task events to the work queue" }
  }
  alarm_name          = "${local.alarm_names}${each.key}-not-empty"
  alarm_description   = "${each.value.what}. Runbook: docs/operations.md#deadletterqueuenotempty"
  namespace           = local.sqs
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value.queue }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "backlog_per_worker" {
  alarm_name          = "${local.alarm_names}backlog-per-worker"
  alarm_description   = "More than ${local.backlog_alarm_per_worker} visible messages per running Bayko task: autoscaling is not keeping up. Runbook: docs/operations.md#backlogperworkerhigh"
  comparison_operator = "GreaterThanThreshold"
  threshold           = local.backlog_alarm_per_worker
  evaluation_periods  = 10
  datapoints_to_alarm = 10
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "per_worker"
    expression  = "visible / MAX([workers, 1])"
    label       = "visible messages per worker"
    return_data = true
  }
  metric_query {
    id = "visible"
    metric {
      namespace   = local.sqs
      metric_name = "ApproximateNumberOfMessagesVisible"
      period      = 60
      stat        = "Maximum"
      dimensions  = { QueueName = var.queue_name }
    }
  }
  metric_query {
    id = "workers"
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      period      = 60
      stat        = "Average"
      dimensions = {
        ClusterName = var.cluster_name
        ServiceName = var.bayko_service_name
      }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "oldest_message" {
  alarm_name          = "${local.alarm_names}oldest-message-age"
  alarm_description   = "The oldest task waits more than ${var.oldest_message_max_seconds}s for a worker. Runbook: docs/operations.md#oldestmessagetooold"
  namespace           = local.sqs
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = var.queue_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.oldest_message_max_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "task_failure_rate" {
  alarm_name          = "${local.alarm_names}task-failure-rate"
  alarm_description   = "More than ${var.failure_rate_threshold * 100}% of tasks fail. Runbook: docs/operations.md#taskfailureratehigh"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.failure_rate_threshold
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "failure_share"
    expression  = "IF(total > 0, failed / total, 0)"
    label       = "failed share"
    return_data = true
  }
  metric_query {
    id         = "total"
    expression = "succeeded + degraded + failed + cancelled"
  }
  dynamic "metric_query" {
    for_each = toset(["succeeded", "degraded", "failed", "cancelled"])
    content {
      id = metric_query.value
      metric {
        namespace   = local.ns
        metric_name = "bayko_tasks_total"
        period      = 300
        stat        = "Sum"
        dimensions  = { service = "bayko", outcome = metric_query.value }
      }
    }
  }
}

# p99 needs the histogram's distribution in CloudWatch: the ADOT awsemf exporter sends a
# Prometheus histogram's buckets as EMF values and counts. A collector that sends only the
# statistic set (count, sum, min, max) leaves p99 without data, and this alarm then stays OK
# (missing data is not breaching): check the metric in the console after the first deploy.
resource "aws_cloudwatch_metric_alarm" "task_p99" {
  alarm_name          = "${local.alarm_names}task-p99-duration"
  alarm_description   = "p99 task duration above ${var.task_p99_max_seconds}s. Runbook: docs/operations.md#tasklatencyp99high"
  namespace           = local.ns
  metric_name         = "bayko_task_duration_seconds"
  dimensions          = { service = "bayko", outcome = "succeeded" }
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.task_p99_max_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "circuit_stuck_open" {
  for_each            = toset(var.tools)
  alarm_name          = "${local.alarm_names}circuit-${each.value}"
  alarm_description   = "The circuit of tool ${each.value} has not closed for 15 minutes. Runbook: docs/operations.md#circuitstuckopen"
  namespace           = local.ns
  metric_name         = "bayko_circuit_state"
  dimensions          = { service = "bayko", tool = each.value, state = "closed" }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "worker_not_scraped" {
  alarm_name          = "${local.alarm_names}bayko-not-scraped"
  alarm_description   = "No Bayko worker's metrics reached CloudWatch for 5 minutes. Runbook: docs/operations.md#workernotscraped"
  namespace           = local.ns
  metric_name         = "up"
  dimensions          = { service = "bayko" }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  # No data at all means no sidecar scraped: that is the alarm, not an absence of it.
  treat_missing_data = "breaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
}
