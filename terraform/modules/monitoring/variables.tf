# Monitoring for Bayko & Brown: the CloudWatch dashboard and alarms (the same signals as the
# Prometheus rules in docker/prometheus/alerts.yml, plus SQS's own queue metrics), and the
# ADOT collector configuration that carries the services' Prometheus metrics to CloudWatch.
# docs/operations.md explains each alarm and what to do about it.
#
# Inputs (the root module passes the first eleven; the rest have defaults):
#   name                          string       prefix of the dashboard's and alarms' names
#   queue_name                    string       the SQS work queue's name (not URL)
#   dead_letter_queue_name        string       the work queue's DLQ
#   rule_dead_letter_queue_name   string       the EventBridge target's DLQ (events never delivered)
#   cluster_name                  string       the ECS cluster running both services
#   brown_service_name            string       Brown's ECS service
#   bayko_service_name            string       Bayko's ECS service
#   alb_arn_suffix                string       the ALB's ARN suffix ("app/name/id"), for Brown's 5xx
#   target_group_arn_suffix       string       Brown's target group's ARN suffix
#   log_group_names               map(string)  { brown = …, bayko = … }: the error-log widget
#   bayko_backlog_per_task_target number       autoscaling's target; the backlog alarm fires at 3×
#   alarm_topic_arn               string|null  SNS topic notified on alarm and recovery
#   metrics_namespace             string       CloudWatch namespace of the custom metrics
#   tools                         list(string) Bayko's tool names: one circuit alarm each
#   metrics_port                  number       BROWN_METRICS_BIND's and BAYKO_METRICS_BIND's port
#   oldest_message_max_seconds    number       ApproximateAgeOfOldestMessage before alarming
#   error_rate_threshold          number       Brown's 5xx share of requests before alarming
#   failure_rate_threshold        number       the failed share of tasks before alarming
#   task_p99_max_seconds          number       p99 task duration before alarming
#
# Outputs: dashboard_name, alarm_arns, and adot_config_brown / adot_config_bayko (each
# service's ADOT sidecar configuration, for its AOT_CONFIG_CONTENT environment variable).

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

variable "metrics_namespace" {
  description = "CloudWatch namespace of the services' custom metrics (written by the ADOT sidecars)."
  type        = string
  default     = "BaykoBrown"
}

variable "tools" {
  description = "Bayko's tool names: one circuit alarm and dashboard line each."
  type        = list(string)
  default     = ["data-processor", "document-processor", "compliance-scanner", "claude"]
}

variable "metrics_port" {
  description = "Port of BROWN_METRICS_BIND and BAYKO_METRICS_BIND, scraped by the sidecars on 127.0.0.1."
  type        = number
  default     = 9100
}

variable "oldest_message_max_seconds" {
  description = "ApproximateAgeOfOldestMessage of the work queue before alarming."
  type        = number
  default     = 600
}

variable "error_rate_threshold" {
  description = "Share of Brown's requests answered 5xx before alarming."
  type        = number
  default     = 0.05
}

variable "failure_rate_threshold" {
  description = "Share of tasks ending failed before alarming."
  type        = number
  default     = 0.1
}

variable "task_p99_max_seconds" {
  description = "p99 task duration before alarming."
  type        = number
  default     = 120
}
