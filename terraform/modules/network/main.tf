# Two VPCs that never route to each other (no peering, no transit gateway):
# - public:  Brown. Public subnets hold only the ALB; Brown's tasks sit in app subnets with no
#            public address and reach S3 and the other AWS APIs through VPC endpoints.
# - private: Bayko. No internet gateway; S3 through a gateway endpoint, SQS, ECR, Logs, STS,
#            EventBridge, Secrets Manager and Bedrock runtime through interface endpoints.
#            With the Anthropic API provider only, an egress subnet, an internet gateway and a
#            NAT gateway give Bayko an outbound path (nothing can connect in).

data "aws_region" "current" {}

locals {
  az_count = length(var.availability_zones)
}

# ---------------------------------------------------------------- public VPC (Brown)

resource "aws_vpc" "public" {
  cidr_block           = var.public_vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = "${var.name}-public" }
}

resource "aws_default_security_group" "public" {
  vpc_id = aws_vpc.public.id
  # No rules: nothing may use the default group.
}

resource "aws_internet_gateway" "public" {
  vpc_id = aws_vpc.public.id
  tags   = { Name = "${var.name}-public" }
}

resource "aws_subnet" "public_edge" {
  count             = local.az_count
  vpc_id            = aws_vpc.public.id
  availability_zone = var.availability_zones[count.index]
  cidr_block        = cidrsubnet(var.public_vpc_cidr, 8, count.index)
  tags              = { Name = "${var.name}-public-edge-${count.index}", Tier = "edge" }
}

resource "aws_subnet" "public_app" {
  count             = local.az_count
  vpc_id            = aws_vpc.public.id
  availability_zone = var.availability_zones[count.index]
  cidr_block        = cidrsubnet(var.public_vpc_cidr, 8, 100 + count.index)
  tags              = { Name = "${var.name}-public-app-${count.index}", Tier = "app" }
}

resource "aws_route_table" "public_edge" {
  vpc_id = aws_vpc.public.id
  tags   = { Name = "${var.name}-public-edge" }
}

resource "aws_route" "public_edge_internet" {
  route_table_id         = aws_route_table.public_edge.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.public.id
}

resource "aws_route_table_association" "public_edge" {
  count          = local.az_count
  subnet_id      = aws_subnet.public_edge[count.index].id
  route_table_id = aws_route_table.public_edge.id
}

# Brown's subnets route nowhere but the VPC and the S3 gateway endpoint.
resource "aws_route_table" "public_app" {
  vpc_id = aws_vpc.public.id
  tags   = { Name = "${var.name}-public-app" }
}

resource "aws_route_table_association" "public_app" {
  count          = local.az_count
  subnet_id      = aws_subnet.public_app[count.index].id
  route_table_id = aws_route_table.public_app.id
}

module "public_endpoints" {
  source          = "./endpoints"
  name            = "${var.name}-public"
  vpc_id          = aws_vpc.public.id
  vpc_cidr        = var.public_vpc_cidr
  subnet_ids      = aws_subnet.public_app[*].id
  route_table_ids = [aws_route_table.public_app.id]
  # What Brown's tasks need: image pulls, logs, credentials, secrets.
  interface_services = ["ecr.api", "ecr.dkr", "logs", "sts", "secretsmanager"]
}

# ---------------------------------------------------------------- private VPC (Bayko)

resource "aws_vpc" "private" {
  cidr_block           = var.private_vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = "${var.name}-private" }
}

resource "aws_default_security_group" "private" {
  vpc_id = aws_vpc.private.id
}

resource "aws_subnet" "private_app" {
  count             = local.az_count
  vpc_id            = aws_vpc.private.id
  availability_zone = var.availability_zones[count.index]
  cidr_block        = cidrsubnet(var.private_vpc_cidr, 8, 100 + count.index)
  tags              = { Name = "${var.name}-private-app-${count.index}", Tier = "app" }
}

resource "aws_route_table" "private_app" {
  vpc_id = aws_vpc.private.id
  tags   = { Name = "${var.name}-private-app" }
}

resource "aws_route_table_association" "private_app" {
  count          = local.az_count
  subnet_id      = aws_subnet.private_app[count.index].id
  route_table_id = aws_route_table.private_app.id
}

module "private_endpoints" {
  source          = "./endpoints"
  name            = "${var.name}-private"
  vpc_id          = aws_vpc.private.id
  vpc_cidr        = var.private_vpc_cidr
  subnet_ids      = aws_subnet.private_app[*].id
  route_table_ids = [aws_route_table.private_app.id]
  interface_services = [
    "sqs", "ecr.api", "ecr.dkr", "logs", "sts", "events", "secretsmanager", "bedrock-runtime",
  ]
}

# The Anthropic API path: only when that provider is chosen.
resource "aws_internet_gateway" "private_egress" {
  count  = var.nat_for_llm ? 1 : 0
  vpc_id = aws_vpc.private.id
  tags   = { Name = "${var.name}-private-egress" }
}

resource "aws_subnet" "private_egress" {
  count             = var.nat_for_llm ? 1 : 0
  vpc_id            = aws_vpc.private.id
  availability_zone = var.availability_zones[0]
  cidr_block        = cidrsubnet(var.private_vpc_cidr, 8, 0)
  tags              = { Name = "${var.name}-private-egress", Tier = "egress" }
}

resource "aws_route_table" "private_egress" {
  count  = var.nat_for_llm ? 1 : 0
  vpc_id = aws_vpc.private.id
  tags   = { Name = "${var.name}-private-egress" }
}

resource "aws_route" "private_egress_internet" {
  count                  = var.nat_for_llm ? 1 : 0
  route_table_id         = aws_route_table.private_egress[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.private_egress[0].id
}

resource "aws_route_table_association" "private_egress" {
  count          = var.nat_for_llm ? 1 : 0
  subnet_id      = aws_subnet.private_egress[0].id
  route_table_id = aws_route_table.private_egress[0].id
}

resource "aws_eip" "nat" {
  count  = var.nat_for_llm ? 1 : 0
  domain = "vpc"
  tags   = { Name = "${var.name}-nat" }
}

resource "aws_nat_gateway" "private" {
  count         = var.nat_for_llm ? 1 : 0
  allocation_id = aws_eip.nat[0].id
  subnet_id     = aws_subnet.private_egress[0].id
  tags          = { Name = "${var.name}-nat" }
}

resource "aws_route" "private_app_nat" {
  count                  = var.nat_for_llm ? 1 : 0
  route_table_id         = aws_route_table.private_app.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.private[0].id
}

# ---------------------------------------------------------------- flow logs (both VPCs)

resource "aws_cloudwatch_log_group" "flow" {
  for_each          = { public = aws_vpc.public.id, private = aws_vpc.private.id }
  name              = "/bayko-brown/${var.name}/vpc-flow/${each.key}"
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_flow_log" "vpc" {
  for_each             = { public = aws_vpc.public.id, private = aws_vpc.private.id }
  vpc_id               = each.value
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow[each.key].arn
  iam_role_arn         = aws_iam_role.flow.arn
}

data "aws_iam_policy_document" "flow_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "flow" {
  name               = "${var.name}-vpc-flow-logs"
  assume_role_policy = data.aws_iam_policy_document.flow_assume.json
}

data "aws_iam_policy_document" "flow" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = [for group in aws_cloudwatch_log_group.flow : "${group.arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow" {
  name   = "write-flow-logs"
  role   = aws_iam_role.flow.id
  policy = data.aws_iam_policy_document.flow.json
}
