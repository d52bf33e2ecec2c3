"""Test Worker that returns a dict instead of a Response."""


async def on_fetch(request, env, ctx):
    return {"not": "a response"}
