"""Security shared by the gateway and the servers: principals, token and API-key verification, roles,
rate limits, the audit trail, redaction and input limits. Imports nothing from servers/ or gateway/."""
