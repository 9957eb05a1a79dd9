// Zoom: buttons or a click on the scan (Shift+click zooms out); the viewport scrolls.
(function () {
  const view = document.getElementById("viewport"), label = document.getElementById("zoomlevel");
  let scale = 1;
  function apply() {
    view.querySelectorAll("img").forEach(function (img) { img.style.width = (scale * 100) + "%"; });
    label.textContent = Math.round(scale * 100) + "%";
  }
  document.querySelectorAll("[data-zoom]").forEach(function (b) {
    b.addEventListener("click", function () {
      const step = +b.dataset.zoom;
      scale = step === 0 ? 1 : Math.min(5, Math.max(0.5, scale * (step > 0 ? 1.25 : 0.8)));
      apply();
    });
  });
  view.addEventListener("click", function (e) {
    if (e.target.tagName !== "IMG") return;
    const rect = e.target.getBoundingClientRect(), fx = (e.clientX - rect.left) / rect.width, fy = (e.clientY - rect.top) / rect.height;
    scale = Math.min(5, Math.max(0.5, scale * (e.shiftKey ? 0.8 : 1.25)));
    apply();
    view.scrollLeft = fx * e.target.clientWidth - view.clientWidth / 2;
    view.scrollTop = e.target.offsetTop + fy * e.target.clientHeight - view.clientHeight / 2;
  });
})();
