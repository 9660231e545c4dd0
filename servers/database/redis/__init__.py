"""Redis: the redis_* tools, their command allow-lists, budgeted reads and SCAN pages, one client per connection."""
