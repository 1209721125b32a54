variable "name" {
  description = "Name prefix (NAME-work, NAME-work-dlq, NAME-rule-dlq, NAME-inbox-object-created: the names bb-provision uses)."
  type        = string
}

variable "tasks_bucket" {
  description = "The tasks bucket whose inbox/ objects become work."
  type        = string
}

variable "visibility_timeout_seconds" {
  description = "The work queue's visibility timeout."
  type        = number
}

variable "max_receive_count" {
  description = "Receives before the DLQ."
  type        = number
}
