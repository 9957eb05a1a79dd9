(function () {
  const target = document.getElementById("live");
  const settings = document.getElementById("live-settings");
  const dot = document.getElementById("live-dot");
  if (!target || !settings || !window.EventSource) return;
  let busy = false, again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const url = new URL(window.location.href);
      url.searchParams.set("partial", "1");
      const res = await fetch(url, { credentials: "same-origin" });
      if (res.ok) { target.innerHTML = await res.text(); reloadOnNewState(); }
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }
  // A case page offers only the actions its state allows: when the state changed, load
  // the page again for the right ones (not while the officer has a draft in a form).
  function reloadOnNewState() {
    const actions = document.getElementById("actions");
    const state = document.getElementById("case-state");
    if (!actions || !state || actions.dataset.state === state.dataset.state) return;
    const drafting = Array.from(actions.querySelectorAll("textarea, input[type=text]"))
      .some(function (field) { return field.value.trim() !== ""; });
    if (!drafting) window.location.reload();
  }
  const streamUrl = new URL(settings.dataset.stream, window.location.href);
  if (settings.dataset.since) streamUrl.searchParams.set("since", settings.dataset.since);
  const source = new EventSource(streamUrl);
  source.addEventListener("ready", function () { if (dot) dot.classList.add("on"); });
  source.addEventListener("busy", function () { if (dot) dot.classList.remove("on"); });
  source.addEventListener("changed", refresh);
  source.onerror = function () { if (dot) dot.classList.remove("on"); };
})();
