"""Example Worker: object detection with DETR through the AI binding.

GET  /  -> a small page to upload an image and see the boxes drawn
POST /  -> the image (raw bytes, or a multipart form field named "image") -> JSON detections

Written as a Cloudflare Python Worker: the same file runs on Cloudflare and under `workers-ai-emu dev`.
"""

from page import render_page
from workers import Response, WorkerEntrypoint

MODEL = "@cf/facebook/detr-resnet-50"
BUSY = {"3040": "1", "3036": "3600"}  # out of capacity: retry in a second; daily allocation: much later


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.method == "GET":
            title = getattr(self.env, "PAGE_TITLE", "Object detection")
            return Response(render_page(title, MODEL), headers={"content-type": "text/html; charset=utf-8"})
        if request.method != "POST":
            return Response("Use GET for the page or POST an image.", status=405, headers={"allow": "GET, POST"})

        image = await read_image(request)
        if not image:
            return Response.json({"error": "POST an image: raw bytes, or a form field named 'image'"}, status=400)
        try:
            detections = await self.env.AI.run(MODEL, {"image": list(image)})
        except Exception as e:  # the binding's errors read "<code>: <message>", e.g. "5006: AiError: Bad input: ..."
            code = str(e).split(":", 1)[0]
            if code in BUSY:  # Workers AI is busy or the day's allocation is used up: the client may retry later
                return Response.json({"error": str(e)}, status=503, headers={"retry-after": BUSY[code]})
            return Response.json({"error": str(e)}, status=400)
        return Response.json({"model": MODEL, "detections": detections})


async def read_image(request):
    """The uploaded image's bytes, from a multipart form or the raw request body."""
    content_type = request.headers.get("content-type") or ""
    if content_type.startswith("multipart/form-data"):
        form = await request.formData()
        upload = form.get("image")
        if upload is None or isinstance(upload, str):
            return b""
        return bytes(await upload.arrayBuffer())
    return bytes(await request.bytes())
