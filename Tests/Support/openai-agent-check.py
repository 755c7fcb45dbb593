#!/usr/bin/env python3
"""Conversations with the agent model through the gateway, with the official openai package.

usage: openai-agent-check.py BASE_URL API_KEY MODEL REQUESTS-JSON
REQUESTS-JSON is a list of {"messages": [...], "stream": bool, "max_tokens": N (optional)}. Prints one JSON
object: "models" (the ids /v1/models lists) and "replies", one per request, in order: {"content", "reasoning",
"finish_reason", "events"} where
"events" lists the streamed deltas in arrival order as ["reasoning"|"content", text]; or {"error", "status"} when
the request was refused.
"""
import json
import sys

import openai

base_url, api_key, model, requests = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=300)
result = {"models": [m.id for m in client.models.list().data], "replies": []}

for spec in requests:
    limits = {"max_tokens": spec["max_tokens"]} if "max_tokens" in spec else {}
    try:
        if spec.get("stream"):
            events, finish = [], None
            for chunk in client.chat.completions.create(model=model, messages=spec["messages"], stream=True, **limits):
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
                "finish_reason": finish, "events": events})
        else:
            choice = client.chat.completions.create(model=model, messages=spec["messages"], **limits).choices[0]
            message = choice.message
            result["replies"].append({"content": message.content or "", "finish_reason": choice.finish_reason,
                                      "reasoning": (message.model_extra or {}).get("reasoning_content") or "", "events": []})
    except openai.APIStatusError as error:
        result["replies"].append({"error": error.message, "status": error.status_code})
print(json.dumps(result))
