variable "name" {
  description = "Name prefix; the buckets are NAME-tasks, NAME-artifacts and NAME-access-logs."
  type        = string
}

variable "task_retention_days" {
  description = "Days task documents, statuses and cancel requests live."
  type        = number
}

variable "artifact_retention_days" {
  description = "Days artifacts live."
  type        = number
}

variable "noncurrent_version_days" {
  description = "Days an overwritten version is kept."
  type        = number
}

variable "artifacts_distribution_arn" {
  description = "The CloudFront distribution allowed to read artifacts (origin access control)."
  type        = string
}
