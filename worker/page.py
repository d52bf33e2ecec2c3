"""The upload page: plain HTML, CSS and JavaScript, no CDN, so it works offline."""

import html


def render_page(title, model):
    return PAGE.replace("{{title}}", html.escape(title)).replace("{{model}}", html.escape(model))


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 900px; margin: 32px auto; padding: 0 16px; color: #222; }
  h1 { font-size: 22px; margin-bottom: 4px; }
  .muted { color: #666; font-size: 13px; }
  #drop { display: block; border: 2px dashed #aaa; border-radius: 8px; padding: 24px; text-align: center; margin: 16px 0;
          cursor: pointer; }
  #drop.over { border-color: #f38020; background: #fff7f0; }
  canvas { max-width: 100%; border-radius: 6px; display: none; }
  #status { margin: 8px 0; min-height: 1.5em; }
  .error { color: #b3261e; }
  table { border-collapse: collapse; margin-top: 12px; font-size: 14px; }
  td, th { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }
</style>
</head>
<body>
<h1>{{title}}</h1>
<div class="muted">This page is served by the example Worker; the image goes to <code>env.AI.run("{{model}}")</code>.</div>
<label id="drop">Drop an image here, or click to choose one
  <input id="file" type="file" accept="image/*" hidden>
</label>
<div id="status"></div>
<canvas id="canvas"></canvas>
<table id="table"></table>
<script>
const fileInput = document.getElementById("file");
const drop = document.getElementById("drop");
const statusBox = document.getElementById("status");
const canvas = document.getElementById("canvas");
const table = document.getElementById("table");
const colors = ["#f38020", "#1a73e8", "#188038", "#d93025", "#9334e6", "#e37400", "#12b5cb"];

fileInput.addEventListener("change", () => fileInput.files[0] && detect(fileInput.files[0]));
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault(); drop.classList.remove("over");
  if (e.dataTransfer.files[0]) detect(e.dataTransfer.files[0]);
});

async function detect(file) {
  statusBox.className = ""; statusBox.textContent = "Detecting…"; table.innerHTML = "";
  const started = performance.now();
  const response = await fetch(location.pathname, { method: "POST", body: file,
                                                     headers: { "content-type": file.type || "application/octet-stream" } });
  const text = await response.text();
  let data;
  try { data = JSON.parse(text); } catch (e) { data = { error: text }; }
  if (!response.ok || data.error) {
    statusBox.className = "error"; statusBox.textContent = data.error || ("HTTP " + response.status);
    return;
  }
  const ms = Math.round(performance.now() - started);
  statusBox.textContent = data.detections.length + " objects · " + ms + " ms";
  draw(file, data.detections);
}

function draw(file, detections) {
  const img = new Image();
  img.onload = () => {
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight; canvas.style.display = "block";
    const g = canvas.getContext("2d");
    g.drawImage(img, 0, 0);
    const line = Math.max(2, Math.round(canvas.width / 300));
    g.lineWidth = line; g.font = (12 + line * 3) + "px system-ui, sans-serif"; g.textBaseline = "top";
    detections.forEach((d, i) => {
      const c = colors[i % colors.length], b = d.box;
      g.strokeStyle = c; g.strokeRect(b.xmin, b.ymin, b.xmax - b.xmin, b.ymax - b.ymin);
      const label = d.label + " " + (d.score * 100).toFixed(0) + "%";
      const w = g.measureText(label).width + 8, h = 14 + line * 3;
      g.fillStyle = c; g.fillRect(b.xmin, Math.max(0, b.ymin - h), w, h);
      g.fillStyle = "#fff"; g.fillText(label, b.xmin + 4, Math.max(0, b.ymin - h) + 1);
      const row = table.insertRow();
      row.innerHTML = "<td style='color:" + c + "'>■</td><td></td><td></td><td></td>";
      row.cells[1].textContent = d.label;
      row.cells[2].textContent = d.score.toFixed(3);
      row.cells[3].textContent = [b.xmin, b.ymin, b.xmax, b.ymax].join(", ");
    });
    URL.revokeObjectURL(img.src);
  };
  img.src = URL.createObjectURL(file);
}
</script>
</body>
</html>
"""
