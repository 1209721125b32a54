output "tasks_bucket" {
  description = "The tasks bucket (inbox/, cancel/, status/)."
  value       = module.tasks.id
}

output "tasks_bucket_arn" {
  description = "The tasks bucket's ARN."
  value       = module.tasks.arn
}

output "artifacts_bucket" {
  description = "The artifacts bucket."
  value       = module.artifacts.id
}

output "artifacts_bucket_arn" {
  description = "The artifacts bucket's ARN."
  value       = module.artifacts.arn
}

output "artifacts_bucket_regional_domain_name" {
  description = "The artifacts bucket's regional domain (CloudFront origin)."
  value       = module.artifacts.regional_domain_name
}
