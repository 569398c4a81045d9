// The library management page (/manage): uploads, the library tree, the trash and the jobs, over /api/admin.
// Builds every element with textContent (never HTML from data). Polls the jobs every second while one
// is queued or running, every 5 s otherwise.
"use strict";
// Behind a reverse proxy under a path the page's own script URL carries the prefix (the server rewrites
// src="/static/..." for it): every request below is made under the same prefix.
const PREFIX = new URL(document.currentScript.src).pathname.replace(/\/static\/manage\.js$/, "");
(function () {
  const root = document.getElementById("manage");
  const csrf = root.dataset.csrf;
  const TOKEN_KEY = "mcdewey-admin-token";
  const $ = (id) => document.getElementById(id);

  function headers() {
    const h = {};
    if (csrf) h["X-McDewey-CSRF"] = csrf;
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) h["Authorization"] = "Bearer " + token;
    return h;
  }

  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }

  function button(label, onclick, attrs) {
    const b = el("button", label, Object.assign({ type: "button" }, attrs || {}));
    b.addEventListener("click", onclick);
    return b;
  }

  async function call(method, url) {
    const response = await fetch(url, { method: method, headers: headers(), credentials: "same-origin" });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.detail || response.statusText);
    return body;
  }

  function say(text, isError) {
    const li = el("li", text, isError ? { class: "error", role: "alert" } : {});
    $("uploads").prepend(li);
  }

  async function act(method, url) {
    try { await call(method, url); } catch (e) { say(e.message, true); }
    refreshJobs();
  }

  // --- the library tree and the name pickers ---
  async function refreshTree() {
    const listing = await call("GET", PREFIX + "/api/library");
    const tree = $("tree");
    tree.replaceChildren();
    const names = { products: new Set(), versions: new Set(), docs: new Set() };
    for (const vendor of listing.vendors) {
      for (const product of vendor.products) {
        names.products.add(product.product);
        const p = el("li", null, { "data-path": product.product });
        p.append(el("strong", product.product), " (" + vendor.vendor + ") ",
          button("Remove " + product.product, () => act("DELETE", PREFIX + "/api/admin/library/" + product.product)));
        const versions = el("ul");
        for (const version of product.versions) {
          names.versions.add(version.version);
          const vpath = product.product + "/" + version.version;
          const v = el("li", null, { "data-path": vpath });
          v.append(el("span", version.version), " ", button("Remove " + vpath, () => act("DELETE", PREFIX + "/api/admin/library/" + vpath)));
          const docs = el("ul");
          for (const doc of version.documents) {
            names.docs.add(doc.doc);
            const dpath = vpath + "/" + doc.doc;
            const d = el("li", null, { "data-path": dpath });
            d.append(el("span", doc.title + " (" + doc.doc + ", " + doc.files + " files, " + doc.chunks + " chunks) "),
              button("Remove " + dpath, () => act("DELETE", PREFIX + "/api/admin/library/" + dpath)));
            docs.append(d);
          }
          v.append(docs);
          versions.append(v);
        }
        p.append(versions);
        tree.append(p);
      }
    }
    for (const [kind, values] of Object.entries(names)) {
      $(kind).replaceChildren(...[...values].sort().map((value) => el("option", null, { value: value })));
    }
  }

  async function refreshTrash() {
    const items = await call("GET", PREFIX + "/api/admin/trash");
    $("trash").replaceChildren(...items.map((item) => {
      const li = el("li", null, { "data-path": item.path });
      li.append(el("span", item.path + " (" + item.kind + ", " + item.reason + " " +
        new Date(item.removed_at * 1000).toLocaleString() + ") "),
        button("Restore " + item.path, () => act("POST", PREFIX + "/api/admin/trash/" + item.id + "/restore")));
      return li;
    }));
  }

  // --- jobs ---
  function describe(job) {
    const p = job.progress;
    if (job.state === "running" && p) {
      if (p.stage !== "embedding") return p.stage + " " + p.done + "/" + p.total;
      let text = "files " + p.done + "/" + p.total + ", chunks " + p.chunks_done + " (of " + p.chunks_known +
        " read), " + p.chunks_per_s + " chunks/s";
      if (p.eta_s !== null) text += ", ~" + Math.round(p.eta_s) + " s left";
      return text + (p.file ? ", reading " + p.file : "");
    }
    if (job.state === "done" && job.report) {
      const r = job.report;
      return "added " + r.added + ", updated " + r.updated + ", removed " + r.removed + ", skipped " +
        r.skipped + ", failed " + r.failed + (r.failures || []).map((f) => "; " + f.source + ": " + f.reason).join("");
    }
    return job.error || "";
  }

  let lastStates = "";
  let timer = null;
  async function refreshJobs() {
    clearTimeout(timer);
    let active = false;
    try {
      const jobs = await call("GET", PREFIX + "/api/admin/jobs");
      active = jobs.some((j) => j.state === "queued" || j.state === "running");
      $("jobs").replaceChildren(...jobs.slice(0, 30).map((job) => {
        const li = el("li", null, { "data-job": job.id, "data-state": job.state, class: "job-" + job.state });
        li.append(el("strong", job.kind + " " + job.what + ": "), el("span", job.state, { class: "state" }), " ",
          el("span", describe(job), { class: "detail" }));
        if (job.state === "queued" || job.state === "running") {
          li.append(" ", button("Cancel", () => act("POST", PREFIX + "/api/admin/jobs/" + job.id + "/cancel")));
        }
        return li;
      }));
      const states = jobs.map((j) => j.id + j.state).join();
      if (states !== lastStates) {
        lastStates = states;
        refreshTree().catch(() => {});
        refreshTrash().catch(() => {});
      }
    } finally {
      timer = setTimeout(refreshJobs, active ? 1000 : 5000);
    }
  }

  // --- uploads ---
  function upload(form) {
    const data = new FormData();
    for (const name of ["product", "version", "doc", "title", "vendor"]) data.append(name, form.elements[name].value);
    const files = $("files").files;
    if (!files.length) { say("Pick or drop at least one file.", true); return; }
    for (const file of files) data.append("file", file, file.name);
    const names = [...files].map((f) => f.name).join(", ");
    const li = el("li", null, { class: "upload" });
    const bar = el("progress", null, { max: "100", value: "0", "aria-label": "upload of " + names });
    const status = el("span", " uploading " + names, { class: "status" });
    li.append(bar, status);
    $("uploads").prepend(li);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", PREFIX + "/api/admin/uploads");
    for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); };
    xhr.onload = () => {
      const body = JSON.parse(xhr.responseText || "{}");
      if (xhr.status === 202) { bar.value = 100; status.textContent = " " + names + ": queued as a job"; }
      else { status.textContent = " " + names + ": " + (body.detail || xhr.statusText); li.className = "error"; }
      refreshJobs();
    };
    xhr.onerror = () => { status.textContent = " " + names + ": the upload failed (connection)"; li.className = "error"; };
    xhr.send(data);
    $("files").value = "";
  }

  $("upload-form").addEventListener("submit", (e) => { e.preventDefault(); upload(e.target); });
  $("reindex").addEventListener("click", () => act("POST", PREFIX + "/api/admin/reindex"));
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("over"); $("files").files = e.dataTransfer.files; });
  zone.addEventListener("keydown", (e) => {
    if ((e.key === "Enter" || e.key === " ") && e.target === zone) { e.preventDefault(); $("files").click(); }
  });
  const tokenForm = $("token-form");
  if (tokenForm) {
    tokenForm.addEventListener("submit", (e) => {
      e.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $("admin-token").value.trim());
      $("token-state").textContent = "kept for this tab";
    });
  }
  refreshJobs();
})();
