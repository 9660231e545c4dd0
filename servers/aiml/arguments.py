"""Argument types shared by the aiml tools."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

ModelName = Annotated[
    str | None,
    Field(
        default=None,
        min_length=1,
        max_length=300,
        description="an alias (default, fast, embed...) or <provider>/<model>; omitted: the tool's default alias",
    ),
]
MaxTokens = Annotated[
    int | None,
    Field(default=None, ge=1, le=1_000_000, description="most tokens to generate; capped by the operator's limit"),
]
Temperature = Annotated[float, Field(ge=0, le=2, description="sampling temperature; 0 is greedy")]
Stop = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=100)]],
    Field(max_length=8, description="texts that end the generation"),
]
