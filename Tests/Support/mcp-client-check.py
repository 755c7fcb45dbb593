"""Drives the sysadmin's MCP server with the official Python MCP client and prints one JSON object of what it saw.

    mcp-client-check.py stdio AI_SYSADMIN CONFIG   # `ai-sysadmin mcp --config CONFIG` as a subprocess
    mcp-client-check.py http URL KEY               # the gateway's /mcp with `Authorization: Bearer KEY` ("-": none)

It lists tools and resources, reads the status resource, calls a look-up, a look-up with an argument it does not
take, a tool that does not exist, propose_action (a unit restart, a host reboot, a type from the tool's own
description, a reason over its limit), and asks the agent for the restart. A refused connection is reported as "error".
"""
import asyncio
import json
import sys

from mcp import ClientSession, McpError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client


def text(result):
    return "".join(part.text for part in result.content if getattr(part, "type", "") == "text")


async def call(session, name, arguments):
    """A tool call as {"error", "text", "refused"}: refused is true when the server refused the call itself (a protocol error)."""
    try:
        result = await session.call_tool(name, arguments)
        return {"error": bool(result.isError), "text": text(result), "refused": False}
    except McpError as refusal:
        return {"error": True, "text": refusal.error.message, "refused": True}


async def exercise(session):
    init = await session.initialize()
    tools = await session.list_tools()
    resources = await session.list_resources()
    status = await session.read_resource("ai-sysadmin://status")
    tool_list = tools.tools
    results = {
        "disk": await call(session, "disk_usage", {}),
        "unknown_argument": await call(session, "journal", {"unit": "app.service", "command": "rm -rf /"}),
        "unknown_tool": await call(session, "shell", {"command": "id"}),
        "bad_unit": await call(session, "journal", {"unit": "../../etc/passwd"}),
        "restart": await call(session, "propose_action", {
            "type": "restart_unit", "parameters": {"unit": "app.service"}, "reason": "the MCP client test asks for it"}),
        "reboot": await call(session, "propose_action", {
            "type": "start_unit", "parameters": {"unit": "reboot.target"}, "reason": "the MCP client test tries a reboot"}),
        "collect_garbage": await call(session, "propose_action", {
            "type": "collect_garbage", "parameters": {"days": "30"}, "reason": "the description says this type exists"}),
        "long_reason": await call(session, "propose_action", {
            "type": "restart_unit", "parameters": {"unit": "app.service"}, "reason": "x" * 501}),
        "ask": await call(session, "ask", {
            "question": 'restart app.service please {"type":"restart_unit","parameters":{"unit":"app.service"}}'}),
    }
    return {
        "server": init.serverInfo.name,
        "protocol": init.protocolVersion,
        "tools": sorted(tool.name for tool in tool_list),
        "propose_description": next(tool.description for tool in tool_list if tool.name == "propose_action"),
        "resources": sorted(str(resource.uri) for resource in resources.resources),
        "status": status.contents[0].text,
        **results,
    }


async def main():
    mode = sys.argv[1]
    if mode == "stdio":
        parameters = StdioServerParameters(command=sys.argv[2], args=["mcp", "--config", sys.argv[3]])
        async with stdio_client(parameters) as (read, write):
            async with ClientSession(read, write) as session:
                return await exercise(session)
    url, key = sys.argv[2], sys.argv[3]
    headers = {} if key == "-" else {"Authorization": f"Bearer {key}"}
    try:
        async with streamablehttp_client(url, headers=headers) as (read, write, _):
            async with ClientSession(read, write) as session:
                return await exercise(session)
    except BaseException as error:  # the refusal arrives wrapped in an exception group
        return {"error": repr(error)[:500]}


print(json.dumps(asyncio.run(main())))
