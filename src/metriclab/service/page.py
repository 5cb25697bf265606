"""``GET /``: one HTML page (plain HTML + JavaScript, no build step) to try the service.

Drop an image on it (or pick one): it posts the image to ``/search`` and shows the decision (the
class, or ``unknown``, with the confidence and the calibrated threshold) and the top-k gallery
thumbnails (``/items/{id}/image``) with their class and similarity.
"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>metriclab search</title>
<style>
 body { font-family: sans-serif; margin: 24px; color: #222; }
 #drop { border: 2px dashed #888; border-radius: 8px; padding: 24px; text-align: center;
         max-width: 640px; }
 #drop.over { background: #eef; }
 #query { height: 96px; image-rendering: pixelated; margin-top: 8px; }
 #decision { margin: 16px 0; padding: 8px 12px; border-radius: 6px; max-width: 616px;
             font-weight: bold; color: white; }
 #decision.accepted { background: #28aa3c; } #decision.unknown { background: #e68c14; }
 #decision.failed { background: #b22; }
 #results { display: flex; flex-wrap: wrap; gap: 12px; }
 .match { border: 1px solid #ccc; border-radius: 6px; padding: 6px; width: 140px;
          font-size: 13px; text-align: center; }
 .match img { width: 128px; height: 128px; object-fit: contain; image-rendering: pixelated;
              background: #f4f4f4; }
</style></head>
<body>
<h1>metriclab: image search</h1>
<p id="status">checking the service...</p>
<div id="drop">
  <p>Drop an image here, or <input type="file" id="file" accept="image/*"></p>
  <label>k <input type="number" id="k" value="5" min="1" max="100" style="width:4em"></label>
  <div><img id="query" alt=""></div>
</div>
<div id="decision" hidden></div>
<div id="results"></div>
<script>
const $ = (id) => document.getElementById(id);
fetch("/health").then(r => r.json()).then(h => {
  $("status").textContent = `${h.items} gallery items, ${h.classes} classes, ${h.kind} index` +
    (h.classifier.threshold === null ? ", no calibrated threshold" :
     `, threshold ${h.classifier.threshold.toFixed(3)} (${h.classifier.classifier})`);
}).catch(() => { $("status").textContent = "the service does not answer /health"; });

async function search(file) {
  $("query").src = URL.createObjectURL(file);
  const form = new FormData();
  form.append("image", file);
  form.append("k", $("k").value);
  const answer = await fetch("/search", { method: "POST", body: form });
  const body = await answer.json();
  const box = $("decision");
  box.hidden = false;
  $("results").innerHTML = "";
  if (!answer.ok) { box.className = "failed"; box.textContent = body.error; return; }
  const { matches, decision } = body.results[0];
  box.className = decision.accepted ? "accepted" : "unknown";
  const thr = decision.threshold === null ? "none" : decision.threshold.toFixed(3);
  box.textContent = `${decision.class}  (confidence ${decision.confidence.toFixed(3)},` +
    ` threshold ${thr}, nearest class ${decision.nearest_class})`;
  for (const m of matches) {
    const card = document.createElement("div");
    card.className = "match";
    card.dataset.id = m.id;
    const img = document.createElement("img");
    img.src = `/items/${m.id}/image`;
    img.alt = m.class;
    const text = document.createElement("div");
    text.textContent = `${m.class} · ${m.similarity.toFixed(3)} · #${m.id}`;
    card.append(img, text);
    $("results").append(card);
  }
}
$("file").addEventListener("change", (e) => { if (e.target.files[0]) search(e.target.files[0]); });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault(); drop.classList.remove("over");
  if (e.dataTransfer.files[0]) search(e.dataTransfer.files[0]);
});
</script>
</body></html>
"""
