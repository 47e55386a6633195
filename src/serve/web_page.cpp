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
  details { margin: .4rem 0; }
  dl { display: grid; grid-template-columns: max-content auto; gap: .15rem 1rem; margin: .4rem 0; }
  dt { color: #555; }
  dd { margin: 0; }
</style>
</head>
<body>
<h1>qsenti</h1>
<p class="sub">Sentiment of Chinese social-media posts: one post per line.</p>
<div class="row">
  <label>Model <select id="model"></select></label>
  <span id="model-info" class="muted"></span>
</div>
<details id="info-box"><summary class="muted">Model info</summary><dl id="info"></dl></details>
<textarea id="texts" placeholder="今天天气真好&#10;太失望了"></textarea>
<div class="row">
  <button id="classify">Classify</button>
  <label class="muted">API key <input id="api-key" type="password" size="16" autocomplete="off"></label>
  <span id="status" class="muted"></span>
</div>
<div class="row">
  <label class="muted">Or a file (TSV text&lt;TAB&gt;label, CSV with a text/review column, JSON lines, plain text)
    <input id="file" type="file" accept=".tsv,.csv,.jsonl,.json,.txt"></label>
  <button id="classify-file">Classify file</button>
  <a id="download" hidden download="predictions.csv">Download predictions (CSV)</a>
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
    await loadInfo();
  } catch (e) {
    $("error").textContent = "cannot list the models: " + e.message;
  }
}

let info = null;
async function loadInfo() {
  info = await api("/info?model=" + encodeURIComponent($("model").value));
  $("model-info").textContent = "up to " + info.max_input_length + " tokens per text";
  const dl = $("info");
  dl.innerHTML = "";
  const labels = Object.keys(info.model_type.classifier.id2label).sort((a, b) => a - b)
                       .map((k) => info.model_type.classifier.id2label[k]);
  const rows = [["model", info.model_id], ["method", info.method], ["base model", info.base_model],
                ["labels", labels.join(", ")], ["dtype", info.model_dtype],
                ["max input length", info.max_input_length], ["max texts per request", info.max_client_batch_size],
                ["version", info.version]];
  for (const [k, v] of rows) {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = String(v); dd.dataset.key = k;
    dl.append(dt, dd);
  }
}

function cell(tr, content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.appendChild(content); else td.textContent = content;
  tr.appendChild(td);
  return td;
}

// The answers for any number of texts, in requests of the server's batch limit.
async function predictAll(texts, onProgress) {
  const per = Math.max(1, (info && info.max_client_batch_size) || 32);
  const out = [];
  for (let i = 0; i < texts.length; i += per) {
    const part = texts.slice(i, i + per);
    const answers = await api("/predict", { inputs: part.map((t) => [t]), model: $("model").value, truncate: true });
    out.push(...answers);
    if (onProgress) onProgress(out.length);
  }
  return out;
}

// RFC 4180 records: quoted fields may hold commas, newlines and doubled quotes.
function csvRecords(text) {
  const records = [];
  let rec = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { rec.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      rec.push(field); records.push(rec); rec = []; field = "";
    } else field += c;
  }
  if (field.length > 0 || rec.length > 0) { rec.push(field); records.push(rec); }
  return records.filter((r) => r.some((f) => f.trim().length > 0));
}

// The texts of an uploaded file, by its extension.
function fileTexts(name, text) {
  text = text.replace(/^\uFEFF/, "");
  const ext = name.toLowerCase().split(".").pop();
  if (ext === "csv") {
    const recs = csvRecords(text);
    if (recs.length === 0) return [];
    const head = recs[0].map((h) => h.trim().toLowerCase());
    const col = head.findIndex((h) => ["review", "text", "content", "sentence"].includes(h));
    return (col >= 0 ? recs.slice(1).map((r) => r[col] || "") : recs.map((r) => r[r.length - 1]));
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim().length > 0);
  if (ext === "jsonl" || ext === "json") return lines.map((l) => { const o = JSON.parse(l); return o.text || o.review || ""; });
  if (ext === "tsv") return lines.map((l) => l.split("\t")[0]);
  return lines;
}

function csvField(v) {
  const s = String(v);
  return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

async function classifyFile() {
  $("error").textContent = "";
  const f = $("file").files[0];
  if (!f) { $("error").textContent = "choose a file first"; return; }
  $("classify-file").disabled = true;
  $("download").hidden = true;
  const t0 = performance.now();
  try {
    const texts = fileTexts(f.name, await f.text()).map((t) => t.trim());
    if (texts.length === 0) throw new Error(f.name + ": no texts found");
    const answers = await predictAll(texts, (n) => { $("status").textContent = n + " / " + texts.length + " classified..."; });
    const labels = answers[0].map((s) => s.label).sort();
    const lines = [["text", "label", "probability", ...labels].map(csvField).join(",")];
    answers.forEach((scores, i) => {
      const by = Object.fromEntries(scores.map((s) => [s.label, s.score]));
      lines.push([texts[i], scores[0].label, scores[0].score, ...labels.map((l) => by[l])].map(csvField).join(","));
    });
    // A byte-order mark, so Excel reads the Chinese as UTF-8.
    const blob = new Blob(["\uFEFF" + lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
    const a = $("download");
    if (a.href) URL.revokeObjectURL(a.href);
    a.href = URL.createObjectURL(blob);
    a.download = f.name.replace(/\.[^.]*$/, "") + ".predictions.csv";
    a.hidden = false;
    showResults(texts.slice(0, 100), answers.slice(0, 100));
    $("status").textContent = texts.length + " classified in " + Math.round(performance.now() - t0) + " ms" +
                              (texts.length > 100 ? " (the first 100 shown)" : "");
  } catch (e) {
    $("error").textContent = e.message;
    $("status").textContent = "";
  } finally {
    $("classify-file").disabled = false;
  }
}

async function classify() {
  const texts = $("texts").value.split("\n").map((t) => t.trim()).filter((t) => t.length > 0);
  $("error").textContent = "";
  if (texts.length === 0) { $("error").textContent = "type at least one text"; return; }
  $("classify").disabled = true;
  $("status").textContent = "classifying " + texts.length + (texts.length === 1 ? " text" : " texts") + "...";
  const t0 = performance.now();
  try {
    showResults(texts, await predictAll(texts));
    $("status").textContent = texts.length + " classified in " + Math.round(performance.now() - t0) + " ms";
  } catch (e) {
    $("error").textContent = e.message;
    $("status").textContent = "";
  } finally {
    $("classify").disabled = false;
  }
}

function showResults(texts, answers) {
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
}

$("classify").addEventListener("click", classify);
$("classify-file").addEventListener("click", classifyFile);
$("model").addEventListener("change", () => loadInfo().catch((e) => { $("error").textContent = e.message; }));
$("texts").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) classify(); });
loadModels();
</script>
</body>
</html>
)HTML";
}

}  // namespace qsenti::serve
