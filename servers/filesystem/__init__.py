"""The filesystem server: safe file tools, file:// resources and prompts over the operator's directories."""
