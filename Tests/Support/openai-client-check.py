#!/usr/bin/env python3
"""Talks to the gateway with the official openai package, as Open WebUI and most tools do.

usage: openai-client-check.py BASE_URL API_KEY MODEL
Prints one JSON object: the non-streamed answer, the streamed pieces, the model list, and the error a bad
model id produces.
"""
import json
import sys

import openai

base_url, api_key, model = sys.argv[1:4]
client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=60)
result = {}
result["models"] = [m.id for m in client.models.list().data]
completion = client.chat.completions.create(
    model=model, messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}],
    max_tokens=8)
result["content"] = completion.choices[0].message.content
pieces = []
for chunk in client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Count to three."}],
                                            max_tokens=8, stream=True):
    if chunk.choices and chunk.choices[0].delta.content:
        pieces.append(chunk.choices[0].delta.content)
result["streamed"] = pieces
try:
    client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
except openai.NotFoundError as error:
    result["not_found"] = {"status": error.status_code, "code": error.code}
print(json.dumps(result))
