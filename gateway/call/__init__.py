"""The call: what the gateway decides about one request once it is in, whichever door it came through.

- :mod:`.guard` allows or refuses it (roles, rate limits, argument validation) and audits it;
- :mod:`.service` holds the gateway's state (instances, pools, the catalog) and turns a call into a
  routed forward;
- :mod:`.catalog` resolves the name (``<server>_<tool>``) to a server and its own name;
- :mod:`.policies` resolves the call's policy (nearest level wins: gateway, supervisor, server, tool);
- :mod:`.router` waits for a bulkhead slot, picks an instance, forwards, retries only where safe;
- :mod:`.live_config` replaces policies and server settings from Consul KV without a restart.
"""
