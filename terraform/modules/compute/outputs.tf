output "cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "brown_service_name" {
  description = "Brown's ECS service."
  value       = aws_ecs_service.brown.name
}

output "bayko_service_name" {
  description = "Bayko's ECS service."
  value       = aws_ecs_service.bayko.name
}

output "alb_dns_name" {
  description = "The ALB's DNS name (point Brown's public name here)."
  value       = aws_lb.brown.dns_name
}

output "alb_arn_suffix" {
  description = "The ALB's ARN suffix (CloudWatch dimension)."
  value       = aws_lb.brown.arn_suffix
}

output "target_group_arn_suffix" {
  description = "Brown's target group's ARN suffix (CloudWatch dimension)."
  value       = aws_lb_target_group.brown.arn_suffix
}

output "ecr_repository_urls" {
  description = "Where CI pushes the images: { brown = …, bayko = … }."
  value       = { for name, repository in aws_ecr_repository.this : name => repository.repository_url }
}

output "log_group_names" {
  description = "The services' log groups."
  value       = { for name, group in aws_cloudwatch_log_group.service : name => group.name }
}
