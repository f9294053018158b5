// Face capture page: refresh the preview, start the capture, poll its state.
(function () {
  "use strict";
  var root = document.getElementById("capture");
  if (!root) { return; }
  var ref = root.dataset.ref, csrf = root.dataset.csrf, texts = JSON.parse(root.dataset.texts);
  var img = document.getElementById("preview"), fb = document.getElementById("feedback");
  var out = document.getElementById("result"), btn = document.getElementById("capture-start");
  var timer = null;
  function refresh() { img.src = "/api/camera/frame.jpg?t=" + Date.now(); }
  img.addEventListener("load", function () { setTimeout(refresh, 300); });
  img.addEventListener("error", function () { setTimeout(refresh, 1500); });
  refresh();
  function show(state) {
    fb.textContent = state.challenge ? texts["challenge." + state.challenge] :
      (state.feedback_text || "") + " (" + state.good + "/" + state.needed + ")";
    if (state.state === "running") { return; }
    clearInterval(timer);
    btn.disabled = false;
    out.textContent = state.message || texts["state." + state.state] || state.state;
    out.className = state.state === "done" ? "flash" : "error";
    if (state.other_html_url) {
      var a = document.createElement("a");
      a.href = state.other_html_url; a.textContent = state.other_label; a.id = "duplicate-link";
      out.appendChild(document.createTextNode(" ")); out.appendChild(a);
    }
    root.dataset.state = state.state;
  }
  btn.addEventListener("click", function () {
    btn.disabled = true; out.textContent = ""; root.dataset.state = "running";
    fetch("/api/workers/" + encodeURIComponent(ref) + "/capture", {
      method: "POST", headers: {"X-CSRF-Token": csrf, "Content-Type": "application/json"}, body: "{}",
      credentials: "same-origin"
    }).then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); }).then(function (res) {
      if (!res[0]) { show({state: "failed", message: res[1].error, good: 0, needed: 0}); return; }
      timer = setInterval(function () {
        fetch("/api/captures/" + encodeURIComponent(res[1].job), {credentials: "same-origin"})
          .then(function (r) { return r.json(); }).then(show);
      }, 400);
    });
  });
})();
