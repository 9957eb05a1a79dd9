// The simulator page: every channel in a browser (gateway/blueprints/simulator.py).
(function () {
  const $ = (id) => document.getElementById(id);
  const thread = $("thread");
  let lastRender = "";
  function params() {
    return new URLSearchParams({ persona: $("persona").value, sender: $("sender").value });
  }
  function render(messages) {
    const key = JSON.stringify(messages.map((m) => [m.id, m.status]));
    if (key === lastRender) return;
    lastRender = key;
    thread.textContent = "";
    for (const m of messages) {
      const div = document.createElement("div");
      div.className = "bubble " + m.direction;
      div.dir = "auto";
      // Urdu and Pashto get their Nastaliq font; a message's language is what the engine saw.
      if (m.language === "ur" || m.language === "ps") div.lang = m.language;
      div.textContent = m.text || "(empty message)";
      const meta = document.createElement("span");
      meta.className = "meta status-" + m.status;
      meta.textContent = new Date(m.at).toLocaleTimeString() + " · " + m.status + (m.error ? " · " + m.error : "");
      div.appendChild(meta);
      thread.appendChild(div);
    }
    thread.scrollTop = thread.scrollHeight;
  }
  async function refresh() {
    if ($("persona").value === "voice") return;  // the call panel shows the call
    try {
      const res = await fetch("/simulator/thread?" + params());
      const body = await res.json();
      if (!res.ok) { $("error").textContent = body.error; return; }
      render(body.messages);
    } catch (e) { /* the next poll tries again */ }
  }
  async function post(extra) {
    $("error").textContent = "";
    const body = Object.assign({ persona: $("persona").value, sender: $("sender").value, text: "",
                   client_id: (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()) }, extra);
    const res = await fetch("/simulator/messages", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (!res.ok) { $("error").textContent = (await res.json()).error; return false; }
    refresh();
    return true;
  }
  $("send").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (await post({ text: $("text").value })) $("text").value = "";
  });
  $("sendpin").addEventListener("click", () => post({ latitude: $("lat").value, longitude: $("lon").value }));
  function showPin() {
    const phone = $("persona").value === "voice";
    $("pin").hidden = $("persona").value !== "whatsapp";
    $("phone").hidden = !phone;
    $("send").hidden = phone;
    if (phone) { thread.textContent = ""; lastRender = ""; }
  }

  // --- Phone (keypad): a simulated call through the phone line's dialogue ---------------
  let call = null;  // {id, step, seq, expects}
  let typed = "";
  function bubble(text, cls, lang) {
    const div = document.createElement("div");
    div.className = "bubble " + cls;
    div.dir = "auto";
    if (lang === "ur" || lang === "ps") div.lang = lang;
    div.textContent = text;
    thread.appendChild(div);
    thread.scrollTop = thread.scrollHeight;
  }
  function controls() {
    const expects = call && call.expects ? call.expects.kind : "nothing";
    for (const b of $("keypad").querySelectorAll("button")) b.disabled = expects !== "keys";
    $("silent").disabled = expects !== "keys";
    $("hangup").disabled = !call;
    $("dial").disabled = !!call;
    $("speak").hidden = expects !== "recording";
    $("keys-typed").textContent = typed;
  }
  function show(answer) {
    for (const reply of answer.replies) {
      for (const line of reply.said) bubble(line.text, "out", line.lang);
      if (reply.expects.kind === "recording") bubble("(beep: recording)", "out");
    }
    if (answer.complaint) $("filed").textContent = "This call filed complaint " + answer.complaint + ".";
    const last = answer.replies[answer.replies.length - 1];
    call = answer.ended ? null : { id: answer.call, step: last.step, seq: last.seq, expects: last.expects };
    if (answer.ended) bubble("(call ended)", "out");
    typed = "";
    controls();
  }
  async function callPost(path, extra) {
    $("error").textContent = "";
    const body = Object.assign({ sender: $("sender").value }, call ? { call: call.id, step: call.step, seq: call.seq } : {}, extra);
    const res = await fetch("/simulator/call/" + path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const answer = await res.json();
    if (!res.ok) { $("error").textContent = answer.error; return; }
    show(answer);
  }
  function sendKeys(keys) {
    bubble(keys ? "pressed " + keys : "(silence)", "in");
    return callPost("keys", { keys: keys });
  }
  $("dial").addEventListener("click", () => { thread.textContent = ""; $("filed").textContent = ""; callPost("start", {}); });
  $("keypad").addEventListener("click", (ev) => {
    const key = ev.target.dataset && ev.target.dataset.key;
    if (!key || !call || call.expects.kind !== "keys") return;
    typed += key;
    $("keys-typed").textContent = typed;
    // As <Gather>: the answer goes when enough keys are pressed, or on the finish key.
    if (key === call.expects.finish_on_key || (call.expects.digits && typed.length >= call.expects.digits)) sendKeys(typed);
  });
  $("silent").addEventListener("click", () => sendKeys(""));
  $("done-speaking").addEventListener("click", async () => {
    const text = $("complaint").value;
    bubble(text.trim() ? "(said) " + text : "(said nothing)", "in");
    await callPost("record", { text: text });
    $("complaint").value = "";
  });
  $("hangup").addEventListener("click", async () => {
    const text = call && call.expects.kind === "recording" ? $("complaint").value : "";
    bubble("(hung up)", "in");
    await callPost("hangup", { text: text });
    $("complaint").value = "";
  });
  controls();
  $("persona").addEventListener("change", showPin);
  showPin();
  $("text").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("send").requestSubmit(); }
  });
  for (const id of ["persona", "sender"]) $(id).addEventListener("change", () => { lastRender = ""; refresh(); });
  setInterval(refresh, 1000);
  refresh();
})();
