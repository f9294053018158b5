// Import progress: poll the job and reload the page (with its report) when it ends.
(function () {
  "use strict";
  var el = document.getElementById("import-running");
  if (!el) { return; }
  var bar = document.getElementById("import-progress"), count = document.getElementById("import-count");
  var timer = setInterval(function () {
    fetch("/api/import/" + encodeURIComponent(el.dataset.job), {credentials: "same-origin"})
      .then(function (r) { return r.json(); }).then(function (s) {
        bar.max = s.total || 1; bar.value = s.done; count.textContent = s.done + "/" + s.total;
        if (s.state !== "running") { clearInterval(timer); window.location.reload(); }
      });
  }, 500);
})();
