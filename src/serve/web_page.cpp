#include "serve/web_page.h"

namespace qsenti::serve {

const char* web_page_html() {
  // Element ids are what the browser test (tests/interop/check_web_page.py) drives.
  return R"HTML(<!doctype html>
<html lang="zh">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>qsenti</title>
<style>
  body { font-family: system-ui, "Noto Sans CJK SC", "PingFang SC", sans-serif; margin: 2rem auto; max-width: 52rem; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; }
  .sub { color: #666; margin-top: 0; }
  textarea { width: 100%; min-height: 8rem; font-size: 1rem; box-sizing: border-box; padding: .5rem; }
  .row { display: flex; gap: .8rem; align-items: center; flex-wrap: wrap; margin: .6rem 0; }
  button { font-size: 1rem; padding: .4rem 1.2rem; cursor: pointer; }
  table { border-collapse: collapse; width: 100%; margin-top: 1rem; }
  th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
  .bar { background: #e9eef6; height: .9rem; border-radius: 3px; min-width: 8rem; position: relative; }
  .fill { background: #4a7bd0; height: 100%; border-radius: 3px; }
  .prob { font-variant-numeric: tabular-nums; white-space: nowrap; }
  .error { color: #b00020; white-space: pre-wrap; }
  .muted { color: #777; font-size: .9rem; }
</style>
</head>
<body>
<h1>qsenti</h1>
<p class="sub">Sentiment of Chinese social-media posts: one post per line.</p>
<div class="row">
  <label>Model <select id="model"></select></label>
  <span id="model-info" class="muted"></span>
</div>
<textarea id="texts" placeholder="今天天气真好&#10;太失望了"></textarea>
<div class="row">
  <button id="classify">Classify</button>
  <label class="muted">API key <input id="api-key" type="password" size="16" autocomplete="off"></label>
  <span id="status" class="muted"></span>
</div>
<div id="error" class="error"></div>
<table id="results" hidden>
  <thead><tr><th>#</th><th>Text</th><th>Label</th><th>Probabilities</th></tr></thead>
  <tbody></tbody>
</table>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const keyInput = $("api-key");
keyInput.value = localStorage.getItem("qsenti-api-key") || "";
keyInput.addEventListener("change", () => { localStorage.setItem("qsenti-api-key", keyInput.value); loadModels(); });

function headers() {
  const h = { "Content-Type": "application/json" };
  if (keyInput.value) h["Authorization"] = "Bearer " + keyInput.value;
  return h;
}

async function api(path, body) {
  const res = await fetch(path, body === undefined ? { headers: headers() }
                                                   : { method: "POST", headers: headers(), body: JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  try { data = JSON.parse(text); } catch (e) { /* not JSON */ }
  if (!res.ok) throw new Error((data && data.error) ? data.error + " (" + res.status + ")" : res.status + " " + text);
  return data;
}

async function loadModels() {
  $("error").textContent = "";
  try {
    const list = await api("/v1/models");
    const select = $("model");
    select.innerHTML = "";
    for (const m of list.data) {
      const o = document.createElement("option");
      o.value = m.id;
      o.textContent = m.id + " (" + m.method + ": " + m.labels.join(" / ") + ")";
      select.appendChild(o);
    }
    const info = await api("/info");
    $("model-info").textContent = "up to " + info.max_input_length + " tokens per text";
  } catch (e) {
    $("error").textContent = "cannot list the models: " + e.message;
  }
}

function cell(tr, content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.appendChild(content); else td.textContent = content;
  tr.appendChild(td);
  return td;
}

async function classify() {
  const texts = $("texts").value.split("\n").map((t) => t.trim()).filter((t) => t.length > 0);
  $("error").textContent = "";
  if (texts.length === 0) { $("error").textContent = "type at least one text"; return; }
  $("classify").disabled = true;
  $("status").textContent = "classifying " + texts.length + (texts.length === 1 ? " text" : " texts") + "...";
  const t0 = performance.now();
  try {
    const answers = await api("/predict", { inputs: texts.map((t) => [t]), model: $("model").value, truncate: true });
    const body = $("results").querySelector("tbody");
    body.innerHTML = "";
    answers.forEach((scores, i) => {
      const tr = document.createElement("tr");
      tr.className = "result";
      cell(tr, String(i + 1));
      cell(tr, texts[i]).className = "text";
      const top = cell(tr, scores[0].label);
      top.className = "label";
      const probs = document.createElement("div");
      for (const s of scores) {
        const line = document.createElement("div");
        line.className = "row";
        line.style.margin = "0";
        const name = document.createElement("span");
        name.textContent = s.label;
        name.style.minWidth = "5rem";
        const bar = document.createElement("div");
        bar.className = "bar";
        const fill = document.createElement("div");
        fill.className = "fill";
        fill.style.width = (100 * s.score).toFixed(1) + "%";
        bar.appendChild(fill);
        const p = document.createElement("span");
        p.className = "prob";
        p.dataset.label = s.label;
        p.dataset.score = String(s.score);
        p.textContent = s.score.toFixed(4);
        line.append(name, bar, p);
        probs.appendChild(line);
      }
      cell(tr, probs);
      body.appendChild(tr);
    });
    $("results").hidden = false;
    $("status").textContent = texts.length + " classified in " + Math.round(performance.now() - t0) + " ms";
  } catch (e) {
    $("error").textContent = e.message;
    $("status").textContent = "";
  } finally {
    $("classify").disabled = false;
  }
}

$("classify").addEventListener("click", classify);
$("texts").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) classify(); });
loadModels();
</script>
</body>
</html>
)HTML";
}

}  // namespace qsenti::serve
