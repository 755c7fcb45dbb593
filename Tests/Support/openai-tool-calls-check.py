#!/usr/bin/env python3
"""Tool calling through the gateway with the official openai package, against an upstream that calls tools.

usage: openai-tool-calls-check.py BASE_URL API_KEY MODEL
Prints one JSON object: the tool call assembled from streamed deltas, the usage the stream reported, the
non-streamed tool call, and the answer to a follow-up that carries the call and its result back.
"""
import json
import sys

import openai

base_url, api_key, model = sys.argv[1:4]
client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)
tools = [{"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
question = [{"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]}]
result = {}

calls = {}
usage = None
for chunk in client.chat.completions.create(model=model, messages=question, tools=tools, tool_choice="auto",
                                            parallel_tool_calls=False, stream=True,
                                            stream_options={"include_usage": True}):
    if chunk.usage:
        usage = chunk.usage.completion_tokens
    for choice in chunk.choices:
        for delta in choice.delta.tool_calls or []:
            call = calls.setdefault(delta.index, {"id": None, "name": "", "arguments": ""})
            call["id"] = delta.id or call["id"]
            if delta.function and delta.function.name:
                call["name"] += delta.function.name
            if delta.function and delta.function.arguments:
                call["arguments"] += delta.function.arguments
result["streamed_calls"] = list(calls.values())
result["streamed_usage"] = usage

message = client.chat.completions.create(model=model, messages=question, tools=tools).choices[0].message
result["content"] = message.content
result["calls"] = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments} for c in message.tool_calls]

follow_up = question + [
    {"role": "assistant", "content": None, "tool_calls": [c.model_dump() for c in message.tool_calls]},
    {"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": "18 °C, cloudy"},
]
answer = client.chat.completions.create(model=model, messages=follow_up, tools=tools)
result["follow_up_finish_reason"] = answer.choices[0].finish_reason
print(json.dumps(result))
