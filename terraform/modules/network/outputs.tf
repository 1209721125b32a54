output "public_vpc_id" {
  description = "Brown's VPC."
  value       = aws_vpc.public.id
}

output "public_edge_subnet_ids" {
  description = "Subnets for the ALB."
  value       = aws_subnet.public_edge[*].id
}

output "public_app_subnet_ids" {
  description = "Subnets for Brown's tasks (no public addresses)."
  value       = aws_subnet.public_app[*].id
}

output "public_endpoint_security_group_id" {
  description = "Security group of the public VPC's interface endpoints."
  value       = module.public_endpoints.security_group_id
}

output "private_vpc_id" {
  description = "Bayko's VPC."
  value       = aws_vpc.private.id
}

output "private_vpc_cidr" {
  description = "Bayko's VPC CIDR."
  value       = var.private_vpc_cidr
}

output "private_app_subnet_ids" {
  description = "Subnets for Bayko's tasks."
  value       = aws_subnet.private_app[*].id
}

output "private_endpoint_security_group_id" {
  description = "Security group of the private VPC's interface endpoints."
  value       = module.private_endpoints.security_group_id
}

output "s3_prefix_list_ids" {
  description = "The S3 gateway endpoints' prefix lists, per VPC (for security group egress)."
  value = {
    public  = module.public_endpoints.s3_prefix_list_id
    private = module.private_endpoints.s3_prefix_list_id
  }
}
