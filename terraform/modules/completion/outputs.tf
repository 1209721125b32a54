output "bus_name" {
  description = "Give to Bayko as BAYKO_EVENT_BUS."
  value       = aws_cloudwatch_event_bus.tasks.name
}

output "bus_arn" {
  value = aws_cloudwatch_event_bus.tasks.arn
}

output "publish_policy_json" {
  description = "Attach to Bayko's task role: events:PutEvents on this bus only."
  value       = data.aws_iam_policy_document.publish.json
}

output "webhook_dead_letter_queue_url" {
  description = "Events the webhook refused after every retry (null without a webhook)."
  value       = local.webhook ? aws_sqs_queue.webhook_dlq[0].id : null
}
