resource "aws_lb" "brown" {
  # checkov:skip=CKV2_AWS_28: a WAF web ACL is account policy (managed rules, rate limits per client); attach one with aws_wafv2_web_acl_association. Brown validates and bounds every request itself.
  # checkov:skip=CKV_AWS_91: ALB access logs need a log-delivery bucket policy per region's ELB account; the flow logs and Brown's request logs (CloudWatch) cover requests
  name                       = "${var.name}-brown"
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = var.public_edge_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = true
}

resource "aws_lb_target_group" "brown" {
  # checkov:skip=CKV_AWS_378: TLS ends at the ALB; the hop to Brown stays inside its VPC, on a security group that admits only the ALB
  name                 = "${var.name}-brown"
  port                 = 8080
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.public_vpc_id
  deregistration_delay = 20

  health_check {
    path                = "/healthz"
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.brown.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.brown.arn
  }
}
