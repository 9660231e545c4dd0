"""The server the official conformance suite expects: every tool, resource and prompt its scenarios call.

Built on the SDK's ``MCPServer`` like any upstream a user might put behind the gateway. It answers both
protocol eras: on 2025-11-25 an input (sampling, elicitation) is a server-to-client request sent
mid-call; on 2026-07-28 the same tool answers ``InputRequiredResult`` and finishes when the client
retries with ``inputResponses``. ``test_sampling`` and ``test_elicitation`` are written for sessions
only (they ask mid-call in any era), as most tools are. The gateway speaks 2026-07-28 upstream, so a
2025-11-25 client reaches the first kind through its input bridge and the second through a session
the gateway opens for the call.
"""

from __future__ import annotations

import base64
import itertools
import json
from typing import Annotated, Any

import anyio
from mcp import types
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.prompts.base import Message, UserMessage
from mcp.server.request_state import RequestStateSecurity
from mcp.shared.exceptions import MCPError
from mcp.types import (
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    AudioContent,
    Completion,
    CompletionArgument,
    CompletionContext,
    EmbeddedResource,
    GetPromptResult,
    ImageContent,
    InputRequiredResult,
    PromptMessage,
    PromptReference,
    ResourceTemplateReference,
    TextContent,
    TextResourceContents,
)
from pydantic import Field

# A 1x1 transparent PNG and a silent 8-sample WAV: the smallest valid media the scenarios accept.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
WAV = base64.b64encode(
    b"RIFF" + (44).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
    + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
    + (8000).to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little")
    + b"data" + (8).to_bytes(4, "little") + bytes([128] * 8)
).decode()  # fmt: skip

JSON_SCHEMA_2020_12: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}

SEP1034_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "default": "John Doe"},
        "age": {"type": "integer", "default": 30},
        "score": {"type": "number", "default": 95.5},
        "status": {"type": "string", "enum": ["active", "inactive", "pending"], "default": "active"},
        "verified": {"type": "boolean", "default": True},
    },
}

SEP1330_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
        "titledSingle": {
            "type": "string",
            "oneOf": [
                {"const": "value1", "title": "First Option"},
                {"const": "value2", "title": "Second Option"},
                {"const": "value3", "title": "Third Option"},
            ],
        },
        "legacyEnum": {
            "type": "string",
            "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"],
        },
        "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
        "titledMulti": {
            "type": "array",
            "items": {
                "anyOf": [
                    {"const": "value1", "title": "First Choice"},
                    {"const": "value2", "title": "Second Choice"},
                    {"const": "value3", "title": "Third Choice"},
                ]
            },
        },
    },
}

NAME_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


def _elicit(message: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"method": "elicitation/create", "params": {"message": message, "requestedSchema": schema}}


def _sample(text: str, max_tokens: int) -> dict[str, Any]:
    return {
        "method": "sampling/createMessage",
        "params": {"messages": [{"role": "user", "content": {"type": "text", "text": text}}], "maxTokens": max_tokens},
    }


def _modern(ctx: Context) -> bool:
    return (ctx.protocol_version or "").startswith("2026")


def _require(ctx: Context, capability: str) -> None:
    """Refuse, as the spec asks, a call whose input the client never said it can give."""
    caps = ctx.client_capabilities
    if caps is None or getattr(caps, capability, None) is None:
        raise MCPError(
            MISSING_REQUIRED_CLIENT_CAPABILITY,
            f"the client did not declare the {capability} capability this tool needs",
            {"requiredCapabilities": {capability: {}}},
        )


def _responses(ctx: Context) -> dict[str, Any]:
    raw = ctx.input_responses or {}
    return {key: value.model_dump(by_alias=True, exclude_none=True, mode="json") for key, value in raw.items()}


