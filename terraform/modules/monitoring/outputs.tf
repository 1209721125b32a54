output "dashboard_name" {
  value = aws_cloudwatch_dashboard.this.dashboard_name
}

output "alarm_arns" {
  value = concat(
    [
      aws_cloudwatch_metric_alarm.brown_5xx_rate.arn,
      aws_cloudwatch_metric_alarm.backlog_per_worker.arn,
      aws_cloudwatch_metric_alarm.oldest_message.arn,
      aws_cloudwatch_metric_alarm.task_failure_rate.arn,
      aws_cloudwatch_metric_alarm.task_p99.arn,
      aws_cloudwatch_metric_alarm.worker_not_scraped.arn,
    ],
    [for alarm in aws_cloudwatch_metric_alarm.dlq_not_empty : alarm.arn],
    [for alarm in aws_cloudwatch_metric_alarm.circuit_stuck_open : alarm.arn],
  )
}

# Pass as the ADOT sidecar's AOT_CONFIG_CONTENT environment variable in each task definition.
output "adot_config_brown" {
  value = local.adot_config["brown"]
}

output "adot_config_bayko" {
  value = local.adot_config["bayko"]
}
