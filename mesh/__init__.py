"""The ground floor: what every process of mcp-suite shares. Imports nothing from servers/ or gateway/."""
