# The compose stack's single Consul server (bootstrap-expect=1). ACLs are switched on through
# CONSUL_LOCAL_CONFIG in docker-compose.yml, because the management token comes from .env.
datacenter = "dc1"
log_level  = "INFO"

ui_config {
  enabled = true
}

# Registrations made through this agent's API survive a restart of the container (data volume).
leave_on_terminate = false

telemetry {
  # /v1/agent/metrics?format=prometheus (needs a token with agent:read).
  prometheus_retention_time = "60s"
  disable_hostname          = true
}
