variable "name" {
  description = "Name prefix for the network's resources."
  type        = string
}

variable "public_vpc_cidr" {
  description = "CIDR of Brown's VPC."
  type        = string
}

variable "private_vpc_cidr" {
  description = "CIDR of Bayko's VPC."
  type        = string
}

variable "availability_zones" {
  description = "Availability zones for the subnets."
  type        = list(string)
}

variable "nat_for_llm" {
  description = "Give Bayko's VPC a NAT path to the internet (only for the Anthropic API provider)."
  type        = bool
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow logs."
  type        = number
}

variable "kms_key_arn" {
  description = "KMS key encrypting the flow log groups."
  type        = string
}
