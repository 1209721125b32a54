variable "name" {
  description = "Prefix of every resource name (the deployment's name)."
  type        = string
}

variable "webhook_url" {
  description = "HTTPS endpoint that receives each Task Finished event as a POST; empty for no webhook (the bus alone, for your own rules)."
  type        = string
  default     = ""

  validation {
    condition     = var.webhook_url == "" || startswith(var.webhook_url, "https://")
    error_message = "webhook_url must be an https:// URL, or empty."
  }
}

variable "webhook_auth_header_name" {
  description = "Header the webhook call carries to prove it comes from this deployment."
  type        = string
  default     = "Authorization"
}

variable "webhook_auth_header_value" {
  description = "Value of that header (a shared secret); kept in the connection's Secrets Manager secret."
  type        = string
  default     = ""
  sensitive   = true
}

variable "webhook_states" {
  description = "Final states that trigger the webhook."
  type        = list(string)
  default     = ["succeeded", "degraded", "failed", "cancelled"]
}

variable "webhook_rate_per_second" {
  description = "Most webhook calls per second; EventBridge queues the rest and retries."
  type        = number
  default     = 10
}
