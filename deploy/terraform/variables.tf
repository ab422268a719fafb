variable "name" {
  description = "Prefix of every resource name, e.g. \"page-views\"."
  type        = string
}

variable "pipeline" {
  description = "The pipeline's name: the Pipeline dimension of the autoscaling metrics and the namespace of its rows in the state table."
  type        = string
}

variable "image" {
  description = "Container image holding the compiled worker and query binaries (see examples/page_view_counters/Dockerfile)."
  type        = string
}

variable "worker_command" {
  description = "Command of the worker container."
  type        = list(string)
  default     = ["/murmur-worker"]
}

variable "query_command" {
  description = "Command of the query container."
  type        = list(string)
  default     = ["/murmur-query"]
}

variable "vpc_id" {
  description = "VPC of the services and the load balancer."
  type        = string
}

variable "private_subnet_ids" {
  description = "Subnets of the Fargate tasks (no public IPs are assigned)."
  type        = list(string)
}

variable "alb_subnet_ids" {
  description = "Subnets of the query load balancer (public ones when alb_internal is false)."
  type        = list(string)
}

variable "alb_internal" {
  description = "Whether the query load balancer is internal."
  type        = bool
  default     = true
}

variable "query_allowed_cidrs" {
  description = "CIDR blocks allowed to reach the query load balancer."
  type        = list(string)
  default     = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
}

variable "certificate_arn" {
  description = "ACM certificate for an HTTPS listener; null serves plain HTTP (internal use only)."
  type        = string
  default     = null
}

variable "query_port" {
  description = "Port the query server listens on (Connect, gRPC-Web, /healthz, /metrics)."
  type        = number
  default     = 8080
}

variable "worker_cpu" {
  description = "Fargate CPU units of a worker task."
  type        = number
  default     = 512
}

variable "worker_memory" {
  description = "Fargate memory (MiB) of a worker task."
  type        = number
  default     = 1024
}

variable "query_cpu" {
  description = "Fargate CPU units of a query task."
  type        = number
  default     = 256
}

variable "query_memory" {
  description = "Fargate memory (MiB) of a query task."
  type        = number
  default     = 512
}

variable "query_desired_count" {
  description = "Query tasks behind the load balancer."
  type        = number
  default     = 2
}

variable "worker_min_count" {
  description = "Fewest worker tasks the scaling policy keeps."
  type        = number
  default     = 1
}

variable "worker_max_count" {
  description = "Most worker tasks; more than the source's partitions or shards only idle."
  type        = number
  default     = 12
}

variable "backlog_per_task_target" {
  description = "Target of the scaling policy: consumer lag (records) per running worker task."
  type        = number
  default     = 300000
}

variable "metrics_namespace" {
  description = "CloudWatch namespace the worker's CloudWatchEmitter publishes to."
  type        = string
  default     = "Murmur"
}

variable "stream_view_type" {
  description = "DynamoDB Streams view of the state table, read by projectors and CDC consumers."
  type        = string
  default     = "NEW_AND_OLD_IMAGES"

  validation {
    condition     = contains(["NEW_IMAGE", "NEW_AND_OLD_IMAGES"], var.stream_view_type)
    error_message = "Consumers decode the new value of a row: use NEW_IMAGE or NEW_AND_OLD_IMAGES."
  }
}

variable "swap_enabled" {
  description = "Create the alias table that points readers and writers at the active state table version."
  type        = bool
  default     = true
}

variable "environment" {
  description = "Extra environment variables of both containers (Kafka brokers, topic, Valkey URL, ...)."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Retention of the containers' CloudWatch log groups."
  type        = number
  default     = 14
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
  default     = {}
}
