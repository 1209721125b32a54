output "api_endpoint" {
  description = "Brown's ALB (point your DNS name at it; the listener serves HTTPS with certificate_arn)."
  value       = module.compute.alb_dns_name
}

output "ecr_repository_urls" {
  description = "Where to push the images."
  value       = module.compute.ecr_repository_urls
}

output "tasks_bucket" {
  description = "BB_TASKS_BUCKET."
  value       = module.storage.tasks_bucket
}

output "artifacts_bucket" {
  description = "BB_ARTIFACTS_BUCKET."
  value       = module.storage.artifacts_bucket
}

output "queue_url" {
  description = "BAYKO_QUEUE_URL."
  value       = module.messaging.queue_url
}

output "dead_letter_queue_url" {
  description = "BAYKO_DLQ_URL, for `bayko redrive` after a fix."
  value       = module.messaging.dead_letter_queue_url
}

output "artifacts_domain" {
  description = "CloudFront domain for signed artifact URLs."
  value       = module.delivery.domain_name
}

output "artifacts_signing_key_id" {
  description = "Key-Pair-Id of signed artifact URLs."
  value       = module.delivery.public_key_id
}

output "cluster_name" {
  description = "The ECS cluster."
  value       = module.compute.cluster_name
}

output "event_bus_name" {
  description = "The bus Bayko publishes Task Finished events to: add your own rules on it."
  value       = module.completion.bus_name
}

output "webhook_dead_letter_queue_url" {
  description = "Task Finished events the webhook refused after every retry (null without a webhook)."
  value       = module.completion.webhook_dead_letter_queue_url
}
