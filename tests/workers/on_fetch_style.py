"""Test Worker in the older style: a module-level on_fetch(request, env)."""

from workers import Response


async def on_fetch(request, env):
    image = await request.bytes()
    result = await env.AI.run("@cf/facebook/detr-resnet-50", {"image": list(image)})
    return Response.json(result)
