#!/usr/bin/env python3
"""Queues proposals on a daemon through its MCP server (`ai-sysadmin mcp --config CONFIG`), the official client:
a restart of app0.service … app{COUNT-1}.service each. MCP's proposals always wait for an operator.

usage: fleet_propose.py AI_SYSADMIN CONFIG COUNT   (with the test venv's Python: it has the `mcp` package)
"""
import asyncio
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main(binary, config, count):
    server = StdioServerParameters(command=binary, args=["mcp", "--config", config])
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        for index in range(count):
            result = await session.call_tool("propose_action", {
                "type": "restart_unit", "parameters": {"unit": f"app{index}.service"}, "reason": "the fleet benchmark"})
            if result.isError:
                raise SystemExit(f"propose_action failed: {result.content}")


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
