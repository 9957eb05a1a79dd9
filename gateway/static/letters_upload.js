// One request per file, so each has its own progress bar and its own answer; then the
// OCR state of the stored ones is polled until every letter is read or has failed.
(function () {
  const form = document.getElementById("upload"), list = document.getElementById("progress");
  const T = JSON.parse(form.dataset.texts);
  const token = form.querySelector("[name=csrf_token]").value;
  const batch = Math.random().toString(36).slice(2, 12);
  function send(file, li) {
    return new Promise(function (resolve) {
      const bar = li.querySelector("progress"), note = li.querySelector("span");
      const data = new FormData();
      data.append("csrf_token", token); data.append("batch", batch); data.append("files", file);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = function (e) { if (e.lengthComputable) bar.value = e.loaded / e.total; };
      xhr.onload = function () {
        let answer = {};
        try { answer = JSON.parse(xhr.responseText); } catch (e) {}
        const r = (answer.results || [])[0];
        bar.value = 1;
        if (r && r.ok) { note.textContent = T.stored; li.dataset.id = r.id; resolve(r.id); }
        else { note.className = "bad"; note.textContent = T.refused + ": " + ((r && r.error) || answer.error || ("HTTP " + xhr.status)); resolve(null); }
      };
      xhr.onerror = function () { note.className = "bad"; note.textContent = T.failed; resolve(null); };
      xhr.send(data);
    });
  }
  function poll(ids) {
    if (!ids.length) return;
    fetch(form.dataset.statusUrl + "?ids=" + ids.join(","), {headers: {Accept: "application/json"}})
      .then(function (r) { return r.json(); }).then(function (answer) {
        const waiting = [];
        answer.letters.forEach(function (l) {
          const li = list.querySelector('[data-id="' + l.id + '"]'), note = li && li.querySelector("span");
          if (!note) return;
          if (l.state === "uploaded") { waiting.push(l.id); return; }
          if (l.state === "failed") { note.className = "bad"; note.textContent = T.unreadable + ": " + l.error; return; }
          note.innerHTML = "";
          const a = document.createElement("a"); a.href = l.review;
          a.textContent = T.read.replace("%PCT%", Math.round(l.confidence || 0)).replace("%LOW%", l.low_confidence ? T.low : "");
          note.appendChild(a);
        });
        if (waiting.length) setTimeout(function () { poll(waiting); }, 2000);
      }).catch(function () { setTimeout(function () { poll(ids); }, 5000); });
  }
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const files = Array.from(document.getElementById("files").files);
    list.innerHTML = "";
    const ids = [];
    for (const file of files) {
      const li = document.createElement("li");
      li.textContent = file.name + " ";
      li.appendChild(document.createElement("progress"));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(document.createElement("span"));
      list.appendChild(li);
    }
    const items = Array.from(list.children);
    for (let i = 0; i < files.length; i++) {
      const id = await send(files[i], items[i]);
      if (id) ids.push(id);
    }
    poll(ids);
  });
})();
