# Monitoring for Bayko & Brown: the CloudWatch dashboard and alarms (the same signals as the
# Prometheus rules in docker/prometheus/alerts.yml, plus SQS's own queue metrics), and the
# ADOT collector configuration that carries the services' Prometheus metrics to CloudWatch.
#
# Inputs (the root module passes these; see docs/operations.md for what each alarm means):
#   name_prefix                  string  prefix of every resource name, e.g. "bb-prod"
#   region                       string  region of the dashboard's widgets
#   work_queue_name              string  the SQS work queue's name (not URL)
#   dlq_name                     string  the work queue's dead-letter queue name
#   ecs_cluster_name             string  the ECS cluster running both services
#   bayko_service_name           string  Bayko's ECS service name
#   brown_load_balancer_suffix   string  Brown's ALB ARN suffix ("app/name/id") for 5xx counts
#   brown_target_group_suffix    string  Brown's target group ARN suffix ("targetgroup/name/id")
#   alarm_topic_arns             list    SNS topics notified on alarm and recovery ([] = none)
#   metrics_namespace            string  CloudWatch namespace of the custom metrics
#   tools                        list    Bayko's tool names, one circuit alarm each
#   brown_metrics_port           number  BROWN_METRICS_BIND's port (the sidecar scrapes it)
#   bayko_metrics_port           number  BAYKO_METRICS_BIND's port
#   backlog_per_worker_target    number  visible messages per running worker before alarming
#   oldest_message_max_seconds   number  ApproximateAgeOfOldestMessage before alarming
#   error_rate_threshold         number  Brown 5xx share of requests before alarming
#   failure_rate_threshold       number  failed share of tasks before alarming
#   task_p99_max_seconds         number  p99 task duration before alarming
#
# Outputs: dashboard_name, alarm_arns, adot_config_brown and adot_config_bayko (the collector
# configuration for each service's sidecar, to pass as its AOT_CONFIG_CONTENT).

variable "name_prefix" {
  type = string
}

variable "region" {
  type = string
}

variable "work_queue_name" {
  type = string
}

variable "dlq_name" {
  type = string
}

variable "ecs_cluster_name" {
  type = string
}

variable "bayko_service_name" {
  type = string
}

variable "brown_load_balancer_suffix" {
  type = string
}

variable "brown_target_group_suffix" {
  type = string
}

variable "alarm_topic_arns" {
  type    = list(string)
  default = []
}

variable "metrics_namespace" {
  type    = string
  default = "BaykoBrown"
}

variable "tools" {
  type    = list(string)
  default = ["data-processor", "document-processor", "compliance-scanner", "claude"]
}

variable "brown_metrics_port" {
  type    = number
  default = 9100
}

variable "bayko_metrics_port" {
  type    = number
  default = 9101
}

variable "backlog_per_worker_target" {
  type    = number
  default = 50
}

variable "oldest_message_max_seconds" {
  type    = number
  default = 600
}

variable "error_rate_threshold" {
  type    = number
  default = 0.05
}

variable "failure_rate_threshold" {
  type    = number
  default = 0.1
}

variable "task_p99_max_seconds" {
  type    = number
  default = 120
}
