variable "name" {
  description = "Name prefix."
  type        = string
}

variable "public_vpc_id" {
  description = "Brown's VPC."
  type        = string
}

variable "public_edge_subnet_ids" {
  description = "Subnets for the ALB."
  type        = list(string)
}

variable "public_app_subnet_ids" {
  description = "Subnets for Brown's tasks."
  type        = list(string)
}

variable "public_endpoint_security_group_id" {
  description = "Security group of the public VPC's interface endpoints."
  type        = string
}

variable "private_vpc_id" {
  description = "Bayko's VPC."
  type        = string
}

variable "private_app_subnet_ids" {
  description = "Subnets for Bayko's tasks."
  type        = list(string)
}

variable "private_endpoint_security_group_id" {
  description = "Security group of the private VPC's interface endpoints."
  type        = string
}

variable "s3_prefix_list_ids" {
  description = "S3 gateway endpoint prefix lists: { public = …, private = … }."
  type        = map(string)
}

variable "allowed_ingress_cidrs" {
  description = "Client networks allowed to reach the ALB on 443."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate for the HTTPS listener."
  type        = string
}

variable "brown_image" {
  description = "Brown's image."
  type        = string
}

variable "bayko_image" {
  description = "Bayko's image."
  type        = string
}

variable "tasks_bucket" {
  description = "The tasks bucket."
  type        = string
}

variable "tasks_bucket_arn" {
  description = "The tasks bucket's ARN."
  type        = string
}

variable "artifacts_bucket" {
  description = "The artifacts bucket."
  type        = string
}

variable "artifacts_bucket_arn" {
  description = "The artifacts bucket's ARN."
  type        = string
}

variable "queue_url" {
  description = "The work queue's URL."
  type        = string
}

variable "queue_arn" {
  description = "The work queue's ARN."
  type        = string
}

variable "queue_name" {
  description = "The work queue's name (autoscaling metric)."
  type        = string
}

variable "llm_provider" {
  description = "\"bedrock\" or \"anthropic\"."
  type        = string
}

variable "bedrock_model_ids" {
  description = "Bedrock models Bayko may invoke."
  type        = list(string)
}

variable "event_bus_name" {
  description = "The bus Bayko publishes Task Finished events to (BAYKO_EVENT_BUS)."
  type        = string
}

variable "event_bus_arn" {
  description = "That bus' ARN: Bayko may put events on it and on nothing else."
  type        = string
}

variable "bayko_engine_config" {
  description = "The engine's TOML configuration (tools, pools, LLM, MCP servers), given to Bayko as BAYKO_CONFIG_TOML."
  type        = string
}

variable "anthropic_api_key_secret_arn" {
  description = "Secret with ANTHROPIC_API_KEY, or null."
  type        = string
}

variable "brown_api_keys_secret_arn" {
  description = "Secret with BROWN_API_KEYS, or null."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for the log groups."
  type        = string
}

variable "log_retention_days" {
  description = "Log retention."
  type        = number
}

variable "artifact_link_ttl_seconds" {
  description = "BROWN_LINK_TTL_SECONDS."
  type        = number
}

variable "brown_desired_count" {
  description = "Brown's task count (the floor of its CPU scaling)."
  type        = number
}

variable "brown_max_count" {
  description = "Most Brown tasks."
  type        = number
}

variable "bayko_min_count" {
  description = "Fewest Bayko tasks."
  type        = number

  validation {
    condition     = var.bayko_min_count >= 1
    error_message = "bayko_min_count must be at least 1: backlog per task divides by the running tasks."
  }
}

variable "bayko_max_count" {
  description = "Most Bayko tasks."
  type        = number
}

variable "bayko_backlog_per_task_target" {
  description = "Target visible messages per running Bayko task."
  type        = number
}

variable "bayko_scale_out_cooldown_seconds" {
  description = "Scale-out cooldown."
  type        = number
}

variable "bayko_scale_in_cooldown_seconds" {
  description = "Scale-in cooldown."
  type        = number
}

variable "bayko_max_in_flight" {
  description = "BAYKO_MAX_IN_FLIGHT."
  type        = number
}

variable "bayko_shutdown_grace_seconds" {
  description = "BAYKO_SHUTDOWN_GRACE_SECONDS (stopTimeout is 5 s more; Fargate allows up to 120)."
  type        = number

  validation {
    condition     = var.bayko_shutdown_grace_seconds + 5 <= 120
    error_message = "Fargate's stopTimeout is at most 120 s: keep the grace at 115 s or less."
  }

  # Bayko finishes its open long poll (20 s) before it exits, and hands back what it brings.
  validation {
    condition     = var.bayko_shutdown_grace_seconds >= 20
    error_message = "Bayko finishes its open 20 s long poll on the way out: keep the grace at 20 s or more."
  }
}

variable "queue_visibility_timeout_seconds" {
  description = "BAYKO_LEASE_SECONDS follows the queue's visibility timeout."
  type        = number
}

variable "brown_cpu" {
  description = "Brown's Fargate CPU units."
  type        = number
  default     = 256
}

variable "brown_memory" {
  description = "Brown's Fargate memory (MiB)."
  type        = number
  default     = 512
}

variable "bayko_cpu" {
  description = "Bayko's Fargate CPU units."
  type        = number
  default     = 512
}

variable "bayko_memory" {
  description = "Bayko's Fargate memory (MiB)."
  type        = number
  default     = 1024
}

variable "bayko_health_check_command" {
  description = "Bayko's container health check command (e.g. [\"CMD\", \"/usr/local/bin/bayko\", \"healthcheck\"] once the binary has one); null leaves ECS to watch the process."
  type        = list(string)
  default     = null
}
