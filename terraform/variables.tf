variable "region" {
  description = "AWS region for everything (Bedrock's model must be available there)."
  type        = string
  default     = "us-east-1"
}

variable "environment" {
  description = "Short environment name, part of every resource name (e.g. prod, staging)."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment: 2-16 characters, lower-case letters, digits and dashes."
  }
}

variable "brown_image" {
  description = "Brown's image, by digest (ECR repository URL @sha256:…) so a deployment is reproducible."
  type        = string
}

variable "bayko_image" {
  description = "Bayko's image, by digest."
  type        = string
}

variable "public_vpc_cidr" {
  description = "CIDR of Brown's public VPC."
  type        = string
  default     = "10.10.0.0/16"
}

variable "private_vpc_cidr" {
  description = "CIDR of Bayko's private VPC (must not overlap the public one)."
  type        = string
  default     = "10.20.0.0/16"
}

variable "availability_zones" {
  description = "Availability zones to spread subnets over (two or three)."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b"]
}

variable "certificate_arn" {
  description = "ACM certificate for the ALB's HTTPS listener (Brown's public name)."
  type        = string
}

variable "allowed_ingress_cidrs" {
  description = "Client networks allowed to reach the ALB on 443."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "llm_provider" {
  description = "Where Bayko's LLM calls go: \"bedrock\" (VPC endpoint, no internet path) or \"anthropic\" (adds a NAT gateway for api.anthropic.com)."
  type        = string
  default     = "bedrock"

  validation {
    condition     = contains(["bedrock", "anthropic"], var.llm_provider)
    error_message = "llm_provider must be \"bedrock\" or \"anthropic\"."
  }
}

variable "bedrock_model_ids" {
  description = "Bedrock model (or inference profile) ids Bayko may invoke."
  type        = list(string)
  default     = ["anthropic.claude-sonnet-4-5-20250929-v1:0"]
}

variable "anthropic_model" {
  description = "Anthropic model Bayko calls (only with llm_provider = \"anthropic\")."
  type        = string
  default     = "claude-sonnet-4-5"
}

variable "bayko_engine_config" {
  description = "Bayko's engine configuration (TOML, the format of examples/bayko.toml); empty for one that only turns on the LLM provider above."
  type        = string
  default     = ""
}

variable "completion_webhook_url" {
  description = "HTTPS endpoint that receives each Task Finished event; empty for the event bus alone."
  type        = string
  default     = ""
}

variable "completion_webhook_secret" {
  description = "Shared secret the webhook call carries in its Authorization header."
  type        = string
  default     = ""
  sensitive   = true
}

variable "anthropic_api_key_secret_arn" {
  description = "Secrets Manager secret holding ANTHROPIC_API_KEY (only with llm_provider = \"anthropic\")."
  type        = string
  default     = null
}

variable "brown_api_keys_secret_arn" {
  description = "Secrets Manager secret with Brown's API keys (BROWN_API_KEYS), if Brown authenticates clients."
  type        = string
  default     = null
}

variable "brown_desired_count" {
  description = "Brown's task count (Brown scales on CPU between this and brown_max_count)."
  type        = number
  default     = 2
}

variable "brown_max_count" {
  description = "Most Brown tasks."
  type        = number
  default     = 6
}

# Bayko's autoscaling: target tracking on backlog per task ((visible + in-flight messages) ÷
# running tasks). The defaults are the row `cargo xtask simulate` chose for tasks that wait on an
# LLM (docs/autoscaling.md): target 2 per task, 60 s out, 300 s in, 1 to 20 tasks.
variable "bayko_min_count" {
  description = "Fewest Bayko tasks (keep at least 1: a cold start adds the task start-up time to the first task's latency)."
  type        = number
  default     = 1
}

variable "bayko_max_count" {
  description = "Most Bayko tasks."
  type        = number
  default     = 20
}

variable "bayko_backlog_per_task_target" {
  description = "Target tracking value: backlog (visible + in-flight messages) per running Bayko task."
  type        = number
  default     = 2
}

variable "bayko_scale_out_cooldown_seconds" {
  description = "Seconds after a scale-out before another."
  type        = number
  default     = 60
}

variable "bayko_scale_in_cooldown_seconds" {
  description = "Seconds after a scale-in before another (longer: scale in gently)."
  type        = number
  default     = 300
}

variable "bayko_max_in_flight" {
  description = "BAYKO_MAX_IN_FLIGHT: tasks one worker runs at once."
  type        = number
  default     = 8
}

variable "bayko_shutdown_grace_seconds" {
  description = "BAYKO_SHUTDOWN_GRACE_SECONDS; the container's stopTimeout is this plus 5 s."
  type        = number
  default     = 25
}

variable "queue_visibility_timeout_seconds" {
  description = "Work queue visibility timeout; Bayko's lease (BAYKO_LEASE_SECONDS) keeps extending it while a task runs."
  type        = number
  default     = 60
}

variable "queue_max_receive_count" {
  description = "Receives before a message moves to the DLQ (above BAYKO_MAX_ATTEMPTS, 4)."
  type        = number
  default     = 5
}

variable "task_retention_days" {
  description = "Days task documents, statuses and cancel requests live (tasks bucket)."
  type        = number
  default     = 30
}

variable "artifact_retention_days" {
  description = "Days artifacts live (artifacts bucket)."
  type        = number
  default     = 90
}

variable "noncurrent_version_days" {
  description = "Days an overwritten object version is kept."
  type        = number
  default     = 7
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention for the services and VPC flow logs."
  type        = number
  default     = 365
}

variable "artifact_link_ttl_seconds" {
  description = "BROWN_LINK_TTL_SECONDS: lifetime of signed artifact links."
  type        = number
  default     = 900
}

variable "cloudfront_public_key_pem" {
  description = "PEM public key of the key pair that signs artifact URLs (CloudFront trusted key group)."
  type        = string
}

variable "cloudfront_certificate_arn" {
  description = "ACM certificate (us-east-1) for the artifacts distribution's alias; null uses the CloudFront domain."
  type        = string
  default     = null
}

variable "alarm_topic_arn" {
  description = "SNS topic the CloudWatch alarms notify; null creates none."
  type        = string
  default     = null
}
