# Only what the flow needs: clients → ALB:443 → Brown:8080; Brown and Bayko → AWS APIs on 443
# (VPC endpoints, S3's gateway prefix list). Nothing may connect to Bayko.

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "Brown's load balancer: HTTPS from clients, to Brown only"
  vpc_id      = var.public_vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each          = toset(var.allowed_ingress_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from clients"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_brown" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To Brown's tasks"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
  referenced_security_group_id = aws_security_group.brown.id
}

resource "aws_security_group" "brown" {
  name        = "${var.name}-brown"
  description = "Brown's tasks: from the ALB only; out to AWS APIs only"
  vpc_id      = var.public_vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "brown_from_alb" {
  security_group_id            = aws_security_group.brown.id
  description                  = "From the ALB"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "brown_to_endpoints" {
  security_group_id            = aws_security_group.brown.id
  description                  = "AWS APIs through the VPC's interface endpoints"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = var.public_endpoint_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "brown_to_s3" {
  security_group_id = aws_security_group.brown.id
  description       = "S3 through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = var.s3_prefix_list_ids["public"]
}

resource "aws_security_group" "bayko" {
  name        = "${var.name}-bayko"
  description = "Bayko's tasks: no ingress at all; out to AWS APIs (and the LLM API via NAT when chosen)"
  vpc_id      = var.private_vpc_id
}

resource "aws_vpc_security_group_egress_rule" "bayko_to_endpoints" {
  security_group_id            = aws_security_group.bayko.id
  description                  = "AWS APIs through the VPC's interface endpoints"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = var.private_endpoint_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "bayko_to_s3" {
  security_group_id = aws_security_group.bayko.id
  description       = "S3 through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = var.s3_prefix_list_ids["private"]
}

resource "aws_vpc_security_group_egress_rule" "bayko_to_llm_api" {
  count             = var.llm_provider == "anthropic" ? 1 : 0
  security_group_id = aws_security_group.bayko.id
  description       = "The Anthropic API over HTTPS, through the NAT gateway"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}
