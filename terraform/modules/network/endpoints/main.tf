# The AWS APIs inside one VPC: S3 by a gateway endpoint (route-table entries), the others by
# interface endpoints with private DNS, reachable on 443 from inside the VPC only.

variable "name" {
  description = "Name prefix."
  type        = string
}

variable "vpc_id" {
  description = "The VPC."
  type        = string
}

variable "vpc_cidr" {
  description = "The VPC's CIDR: the only source the endpoints admit."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets for the interface endpoints' network interfaces."
  type        = list(string)
}

variable "route_table_ids" {
  description = "Route tables that get the S3 gateway endpoint."
  type        = list(string)
}

variable "interface_services" {
  description = "Service names (after com.amazonaws.REGION.) to give interface endpoints."
  type        = list(string)
}

data "aws_region" "current" {}

resource "aws_vpc_endpoint" "s3" {
  vpc_id            = var.vpc_id
  service_name      = "com.amazonaws.${data.aws_region.current.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = var.route_table_ids
  tags              = { Name = "${var.name}-s3" }
}

resource "aws_security_group" "endpoints" {
  name        = "${var.name}-endpoints"
  description = "Interface endpoints: HTTPS from inside the VPC only"
  vpc_id      = var.vpc_id

  ingress {
    description = "HTTPS from the VPC"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }
}

resource "aws_vpc_endpoint" "interface" {
  for_each            = toset(var.interface_services)
  vpc_id              = var.vpc_id
  service_name        = "com.amazonaws.${data.aws_region.current.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = var.subnet_ids
  security_group_ids  = [aws_security_group.endpoints.id]
  private_dns_enabled = true
  tags                = { Name = "${var.name}-${each.key}" }
}

output "security_group_id" {
  description = "The endpoints' security group."
  value       = aws_security_group.endpoints.id
}

output "s3_prefix_list_id" {
  description = "The S3 gateway endpoint's prefix list."
  value       = aws_vpc_endpoint.s3.prefix_list_id
}
