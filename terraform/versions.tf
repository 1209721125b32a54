terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }

  # Configure a remote state backend for shared use, e.g.
  #   backend "s3" { bucket = "…-tfstate" key = "bayko-brown.tfstate" region = "…" use_lockfile = true }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "bayko-brown"
      Environment = var.environment
    }
  }
}
