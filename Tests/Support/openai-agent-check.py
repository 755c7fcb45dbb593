#!/usr/bin/env python3
"""Conversations with the agent model through the gateway, with the official openai package.

usage: openai-agent-check.py BASE_URL API_KEY MODEL REQUESTS-JSON
REQUESTS-JSON is a list of {"messages": [...], "stream": bool, "max_tokens": N (optional), "extra": {...}
(optional: more request fields as a client sends them, e.g. tools, tool_choice, response_format,
stream_options)}. Prints one JSON object: "models" (the ids /v1/models lists) and "replies", one per request, in
order: {"content", "reasoning", "finish_reason", "events", "usage"} where "events" lists the streamed deltas in
arrival order as ["reasoning"|"content", text] and "usage" is the reply's usage object (the last chunk's, for a
stream) or null; or {"error", "status", "code"} when the request was refused.
"""
import json
import sys

import openai

base_url, api_key, model, requests = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=300)
result = {"models": [m.id for m in client.models.list().data], "replies": []}


def usage_of(usage):
    return None if usage is None else {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                                       "total_tokens": usage.total_tokens}


for spec in requests:
    options = dict(spec.get("extra", {}))
    if "max_tokens" in spec:
        options["max_tokens"] = spec["max_tokens"]
    try:
        if spec.get("stream"):
            events, finish, usage = [], None, None
            for chunk in client.chat.completions.create(model=model, messages=spec["messages"], stream=True, **options):
                usage = usage_of(chunk.usage) or usage
                for choice in chunk.choices:
                    finish = choice.finish_reason or finish
                    extra = choice.delta.model_extra or {}
                    if extra.get("reasoning_content"):
                        events.append(["reasoning", extra["reasoning_content"]])
                    if choice.delta.content:
                        events.append(["content", choice.delta.content])
            result["replies"].append({
                "content": "".join(text for kind, text in events if kind == "content"),
                "reasoning": "".join(text for kind, text in events if kind == "reasoning"),
                "finish_reason": finish, "events": events, "usage": usage})
        else:
            completion = client.chat.completions.create(model=model, messages=spec["messages"], **options)
            choice = completion.choices[0]
            message = choice.message
            result["replies"].append({"content": message.content or "", "finish_reason": choice.finish_reason,
                                      "reasoning": (message.model_extra or {}).get("reasoning_content") or "", "events": [],
                                      "usage": usage_of(completion.usage)})
    except openai.APIStatusError as error:
        result["replies"].append({"error": error.message, "status": error.status_code, "code": error.code})
print(json.dumps(result))
