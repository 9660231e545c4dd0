"""The model policy: allow-list, token caps, per-provider queues and per-principal token budgets."""