async def _ask(ctx: Context, key: str, request: dict[str, Any]) -> dict[str, Any] | InputRequiredResult:
    """One input from the client, in the way its era allows: an answer, or the request to retry with."""
    if _modern(ctx):
        answer: dict[str, Any] | None = _responses(ctx).get(key)
        if answer is None:
            return InputRequiredResult.model_validate({"inputRequests": {key: request}})
        return answer
    return await _ask_mid_call(ctx, request)


async def _ask_mid_call(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    """A server-to-client request in the middle of the call, the only way a session-era tool knows."""
    params = request["params"]
    result: types.CreateMessageResult | types.ElicitResult
    if request["method"] == "sampling/createMessage":
        messages = [types.SamplingMessage.model_validate(m) for m in params["messages"]]
        result = await ctx.session.create_message(messages=messages, max_tokens=params["maxTokens"])
    else:
        result = await ctx.session.elicit_form(params["message"], params["requestedSchema"], ctx.request_id)
    dumped: dict[str, Any] = result.model_dump(by_alias=True, exclude_none=True, mode="json")
    return dumped


def conformance_server(name: str = "conformance-fixture") -> MCPServer[Any]:
    """A fresh fixture server (its subscriptions and changed lists are its own)."""
    server: MCPServer[Any] = MCPServer(
        name, instructions="the conformance suite's fixture", request_state_security=RequestStateSecurity.ephemeral()
    )
    _content_tools(server)
    _input_tools(server)
    _input_required_tools(server)
    _diagnostic_tools(server)
    _resources(server)
    _prompts(server)
    _handshake_era_handlers(server)
    return server


def _handshake_era_handlers(server: MCPServer[Any]) -> None:
    """``logging/setLevel`` and ``resources/(un)subscribe``, which ``MCPServer`` leaves to the low-level server."""
    lowlevel = server._lowlevel_server
    subscribed: set[str] = set()

    async def set_level(_ctx: Any, _params: types.SetLevelRequestParams) -> types.EmptyResult:
        return types.EmptyResult()

    async def subscribe(_ctx: Any, params: types.SubscribeRequestParams) -> types.EmptyResult:
        subscribed.add(str(params.uri))
        return types.EmptyResult()

    async def unsubscribe(_ctx: Any, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        subscribed.discard(str(params.uri))
        return types.EmptyResult()

    lowlevel.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
    lowlevel.add_request_handler("resources/subscribe", types.SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, unsubscribe)


def _content_tools(server: MCPServer[Any]) -> None:
    @server.tool(description="Returns simple text.")
    def test_simple_text() -> str:
        return "This is a simple text response for testing."

    @server.tool(description="Returns an image.")
    def test_image_content() -> list[Any]:
        return [ImageContent(type="image", data=PNG, mime_type="image/png")]

    @server.tool(description="Returns audio.")
    def test_audio_content() -> list[Any]:
        return [AudioContent(type="audio", data=WAV, mime_type="audio/wav")]

    @server.tool(description="Returns an embedded resource.")
    def test_embedded_resource() -> list[Any]:
        text = "This is an embedded resource content."
        resource = TextResourceContents(uri="test://embedded-resource", mime_type="text/plain", text=text)
        return [EmbeddedResource(type="resource", resource=resource)]

    @server.tool(description="Returns text, an image and a resource.")
    def test_multiple_content_types() -> list[Any]:
        data = json.dumps({"test": "data", "value": 123})
        resource = TextResourceContents(uri="test://mixed-content-resource", mime_type="application/json", text=data)
        return [
            TextContent(type="text", text="Multiple content types test:"),
            ImageContent(type="image", data=PNG, mime_type="image/png"),
            EmbeddedResource(type="resource", resource=resource),
        ]

    @server.tool(description="Always fails.")
    def test_error_handling() -> str:
        raise ToolError("This tool intentionally returns an error for testing")

    @server.tool(description="Logs three messages while it runs.")
    async def test_tool_with_logging(ctx: Context) -> str:
        await ctx.info("Tool execution started")
        await anyio.sleep(0.05)  # the scenario checks that notifications arrive spread over the call
        await ctx.info("Tool processing data")
        await anyio.sleep(0.05)
        await ctx.info("Tool execution completed")
        return "Tool with logging executed successfully"

    @server.tool(description="Reports progress 0, 50, 100 of 100.")
    async def test_tool_with_progress(ctx: Context) -> str:
        for step in (0, 50, 100):
            await ctx.report_progress(step, 100, f"{step}%")
            if step < 100:
                await anyio.sleep(0.05)
        return "Tool with progress executed successfully"

    server.add_tool(lambda: "ok", name="json_schema_2020_12_tool", description="Tool with JSON Schema 2020-12 features")
    server._tool_manager._tools["json_schema_2020_12_tool"].parameters = JSON_SCHEMA_2020_12  # pyright: ignore


def _input_tools(server: MCPServer[Any]) -> None:
    @server.tool(description="Asks the client's model to answer the prompt.")
    async def test_sampling(prompt: str, ctx: Context) -> Any:
        _require(ctx, "sampling")
        answer = await _ask_mid_call(ctx, _sample(prompt, 100))  # written for sessions, as most tools are
        content = answer.get("content") or {}
        text = content.get("text", "") if isinstance(content, dict) else ""
        return f"LLM response: {text}"

    @server.tool(description="Asks the user for a username and an email.")
    async def test_elicitation(message: str, ctx: Context) -> Any:
        _require(ctx, "elicitation")
        schema = {
            "type": "object",
            "properties": {
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"},
            },
            "required": ["username", "email"],
        }
        answer = await _ask_mid_call(ctx, _elicit(message, schema))  # written for sessions, as most tools are
        return f"User response: action={answer.get('action')}, content={json.dumps(answer.get('content', {}))}"

    async def elicit_with(ctx: Context, schema: dict[str, Any], message: str) -> Any:
        _require(ctx, "elicitation")
        answer = await _ask(ctx, "elicitation", _elicit(message, schema))
        if isinstance(answer, InputRequiredResult):
            return answer
        content = json.dumps(answer.get("content", {}))
        return f"Elicitation completed: action={answer.get('action')}, content={content}"

    @server.tool(description="Asks with defaults for every primitive type (SEP-1034).")
    async def test_elicitation_sep1034_defaults(ctx: Context) -> Any:
        return await elicit_with(ctx, SEP1034_SCHEMA, "Please review and update the form fields with defaults")

    @server.tool(description="Asks with the five enum variants (SEP-1330).")
    async def test_elicitation_sep1330_enums(ctx: Context) -> Any:
        return await elicit_with(ctx, SEP1330_SCHEMA, "Please select options from the enum fields")

    @server.tool(description="Needs sampling; refuses a client that did not declare it.")
    async def test_missing_capability(ctx: Context) -> str:
        _require(ctx, "sampling")
        return "the client declared sampling"

    @server.tool(description="Asks for input in the middle of a call, the 2026-07-28 way.")
    async def test_streaming_elicitation(ctx: Context) -> Any:
        answer = await _ask(ctx, "confirm", _elicit("Continue?", {"type": "object", "properties": {}}))
        return answer if isinstance(answer, InputRequiredResult) else "streamed"

    @server.tool(description="Closes the SSE stream mid-call so the client reconnects (SEP-1699).")
    async def test_reconnection(ctx: Context) -> str:
        await anyio.sleep(0.05)  # let the priming event reach the client first
        await ctx.close_sse_stream()
        await anyio.sleep(0.1)
        return "Reconnection test completed"


def _input_required_tools(server: MCPServer[Any]) -> None:
    def needed(ctx: Context, requests: dict[str, dict[str, Any]], state: str | None = None) -> Any:
        """The result once every key is answered; else the input-required result asking for the rest."""
        missing = {key: request for key, request in requests.items() if key not in _responses(ctx)}
        if not missing:
            return None
        return InputRequiredResult.model_validate(
            {"inputRequests": missing, **({"requestState": state} if state else {})}
        )

    @server.tool(description="Asks the user's name (SEP-2322).")
    def test_input_required_result_elicitation(ctx: Context) -> Any:
        ask = needed(ctx, {"user_name": _elicit("What is your name?", NAME_SCHEMA)})
        return ask or f"Hello, {_responses(ctx)['user_name'].get('content', {}).get('name', '')}!"

    @server.tool(description="Asks the client's model (SEP-2322).")
    def test_input_required_result_sampling(ctx: Context) -> Any:
        ask = needed(ctx, {"capital_question": _sample("What is the capital of France?", 100)})
        content = _responses(ctx).get("capital_question", {}).get("content", {})
        return ask or f"The model said: {content.get('text', '') if isinstance(content, dict) else ''}"

    @server.tool(description="Asks the client's roots (SEP-2322).")
    def test_input_required_result_list_roots(ctx: Context) -> Any:
        ask = needed(ctx, {"client_roots": {"method": "roots/list", "params": {}}})
        roots = _responses(ctx).get("client_roots", {}).get("roots", [])
        return ask or f"roots: {', '.join(str(r.get('uri')) for r in roots)}"

    confirm = _elicit(
        "Please confirm", {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    )

    @server.tool(description="Round-trips its request state (SEP-2322).")
    def test_input_required_result_request_state(ctx: Context) -> Any:
        ask = needed(ctx, {"confirm": confirm}, "round-1")
        if ask is not None or ctx.request_state is None:
            return ask or InputRequiredResult.model_validate(
                {"inputRequests": {"confirm": confirm}, "requestState": "round-1"}
            )
        if ctx.request_state != "round-1":
            raise MCPError(-32602, "the request state is not the one this tool sent")
        return "state-ok"

    @server.tool(description="Asks three inputs at once (SEP-2322).")
    def test_input_required_result_multiple_inputs(ctx: Context) -> Any:
        requests = {
            "user_name": _elicit("What is your name?", NAME_SCHEMA),
            "greeting": _sample("Generate a greeting", 50),
            "client_roots": {"method": "roots/list", "params": {}},
        }
        return needed(ctx, requests, "multiple") or "all inputs received"

    @server.tool(description="Two rounds of input (SEP-2322).")
    def test_input_required_result_multi_round(ctx: Context) -> Any:
        color = {"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]}
        step2 = {"step2": _elicit("Step 2: What is your favorite color?", color)}
        if ctx.request_state == "round-2":
            return needed(ctx, step2, "round-2") or "done"
        if ctx.request_state == "round-1" and "step1" in _responses(ctx):
            return InputRequiredResult.model_validate({"inputRequests": step2, "requestState": "round-2"})
        step1 = {"step1": _elicit("Step 1: What is your name?", NAME_SCHEMA)}
        return InputRequiredResult.model_validate({"inputRequests": step1, "requestState": "round-1"})

    @server.tool(description="Signs its request state; a tampered one is refused (SEP-2322).")
    def test_input_required_result_tampered_state(ctx: Context) -> Any:
        if ctx.request_state != "sealed":
            return InputRequiredResult.model_validate({"inputRequests": {"confirm": confirm}, "requestState": "sealed"})
        return "state verified"

    @server.tool(description="Asks only for the inputs the client can give (SEP-2322).")
    def test_input_required_result_capabilities(ctx: Context) -> Any:
        caps = ctx.client_capabilities
        requests: dict[str, dict[str, Any]] = {}
        if caps is not None and caps.sampling is not None:
            requests["sample"] = _sample("Say hello", 20)
        if caps is not None and caps.elicitation is not None:
            requests["name"] = _elicit("What is your name?", NAME_SCHEMA)
        if caps is not None and caps.roots is not None:
            requests["roots"] = {"method": "roots/list", "params": {}}
        return (needed(ctx, requests) if requests else None) or "capabilities honoured"


def _diagnostic_tools(server: MCPServer[Any]) -> None:
    @server.tool(description="Logs one message (sent only if the request set a log level).")
    async def test_logging_tool(ctx: Context) -> str:
        await ctx.info("a log line")
        return "logged"

    added = itertools.count(1)  # each call really changes the list: a gateway only tells of real changes

    @server.tool(description="Adds a tool and announces the change.")
    async def test_trigger_tool_change(ctx: Context) -> str:
        server.add_tool(lambda: "added", name=f"test_added_tool_{next(added)}", description="added at run time")
        await ctx.notify_tools_changed()
        return "tools changed"

    @server.tool(description="Adds a prompt and announces the change.")
    async def test_trigger_prompt_change(ctx: Context) -> str:
        server.prompt(name=f"test_added_prompt_{next(added)}", description="added at run time")(lambda: "added")
        await ctx.notify_prompts_changed()
        return "prompts changed"

    @server.tool(description="Mirrors its region and priority into Mcp-Param headers (SEP-2243).")
    def test_custom_headers(
        region: Annotated[str, Field(description="a region", json_schema_extra={"x-mcp-header": "Region"})],
        query: Annotated[str, Field(description="a query")] = "",
    ) -> str:
        return f"region={region} query={query}"


def _resources(server: MCPServer[Any]) -> None:
    @server.resource("test://static-text", mime_type="text/plain", description="static text")
    def static_text() -> str:
        return "This is the content of the static text resource."

    @server.resource("test://static-binary", mime_type="image/png", description="static binary")
    def static_binary() -> bytes:
        return base64.b64decode(PNG)

    @server.resource("test://watched-resource", mime_type="text/plain", description="a resource to subscribe to")
    def watched() -> str:
        return "watched"

    @server.resource("test://template/{id}/data", mime_type="application/json", description="a template")
    def template(id: str) -> str:
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})

    @server.completion()  # type: ignore[untyped-decorator, no-untyped-call]
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion:
        values = [v for v in ("paris", "park", "party") if v.startswith(argument.value)]
        return Completion(values=values, total=len(values), has_more=False)


def _prompts(server: MCPServer[Any]) -> None:
    @server.prompt(description="A simple prompt.")
    def test_simple_prompt() -> str:
        return "This is a simple prompt for testing."

    @server.prompt(description="A prompt with two arguments.")
    def test_prompt_with_arguments(arg1: str, arg2: str) -> str:
        return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"

    @server.prompt(description="A prompt that embeds a resource.")
    def test_prompt_with_embedded_resource(resourceUri: str) -> list[Message]:
        text = "Embedded resource content for testing."
        resource = TextResourceContents(uri=resourceUri, mime_type="text/plain", text=text)
        return [
            UserMessage(content=EmbeddedResource(type="resource", resource=resource)),
            UserMessage(content="Please process the embedded resource above."),
        ]

    @server.prompt(description="A prompt with an image.")
    def test_prompt_with_image() -> list[Message]:
        return [
            UserMessage(content=ImageContent(type="image", data=PNG, mime_type="image/png")),
            UserMessage(content="Please analyze the image above."),
        ]

    @server.prompt(description="A prompt that first asks the user for context (SEP-2322).")
    def test_input_required_result_prompt(ctx: Context) -> Any:
        answer = _responses(ctx).get("user_context")
        if answer is None:
            schema = {"type": "object", "properties": {"context": {"type": "string"}}, "required": ["context"]}
            return InputRequiredResult.model_validate(
                {"inputRequests": {"user_context": _elicit("What context should the prompt use?", schema)}}
            )
        context = answer.get("content", {}).get("context", "")
        message = PromptMessage(role="user", content=TextContent(type="text", text=f"Use this context: {context}"))
        return GetPromptResult(messages=[message])
