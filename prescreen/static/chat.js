/* prescreen chat: optional enhancement of plain HTML forms (everything works without it).
   Posts answers (and "Agree and start") with fetch, swaps in the next message without a
   reload, moves focus to it, announces it in an aria-live region, and lets number keys pick
   options. No inline script, no third-party code. */
(function () {
  "use strict";
  var doc = document;
  doc.documentElement.className += " js";
  var live = doc.createElement("div");
  live.className = "visually-hidden";
  live.setAttribute("aria-live", "polite");
  doc.body.appendChild(live);

  function reveal() {
    var hidden = doc.querySelectorAll("[data-copy][hidden], [data-print][hidden]");
    for (var i = 0; i < hidden.length; i++) hidden[i].hidden = false;
  }

  function announce(text) {
    live.textContent = "";
    setTimeout(function () { live.textContent = text; }, 50);
  }

  function absolute(path) {
    var a = doc.createElement("a");
    a.href = path;
    return a.href;
  }

  function swap(html, url, redirected) {
    var next = new DOMParser().parseFromString(html, "text/html");
    var main = next.getElementById("main");
    if (!main) { location.assign(url); return; }
    doc.getElementById("main").innerHTML = main.innerHTML;
    var lang = next.querySelector(".site-lang"), here = doc.querySelector(".site-lang");
    if (lang && here) here.innerHTML = lang.innerHTML;
    doc.title = next.title;
    if (redirected && url !== location.href) history.pushState(null, "", url);
    settle();
  }

  function settle() {
    reveal();
    var target = doc.querySelector("[data-focus]") || doc.getElementById("main");
    target.focus();
    var text = target.querySelector("#q-text, h1");
    announce((text || target).textContent.replace(/\s+/g, " ").trim());
  }

  // A step update (templates/public/step.html): add the newest answer to the list, move the
  // "change" buttons' step on, and put the next question where the last one was. After the
  // first answer there is no list yet: the update brings it, with its "change" form.
  function advance(html) {
    var box = new DOMParser().parseFromString(html, "text/html").getElementById("step-update");
    var list = doc.querySelector("#main ol.chat"), ask = doc.querySelector("#main form.ask");
    var step = doc.querySelector("#change-answer input[name=step]");
    if (!box || !ask) return false;
    if (!list) {
      var whole = box.querySelectorAll("#change-answer, ol.chat");
      if (whole.length !== 2) return false;
      for (var w = 0; w < whole.length; w++) ask.parentNode.insertBefore(doc.importNode(whole[w], true), ask);
    } else {
      if (!step) return false;
      var pairs = box.querySelectorAll("ol.chat > li");
      for (var i = 0; i < pairs.length; i++) list.appendChild(doc.importNode(pairs[i], true));
      step.value = box.getAttribute("data-step");
    }
    var stale = doc.querySelectorAll("#main form.ask, #main .progress");
    var fresh = box.querySelectorAll("form.ask, .progress");
    for (var j = 0; j < fresh.length; j++) ask.parentNode.insertBefore(doc.importNode(fresh[j], true), ask);
    for (var k = 0; k < stale.length; k++) stale[k].parentNode.removeChild(stale[k]);
    settle();
    return true;
  }

  doc.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-chat") && !form.classList.contains("change")) return;
    if (!window.fetch || !window.DOMParser) return;
    event.preventDefault();
    if (form.getAttribute("data-busy")) return;  // a double tap sends once
    form.setAttribute("data-busy", "1");
    var data = new FormData(form);
    var submitter = event.submitter;
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    // The header lets the server answer with the next question itself (one round trip, not two).
    fetch(form.action, { method: "POST", body: data, credentials: "same-origin", headers: { "X-Prescreen-Chat": "1" } })
      .then(function (response) {
        // Errors (a wrong answer, 429, 500 with its incident id) are pages too: show them in place.
        var moved = response.headers.get("X-Prescreen-Location");
        var step = response.headers.get("X-Prescreen-Fragment") === "step";
        return response.text().then(function (html) {
          if (step) { if (!advance(html)) location.assign(absolute(moved)); }
          else if (moved) swap(html, absolute(moved), true);
          else swap(html, response.url, response.redirected);
        });
      })
      .catch(function () { form.removeAttribute("data-busy"); form.submit(); });
  });

  doc.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var t = event.target, tag = t && t.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && t.type !== "checkbox" && t.type !== "radio")) return;
    if (!/^[1-9]$/.test(event.key)) return;
    var option = doc.querySelectorAll("[data-option]")[Number(event.key) - 1];
    if (!option) return;
    event.preventDefault();
    option.focus();
    if (option.type === "checkbox") option.checked = !option.checked; else option.click();
  });

  doc.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy], [data-print]");
    if (!button) return;
    if (button.hasAttribute("data-print")) { window.print(); return; }
    var field = doc.getElementById(button.getAttribute("data-copy"));
    field.select();
    var done = function () { announce(button.getAttribute("data-copied")); };
    if (navigator.clipboard) navigator.clipboard.writeText(field.value).then(done, function () {});
    else if (doc.execCommand("copy")) done();
  });

  window.addEventListener("popstate", function () { location.reload(); });
  reveal();
})();
