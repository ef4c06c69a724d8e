// bakeoff's page: send a photo (file, paste, camera frame or drawing) to POST /v1/predict and draw
// every model's top classes side by side, with the preprocessed input each model saw. No libraries.
"use strict";

const $ = (id) => document.getElementById(id);
const CAMERA_EVERY_MS = 150; // at most ~6 frames a second; the next frame waits for the last answer
const CAMERA_SIDE = 320; // frames are scaled down before upload: preprocessing works at <= 128 px anyway

let models = [];
let busy = false;
let camera = null; // {stream, timer, frames, since}

async function loadModels() {
  const r = await fetch("/v1/models");
  const body = await r.json();
  models = body.models;
  const datasets = [...new Set(models.map((m) => m.dataset))].join(", ");
  $("summary").textContent = `${models.length} model${models.length === 1 ? "" : "s"} trained on ${datasets}`;
  $("results").replaceChildren(...models.map(emptyCard));
}

function emptyCard(m) {
  const card = document.createElement("article");
  card.className = "model-card";
  card.dataset.model = m.name;
  const acc = m.test_acc == null ? "" : `test acc ${(100 * m.test_acc).toFixed(2)}% · `;
  const params = m.params == null ? "" : `${m.params.toLocaleString()} params`;
  card.innerHTML = `<h2></h2><div class="meta"></div>
    <div class="body"><figure><img class="seen" alt="what the model saw"><figcaption>model input</figcaption></figure>
    <ol class="bars"></ol></div>`;
  card.querySelector("h2").textContent = m.name;
  card.querySelector(".meta").textContent = `${m.model} · ${acc}${params}`;
  card.querySelector("img").hidden = true;
  return card;
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function classify(blob, filename = "photo") {
  if (busy) return false;
  busy = true;
  try {
    const form = new FormData();
    form.append("file", blob, filename);
    const k = $("topk").value;
    const t0 = performance.now();
    const r = await fetch(`/v1/predict?top_k=${k}&include_input=true`, { method: "POST", body: form });
    const body = await r.json().catch(() => ({ detail: `HTTP ${r.status}` }));
    if (!r.ok) {
      setStatus(`${r.status}: ${body.detail}`, true);
      return false;
    }
    render(body);
    const ms = (performance.now() - t0).toFixed(0);
    setStatus(`${body.image.width}×${body.image.height} photo · preprocessing ${body.preprocess_ms.toFixed(2)} ms · round trip ${ms} ms`);
    return true;
  } catch (e) {
    setStatus(`request failed: ${e}`, true);
    return false;
  } finally {
    busy = false;
  }
}

function render(body) {
  for (const res of body.results) {
    const card = document.querySelector(`.model-card[data-model="${CSS.escape(res.model)}"]`);
    if (!card) continue;
    const meta = models.find((m) => m.name === res.model);
    const acc = meta && meta.test_acc != null ? `test acc ${(100 * meta.test_acc).toFixed(2)}% · ` : "";
    card.querySelector(".meta").textContent = `${meta ? meta.model : ""} · ${acc}${res.ms.toFixed(2)} ms`;
    const img = card.querySelector("img.seen");
    if (res.input) { img.src = res.input; img.hidden = false; }
    card.querySelector(".bars").replaceChildren(...res.top_k.map(bar));
  }
}

function bar({ label, prob }) {
  const li = document.createElement("li");
  li.className = "bar";
  li.innerHTML = `<span class="label"></span><span class="prob"></span><div class="track"><div class="fill"></div></div>`;
  li.querySelector(".label").textContent = label;
  li.querySelector(".prob").textContent = `${(100 * prob).toFixed(1)}%`;
  li.querySelector(".fill").style.width = `${(100 * prob).toFixed(1)}%`;
  return li;
}

// --- a file: picked, dropped or pasted ---------------------------------------------------------
function usePhoto(file) {
  if (!file) return;
  const preview = $("preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  classify(file, file.name || "photo");
}

$("file").addEventListener("change", (e) => usePhoto(e.target.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  usePhoto(e.dataTransfer.files[0]);
});
window.addEventListener("paste", (e) => {
  const item = [...e.clipboardData.items].find((i) => i.type.startsWith("image/"));
  if (item) usePhoto(item.getAsFile());
});

// --- the camera: live classification, one frame in flight at a time ----------------------------
async function toggleCamera() {
  if (camera) return stopCamera();
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return setStatus("this browser offers no camera here (getUserMedia needs https or localhost)", true);
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    const video = $("video");
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    camera = { stream, timer: null, frames: 0, since: performance.now() };
    $("camera").textContent = "stop camera";
    cameraLoop();
  } catch (e) {
    setStatus(`camera unavailable: ${e.message || e}`, true);
  }
}

function stopCamera() {
  clearTimeout(camera.timer);
  camera.stream.getTracks().forEach((t) => t.stop());
  camera = null;
  $("video").hidden = true;
  $("camera").textContent = "start camera";
  $("fps").textContent = "";
}

async function cameraLoop() {
  if (!camera) return;
  const video = $("video");
  const started = performance.now();
  if (video.videoWidth) {
    const scale = Math.min(1, CAMERA_SIDE / Math.max(video.videoWidth, video.videoHeight));
    const frame = document.createElement("canvas");
    frame.width = Math.round(video.videoWidth * scale);
    frame.height = Math.round(video.videoHeight * scale);
    frame.getContext("2d").drawImage(video, 0, 0, frame.width, frame.height);
    const blob = await new Promise((ok) => frame.toBlob(ok, "image/jpeg", 0.85));
    if (camera && blob && (await classify(blob, "frame.jpg"))) {
      camera.frames += 1;
      const seconds = (performance.now() - camera.since) / 1000;
      $("fps").textContent = `${(camera.frames / seconds).toFixed(1)} frames/s`;
    }
  }
  if (camera) camera.timer = setTimeout(cameraLoop, Math.max(0, CAMERA_EVERY_MS - (performance.now() - started)));
}

$("camera").addEventListener("click", toggleCamera);

// --- drawing: dark strokes on white, classified when the pen lifts ----------------------------
const canvas = $("draw");
const ctx = canvas.getContext("2d");
function clearCanvas() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
}
clearCanvas();
let drawing = false;
function point(e) {
  const r = canvas.getBoundingClientRect();
  return [(e.clientX - r.left) * (canvas.width / r.width), (e.clientY - r.top) * (canvas.height / r.height)];
}
canvas.addEventListener("pointerdown", (e) => {
  drawing = true;
  canvas.setPointerCapture(e.pointerId);
  ctx.lineWidth = 18;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.strokeStyle = "#111";
  ctx.beginPath();
  ctx.moveTo(...point(e));
});
canvas.addEventListener("pointermove", (e) => {
  if (!drawing) return;
  ctx.lineTo(...point(e));
  ctx.stroke();
});
canvas.addEventListener("pointerup", () => {
  drawing = false;
  canvas.toBlob((blob) => blob && classify(blob, "drawing.png"), "image/png");
});
$("clear").addEventListener("click", clearCanvas);

loadModels().catch((e) => setStatus(`cannot list models: ${e}`, true));
