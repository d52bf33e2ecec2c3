"""The upload page: plain HTML and JavaScript, no CDN, so it works offline. The browser can record a voice note
(MediaRecorder, WebM/Opus) or send a file; the transcript and its word timings are shown."""

import html


def render_page(model):
    return PAGE.replace("{{model}}", html.escape(model))


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Transcribe a voice note</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 760px; margin: 32px auto; padding: 0 16px; color: #222; }
  h1 { font-size: 22px; margin-bottom: 4px; }
  .muted { color: #666; font-size: 13px; }
  button, input { font: inherit; margin: 12px 8px 12px 0; }
  #text { font-size: 18px; margin: 16px 0; white-space: pre-wrap; }
  .error { color: #b3261e; }
  table { border-collapse: collapse; font-size: 14px; }
  td, th { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: left; }
</style>
</head>
<body>
<h1>Transcribe a voice note</h1>
<div class="muted">Served by the example Worker; the recording goes to <code>env.AI.run("{{model}}")</code>.</div>
<input id="file" type="file" accept="audio/*">
<button id="record" type="button">Record</button>
<div id="status" class="muted"></div>
<div id="text"></div>
<table id="words"></table>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
async function send(blob) {
  $("status").textContent = "Transcribing…";
  $("status").className = "muted";
  const form = new FormData();
  form.append("audio", blob, "recording");
  const r = await fetch("/", { method: "POST", body: form });
  const body = await r.json();
  if (!r.ok) { $("status").textContent = body.error; $("status").className = "error"; return; }
  $("status").textContent = (body.word_count || 0) + " words · " + r.headers.get("x-emu-weights");
  $("text").textContent = body.text || "(nothing heard)";
  const rows = (body.words || []).map((w) =>
    "<tr><td>" + w.start.toFixed(2) + " s</td><td>" + w.end.toFixed(2) + " s</td><td></td></tr>");
  $("words").innerHTML = rows.join("");
  (body.words || []).forEach((w, i) => { $("words").rows[i].cells[2].textContent = w.word; });
}
$("file").addEventListener("change", () => { if ($("file").files[0]) send($("file").files[0]); });
let recorder = null;
$("record").addEventListener("click", async () => {
  if (recorder) { recorder.stop(); return; }
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const parts = [];
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (e) => parts.push(e.data);
  recorder.onstop = () => {
    stream.getTracks().forEach((t) => t.stop());
    recorder = null;
    $("record").textContent = "Record";
    send(new Blob(parts, { type: parts[0] ? parts[0].type : "audio/webm" }));
  };
  recorder.start();
  $("record").textContent = "Stop";
});
</script>
</body>
</html>
"""
