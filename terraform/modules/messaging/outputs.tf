output "queue_url" {
  description = "The work queue (BAYKO_QUEUE_URL)."
  value       = aws_sqs_queue.work.id
}

output "queue_arn" {
  description = "The work queue's ARN."
  value       = aws_sqs_queue.work.arn
}

output "queue_name" {
  description = "The work queue's name (metrics dimension)."
  value       = aws_sqs_queue.work.name
}

output "dead_letter_queue_url" {
  description = "The work queue's DLQ (BAYKO_DLQ_URL for `bayko redrive`)."
  value       = aws_sqs_queue.work_dlq.id
}

output "dead_letter_queue_name" {
  description = "The work queue's DLQ name."
  value       = aws_sqs_queue.work_dlq.name
}

output "rule_dead_letter_queue_name" {
  description = "The rule target's DLQ name."
  value       = aws_sqs_queue.rule_dlq.name
}
