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

  // WeChat's browser blocks printing (the server leaves the button out there; this is the fallback).
  var wechat = /MicroMessenger/i.test(navigator.userAgent);

  function reveal() {
    var hidden = doc.querySelectorAll(wechat ? "[data-copy][hidden]" : "[data-copy][hidden], [data-print][hidden]");
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
    if (!remember(url) && redirected && url !== location.href) history.pushState(null, "", url);
    settle();
  }

  function settle() {
    reveal();
    var target = doc.querySelector("[data-focus]") || doc.getElementById("main");
    target.focus({ preventScroll: true });
    toTop(target);
    var text = target.querySelector("#q-text, h1"), note = doc.getElementById("stale");
    announce(((note ? note.textContent + " " : "") + (text || target).textContent).replace(/\s+/g, " ").trim());
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
    remember(location.href);
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

  // The question in view: the new question (or the told-early notice above it) at the top of
  // the screen after every step, its first options below it; no animation if the phone asks
  // for reduced motion. Without JavaScript the same element has "autofocus".
  function toTop(target) {
    var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    var top = target.getBoundingClientRect().top + window.pageYOffset - 8;
    window.scrollTo({ top: Math.max(0, top), behavior: still ? "auto" : "smooth" });
  }

  // Back that never loses answers: one history entry per question shown. Each entry remembers
  // its question; Back to an entry asks the server to show that question again ("change" it,
  // the later answers kept), Back past the first question goes to the page before (the consent
  // page, which then offers to continue). ``restoring`` is set while Back is being shown, so it
  // replaces its entry instead of adding one.
  var restoring = false;

  function shownQuestion() {
    var q = doc.querySelector("#main form.ask input[name=q]");
    return q ? q.value : null;
  }

  // Record the question now shown; true when it did (a chat page), false for any other page.
  function remember(url) {
    var q = shownQuestion();
    if (q === null) return false;
    var state = { chat: 1, q: q }, now = history.state;
    if (restoring || (now && now.chat && now.q === q && url === location.href)) history.replaceState(state, "", url);
    else history.pushState(state, "", url);
    return true;
  }

  function stepBack(event) {
    var state = event.state, form = doc.querySelector("#main form.change");
    var token = form && form.querySelector("input[name=csrf_token]");
    var step = form && form.querySelector("input[name=step]");
    if (!state || !state.chat || !token || !step || !window.fetch || !window.DOMParser) { location.reload(); return; }
    var data = new FormData();
    data.append("csrf_token", token.value);
    data.append("step", step.value);
    data.append("q", state.q || "");
    var url = location.href;
    fetch(form.action, { method: "POST", body: data, credentials: "same-origin", headers: { "X-Prescreen-Chat": "1" } })
      .then(function (response) {
        if (!response.ok) throw new Error("step back");
        return response.text().then(function (html) {
          restoring = true;
          try { swap(html, url, false); } finally { restoring = false; }
        });
      })
      .catch(function () { location.reload(); });
  }

  window.addEventListener("popstate", stepBack);
  if (shownQuestion() !== null && !(history.state && history.state.chat)) {
    history.replaceState({ chat: 1, q: shownQuestion() }, "", location.href);
  }
  reveal();
})();

/* Read aloud (朗读) and the large-text switch (大字), for the grandparents who fill in many
   children's forms. The "Read aloud" button of each question stays hidden unless the browser
   has speech synthesis with a voice for the page's language (Android's WebView, which WeChat
   uses, has none): absent, never broken. It reads the question and its options. */
(function () {
  "use strict";
  var doc = document;

  var synth = window.speechSynthesis;
  if (!synth || typeof window.SpeechSynthesisUtterance !== "function") synth = null;

  doc.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList) return;
    // The switch is a plain form; after chat.js changed the page in place, come back here.
    var next = form.classList.contains("text-size") && form.querySelector("input[name=next]");
    if (next) next.value = location.pathname + location.search;
    if (synth && form.classList.contains("ask")) synth.cancel();  // answered: stop reading it
  });

  if (!synth) return;
  var lang = (doc.documentElement.lang || "").toLowerCase();
  var primary = lang.split("-")[0];

  function voiceFor() {
    var voices = synth.getVoices() || [], near = null;
    for (var i = 0; i < voices.length; i++) {
      var tag = (voices[i].lang || "").replace(/_/g, "-").toLowerCase();
      if (tag === lang) return voices[i];
      if (!near && tag.split("-")[0] === primary) near = voices[i];
    }
    return near;
  }

  function show() {
    var can = !!voiceFor();
    var buttons = doc.querySelectorAll("[data-speak]");
    for (var i = 0; i < buttons.length; i++) buttons[i].hidden = !can;
  }

  function words(node) {
    return node ? node.textContent.replace(/\s+/g, " ").trim() : "";
  }

  // The question, then each option as the family sees it (not the number badges).
  function script() {
    var parts = [words(doc.getElementById("q-text"))];
    var options = doc.querySelectorAll("#main form.ask .choices .option, #main form.ask .choices .option-box");
    for (var i = 0; i < options.length; i++) {
      var label = options[i].querySelector("span:not(.key):not(.visually-hidden)");
      parts.push(words(label || options[i]));
    }
    return parts.filter(function (p) { return p; }).join(primary === "zh" ? "。" : ". ");
  }

  doc.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-speak]");
    if (!button) return;
    var voice = voiceFor();
    if (!voice) return;
    var wasSpeaking = synth.speaking;
    synth.cancel();
    if (wasSpeaking) return;  // a second tap stops it
    var utterance = new window.SpeechSynthesisUtterance(script());
    utterance.voice = voice;
    utterance.lang = voice.lang;
    utterance.rate = 0.9;
    synth.speak(utterance);
  });

  // Voices often arrive after the page (Chrome loads them asynchronously).
  if (synth.addEventListener) synth.addEventListener("voiceschanged", show);
  else synth.onvoiceschanged = show;
  // Each next question arrives without a reload: show its button too.
  var main = doc.getElementById("main");
  if (main && window.MutationObserver) new MutationObserver(show).observe(main, { childList: true, subtree: true });
  show();
})();
