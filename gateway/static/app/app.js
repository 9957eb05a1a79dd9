// The citizens' app. It talks only to the JSON API (/api/v1); complaints written while
// offline are kept on the phone (localStorage) and sent when the connection returns, each
// with its own client_id, so a draft sent twice files one complaint.
(() => {
  "use strict";
  // The page hands over its settings in an attribute: the CSP allows no inline script.
  const C = JSON.parse(document.body.dataset.config), S = C.strings, API = "/api/v1";
  const t = (key) => S[key] || key;
  const view = document.getElementById("view");
  const net = document.getElementById("net");
  const signout = document.getElementById("signout");
  let polling = null;

  // --- small helpers ------------------------------------------------------------------------
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "text") el.textContent = v;
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids.flat()) if (kid !== null && kid !== undefined) el.append(kid);
    return el;
  }
  const token = () => localStorage.getItem("ik.token");
  const newId = () => Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
  const drafts = () => JSON.parse(localStorage.getItem("ik.drafts") || "[]");
  const saveDrafts = (list) => localStorage.setItem("ik.drafts", JSON.stringify(list));

  async function api(method, path, body) {
    const headers = {};
    if (token()) headers.Authorization = "Bearer " + token();
    let payload;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
    const sep = path.includes("?") ? "&" : "?";
    const response = await fetch(API + path + (method === "GET" ? sep + "lang=" + C.lang : ""),
      {method, headers, body: payload});  // throws when offline: the caller keeps the draft
    const data = response.headers.get("Content-Type")?.includes("json") ? await response.json() : null;
    if (response.status === 401 && token()) { localStorage.removeItem("ik.token"); render(); }
    return {status: response.status, data};
  }

  function showNet() {
    const waiting = drafts().length;
    net.hidden = navigator.onLine && !waiting;
    net.textContent = (navigator.onLine ? "" : t("ui_offline") + ". ") + (waiting ? t("ui_drafts") + ": " + waiting : "");
  }

  // --- signing in ---------------------------------------------------------------------------
  function signIn() {
    const channel = h("select", {id: "channel"}, ["sms", "whatsapp", "email"].map((c) => h("option", {value: c, text: c === "sms" ? "SMS" : c === "whatsapp" ? "WhatsApp" : "Email"})));
    const address = h("input", {id: "address", type: "tel", autocomplete: "tel", placeholder: "0300 1234567", required: true});
    channel.onchange = () => { address.type = channel.value === "email" ? "email" : "tel"; };
    const simulated = C.simulator ? h("label", {class: "inline"}, h("input", {type: "checkbox", id: "simulated"}), t("ui_simulated")) : null;
    const code = h("input", {id: "code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 6, class: "ltr"});
    const codeBox = h("div", {hidden: true}, h("label", {for: "code", text: t("ui_code")}), code,
      h("button", {class: "main", id: "verify", text: t("ui_verify"), onclick: verify}));
    const error = h("p", {class: "bad", role: "alert"});
    const who = () => ({channel: channel.value, address: address.value,
      simulated: Boolean(document.getElementById("simulated")?.checked)});
    async function send() {
      error.textContent = "";
      const r = await api("POST", "/auth/code", {...who(), language: C.lang}).catch(() => ({status: 0, data: {detail: t("ui_offline")}}));
      if (r.status === 202) { codeBox.hidden = false; code.focus(); } else error.textContent = t("ui_error") + " " + (r.data?.detail || r.status);
    }
    async function verify() {
      const r = await api("POST", "/auth/verify", {...who(), code: code.value.trim()}).catch(() => ({status: 0, data: {}}));
      if (r.status === 200) { localStorage.setItem("ik.token", r.data.token); flush(); render("new"); }
      else error.textContent = t("ui_error") + " " + (r.data?.detail || r.status);
    }
    view.replaceChildren(h("div", {class: "card"}, h("h1", {text: t("ui_sign_in")}), h("p", {class: "muted", text: t("ui_sign_in_help")}),
      h("label", {for: "channel", text: t("ui_send_by")}), channel, h("label", {for: "address", text: t("ui_address")}), address, simulated,
      h("button", {class: "main", id: "send-code", text: t("ui_send_code"), onclick: send}), codeBox, error));
  }

  // --- filing, with drafts kept offline -------------------------------------------------------
  async function districts() {
    let list = JSON.parse(localStorage.getItem("ik.districts") || "null");
    if (!list) {
      try { list = (await api("GET", "/districts")).data.items; localStorage.setItem("ik.districts", JSON.stringify(list)); }
      catch { list = []; }
    }
    return list;
  }

  async function resize(file) {  // a phone photo of several MB becomes ~150 KB before upload
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, 1280 / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale); canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL("image/jpeg", 0.8);
  }

  async function newComplaint() {
    const list = await districts();
    const state = {photo: null, voice: null, lat: null, lon: null};
    const district = h("select", {id: "district"}, h("option", {value: "", text: t("ui_choose")}),
      list.map((d) => h("option", {value: d.code, text: d.name[C.lang] || d.name.en})));
    const located = h("span", {class: "muted", id: "located"});
    const preview = h("img", {class: "preview", alt: "", hidden: true});
    const photo = h("input", {type: "file", id: "photo", accept: "image/*", capture: "environment"});
    photo.onchange = async () => {
      if (!photo.files[0]) return;
      state.photo = await resize(photo.files[0]);
      preview.src = state.photo; preview.hidden = false;
    };
    const locate = () => navigator.geolocation.getCurrentPosition((pos) => {
      state.lat = pos.coords.latitude; state.lon = pos.coords.longitude;
      located.textContent = t("ui_located") + " (" + state.lat.toFixed(4) + ", " + state.lon.toFixed(4) + ")";
      if (!district.value) {  // the nearest district headquarters, as a suggestion
        let best = null;
        for (const d of list) if (d.latitude != null) {
          const dist = (d.latitude - state.lat) ** 2 + (d.longitude - state.lon) ** 2;
          if (!best || dist < best[0]) best = [dist, d.code];
        }
        if (best) district.value = best[1];
      }
    }, (err) => { located.textContent = err.message; }, {enableHighAccuracy: true, timeout: 15000});
    const voiceNote = h("span", {class: "muted"});
    let recorder = null;
    const voice = h("button", {class: "alt", id: "voice", text: t("ui_voice"), onclick: async () => {
      if (recorder) { recorder.stop(); return; }  // a second tap ends the note
      const stream = await navigator.mediaDevices.getUserMedia({audio: true}).catch(() => null);
      if (!stream) return;
      const chunks = [];
      recorder = new MediaRecorder(stream);
      recorder.ondataavailable = (e) => chunks.push(e.data);
      recorder.onstop = () => {
        stream.getTracks().forEach((track) => track.stop());
        const reader = new FileReader();
        reader.onload = () => { state.voice = reader.result; voiceNote.textContent = t("ui_voice_ready"); };
        reader.readAsDataURL(new Blob(chunks, {type: recorder.mimeType.split(";")[0]}));
        recorder = null; voice.textContent = t("ui_voice");
      };
      recorder.start(); voice.textContent = t("ui_stop");
    }});
    const result = h("div", {id: "result", role: "status"});
    const submit = () => {
      const body = {client_id: newId(), description: document.getElementById("description").value,
        district: district.value || undefined, location_detail: document.getElementById("place").value || undefined,
        confidential: document.getElementById("confidential").checked, language: C.lang};
      if (state.lat !== null) { body.latitude = state.lat; body.longitude = state.lon; }
      saveDrafts([...drafts(), {body, photo: state.photo, voice: state.voice}]);
      result.replaceChildren(h("p", {text: navigator.onLine ? "…" : t("ui_saved_offline")}));
      flush(result);
    };
    view.replaceChildren(tabs("new"), h("div", {class: "card"},
      h("label", {for: "description", text: t("ui_description")}), h("textarea", {id: "description", required: true, maxlength: 4000}),
      h("label", {for: "district", text: t("ui_district")}), district,
      h("button", {class: "alt", id: "locate", text: t("ui_locate"), onclick: locate}), " ", located,
      h("label", {for: "place", text: t("ui_place")}), h("input", {id: "place", maxlength: 300}),
      h("label", {for: "photo", text: t("ui_photo")}), photo, preview,
      window.MediaRecorder ? h("p", {}, voice, " ", voiceNote) : null,
      h("label", {class: "inline"}, h("input", {type: "checkbox", id: "confidential"}), t("ui_confidential")),
      h("button", {class: "main", id: "submit", text: t("ui_submit"), onclick: submit}), result));
  }

  // A draft's photo or voice note, kept as a data: URL, back to a file; decoded here rather
  // than fetched, since the page's CSP lets it connect only to its own origin.
  function dataUrlBlob(url) {
    const comma = url.indexOf(",");
    const mime = url.slice(5, comma).split(";")[0];
    const bytes = Uint8Array.from(atob(url.slice(comma + 1)), (c) => c.charCodeAt(0));
    return new Blob([bytes], {type: mime});
  }

  let flushing = false;
  async function flush(result) {
    if (flushing || !token()) { showNet(); return; }
    flushing = true;
    try {
      for (const draft of drafts()) {
        if (!draft.tracking) {
          const r = await api("POST", "/me/complaints", draft.body);
          if (r.status !== 200 && r.status !== 201) {  // refused: say why, keep nothing to retry
            saveDrafts(drafts().filter((d) => d.body.client_id !== draft.body.client_id));
            result?.replaceChildren(h("p", {class: "bad", text: t("ui_error") + " " + (r.data?.detail || r.status)}));
            continue;
          }
          draft.tracking = r.data.tracking_number;
          saveDrafts(drafts().map((d) => d.body.client_id === draft.body.client_id ? draft : d));
        }
        for (const [key, name] of [["photo", "photo.jpg"], ["voice", "voice-note"]]) {
          if (!draft[key]) continue;
          const form = new FormData();
          form.append("file", dataUrlBlob(draft[key]), name);
          const sent = await api("POST", "/me/complaints/" + encodeURIComponent(draft.tracking) + "/attachments", form);
          if (sent.status < 500) {  // done (or refused for good): not sent again
            draft[key] = null;
            saveDrafts(drafts().map((d) => d.body.client_id === draft.body.client_id ? draft : d));
          }
        }
        saveDrafts(drafts().filter((d) => d.body.client_id !== draft.body.client_id));
        const shown = result || document.getElementById("result");
        shown?.replaceChildren(h("p", {}, t("ui_sent") + " ", h("span", {class: "num", id: "tracking", text: draft.tracking})));
      }
    } catch {
      // offline: the drafts stay and go out on the next "online" event
    } finally {
      flushing = false;
      showNet();
    }
  }

  // --- my complaints --------------------------------------------------------------------------
  async function mine() {
    const r = await api("GET", "/me/complaints?limit=50").catch(() => null);
    const items = r?.data?.items || [];
    view.replaceChildren(tabs("mine"), h("div", {class: "card"}, items.length ? h("ul", {class: "list", id: "complaints"},
      items.map((c) => h("li", {"data-number": c.tracking_number, onclick: () => detail(c.tracking_number)},
        h("span", {class: "num", text: c.tracking_number}), " — ", c.status, h("div", {class: "muted", text: c.description.slice(0, 90)}))))
      : h("p", {class: "muted", text: t("ui_none")})));
  }

  async function detail(number) {
    const r = await api("GET", "/me/complaints/" + encodeURIComponent(number)).catch(() => null);
    if (!r || r.status !== 200) return;
    const c = r.data;
    const timeline = h("ol", {class: "timeline", id: "timeline"}, c.timeline.map((e) => h("li", {},
      h("time", {text: e.at.slice(0, 16).replace("T", " ")}),
      e.type === "message" ? h("div", {class: "msg", text: e.text}) : h("div", {}, t("event_" + e.kind), e.text ? h("div", {class: "muted", text: e.text}) : null))));
    const info = h("textarea", {id: "info-text", maxlength: 4000});
    const sendInfo = async () => {
      if (!info.value.trim()) return;
      await api("POST", "/me/complaints/" + encodeURIComponent(number) + "/information", {client_id: newId(), text: info.value});
      detail(number);
    };
    let answer = null;
    if (c.awaiting_your_answer) {
      const reason = h("textarea", {id: "reason", maxlength: 4000});
      const reasonBox = h("div", {hidden: true}, h("label", {for: "reason", text: t("ui_reason")}), reason);
      const radio = (value, label) => h("label", {class: "inline"}, h("input", {type: "radio", name: "satisfied", value,
        onchange: () => { reasonBox.hidden = value === "yes"; }}), label);
      const rating = h("select", {id: "rating"}, [5, 4, 3, 2, 1].map((n) => h("option", {value: n, text: String(n)})));
      const send = async () => {
        const chosen = document.querySelector("input[name=satisfied]:checked");
        if (!chosen) return;
        const res = await api("POST", "/me/complaints/" + encodeURIComponent(number) + "/satisfaction", {client_id: newId(),
          satisfied: chosen.value === "yes", reason: reason.value.trim() || undefined, rating: Number(rating.value)});
        if (res.status === 200) detail(number); else alert(t("ui_error") + " " + (res.data?.detail || res.status));
      };
      answer = h("div", {class: "card", id: "satisfaction"}, h("p", {text: t("ui_question")}), radio("yes", t("ui_satisfied")), radio("no", t("ui_not_satisfied")),
        reasonBox, h("label", {for: "rating", text: t("ui_rating")}), rating, h("button", {class: "main", id: "answer", text: t("ui_send"), onclick: send}));
    }
    view.replaceChildren(tabs("mine"), h("div", {class: "card"},
      h("button", {class: "alt", text: t("ui_back"), onclick: mine}),
      h("h2", {class: "num", text: c.tracking_number}),
      h("p", {}, h("strong", {id: "state", "data-state": c.state, text: c.status})),
      c.due_at && !["resolved", "closed"].includes(c.state) ? h("p", {}, t("label_due") + ": ", h("span", {class: "num", text: c.due_at.slice(0, 10)})) : null,
      h("p", {text: c.description}), timeline), answer,
      c.state !== "closed" ? h("div", {class: "card"}, h("label", {for: "info-text", text: t("ui_add_info")}), info,
        h("button", {class: "alt", id: "info-send", text: t("ui_send"), onclick: sendInfo})) : null);
    clearInterval(polling);
    const seen = c.state + ":" + c.timeline.length;
    polling = setInterval(async () => {  // an officer's message shows up without a reload
      const again = await api("GET", "/me/complaints/" + encodeURIComponent(number)).catch(() => null);
      if (again?.status === 200 && again.data.state + ":" + again.data.timeline.length !== seen) detail(number);
    }, 4000);
  }

  function tabs(active) {
    clearInterval(polling);
    return h("nav", {class: "tabs"},
      h("button", {class: active === "new" ? "main" : "alt", id: "tab-new", text: t("ui_new"), onclick: () => render("new")}),
      h("button", {class: active === "mine" ? "main" : "alt", id: "tab-mine", text: t("ui_mine"), onclick: () => render("mine")}));
  }

  function render(tab) {
    signout.hidden = !token();
    signout.textContent = t("ui_sign_out");
    if (!token()) return signIn();
    return tab === "mine" ? mine() : newComplaint();
  }

  // The server ends the session too, so a copied token stops working; offline, the app
  // still forgets it (the token expires on its own).
  signout.onclick = () => {
    const headers = {Authorization: "Bearer " + token()};
    fetch(API + "/auth/signout", {method: "POST", headers}).catch(() => {});
    localStorage.removeItem("ik.token"); render();
  };
  window.addEventListener("online", () => flush());
  window.addEventListener("offline", showNet);
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/app/sw.js", {scope: "/app/"}).catch(() => {});
  render();
  flush();
})();
