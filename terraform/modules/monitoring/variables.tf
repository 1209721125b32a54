# Interface of the monitoring module (CloudWatch dashboard and alarms), owned with the
# observability work (issue 10). The root module passes these.

variable "name" {
  description = "Name prefix for the dashboard and alarms."
  type        = string
}

variable "queue_name" {
  description = "The work queue."
  type        = string
}

variable "dead_letter_queue_name" {
  description = "The work queue's DLQ."
  type        = string
}

variable "rule_dead_letter_queue_name" {
  description = "The EventBridge target's DLQ."
  type        = string
}

variable "cluster_name" {
  description = "The ECS cluster."
  type        = string
}

variable "brown_service_name" {
  description = "Brown's ECS service."
  type        = string
}

variable "bayko_service_name" {
  description = "Bayko's ECS service."
  type        = string
}

variable "alb_arn_suffix" {
  description = "The ALB's ARN suffix."
  type        = string
}

variable "target_group_arn_suffix" {
  description = "Brown's target group's ARN suffix."
  type        = string
}

variable "log_group_names" {
  description = "The services' log groups: { brown = …, bayko = … }."
  type        = map(string)
}

variable "bayko_backlog_per_task_target" {
  description = "The autoscaling target, for the backlog-per-worker alarm."
  type        = number
}

variable "alarm_topic_arn" {
  description = "SNS topic for alarm notifications, or null."
  type        = string
  default     = null
}
