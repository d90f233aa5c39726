/* Study-team pages: warn before the idle sign-out, and keep what is being typed.
 *
 * Idle warning: the page knows the server's idle limit (data-idle-seconds on .staff-page) and
 * shows the banner data-warn-seconds before it. "Stay signed in" is one small same-origin POST
 * (CSRF header, no body) to /staff/session; the last activity is shared between tabs through
 * localStorage, so a second open tab does not warn while the first is in use. Typing counts as
 * activity: if someone is typing when the warning would show, the session is kept alive quietly.
 *
 * Drafts: every textarea in a staff form (and any field with data-draft) is copied to this
 * browser's localStorage as it is typed, per page, form and field; it is put back if the page
 * opens with the field empty (after signing in again, which returns to the same page). A draft
 * goes when its form was saved, when the person signs out (a shared ward computer), and after
 * 12 hours. Drafts never go to the server except by the person pressing the form's own button.
 * A field marks itself data-draft="off" to opt out. Without JavaScript nothing here happens and
 * every form still works.
 */
(function () {
  "use strict";
  var page = document.querySelector(".staff-page");
  if (!page) return;
  var store = null;
  try {
    store = window.localStorage;
    store.getItem("x");
  } catch (e) {
    store = null; // storage off (private mode): pages work, nothing is kept
  }
  var DRAFT = "prescreen.draft:";
  var ACTIVE = "prescreen.staff.active";
  var MAX_AGE = 12 * 3600 * 1000;
  var signedOut = page.hasAttribute("data-signed-out");

  function read(key) {
    try {
      return JSON.parse(store.getItem(key) || "null");
    } catch (e) {
      return null;
    }
  }
  function write(key, value) {
    try {
      store.setItem(key, JSON.stringify(value));
    } catch (e) {
      /* full or blocked: the page still works */
    }
  }
  function draftKeys() {
    var keys = [];
    for (var i = 0; store && i < store.length; i++) {
      var key = store.key(i);
      if (key && key.indexOf(DRAFT) === 0) keys.push(key);
    }
    return keys;
  }

  /* ---- drafts ---- */
  function navigationType() {
    var entries = window.performance && performance.getEntriesByType ? performance.getEntriesByType("navigation") : [];
    return entries.length ? entries[0].type : "navigate";
  }

  function keepDrafts() {
    if (!store) return;
    var now = Date.now();
    draftKeys().forEach(function (key) {
      var entry = read(key);
      if (!entry || now - entry.t > MAX_AGE) store.removeItem(key);
      else if (signedOut && entry.sent) {
        // The form went to the sign-in page, not to its handler: it was not saved.
        delete entry.sent;
        write(key, entry);
      }
    });
    if (signedOut) return;
    var fields = page.querySelectorAll("form textarea, form [data-draft]");
    var restoredText = page.getAttribute("data-draft-restored") || "";
    Array.prototype.forEach.call(fields, function (field) {
      if (field.getAttribute("data-draft") === "off" || !field.name) return;
      var form = field.form;
      if (!form || (form.getAttribute("method") || "").toLowerCase() !== "post") return;
      var key = DRAFT + location.pathname + "|" + (form.getAttribute("action") || "") + "|" + field.name;
      var entry = read(key);
      if (entry && entry.sent) {
        var refused = form.querySelector(".field-errors, [aria-invalid='true']");
        if (navigationType() === "back_forward" || refused) {
          delete entry.sent; // not saved: keep it
          write(key, entry);
        } else {
          store.removeItem(key); // the form was saved
          entry = null;
        }
      }
      if (entry && entry.v && !field.value) {
        field.value = entry.v;
        if (restoredText) {
          var note = document.createElement("p");
          note.className = "draft-restored";
          note.setAttribute("role", "status");
          note.textContent = restoredText;
          field.parentNode.insertBefore(note, field);
        }
      }
      field.addEventListener("input", function () {
        if (field.value) write(key, { v: field.value, t: Date.now() });
        else store.removeItem(key);
        typedAt = Date.now();
      });
      form.addEventListener("submit", function () {
        if (field.value) write(key, { v: field.value, t: Date.now(), sent: Date.now() });
      });
    });
    var signout = page.querySelector("form.signout");
    if (signout) {
      signout.addEventListener("submit", function () {
        draftKeys().forEach(function (key) {
          store.removeItem(key);
        });
      });
    }
  }

  /* ---- idle warning ---- */
  var idle = parseInt(page.getAttribute("data-idle-seconds") || "0", 10) * 1000;
  var warn = parseInt(page.getAttribute("data-warn-seconds") || "0", 10) * 1000;
  var banner = page.querySelector(".idle-warning");
  var typedAt = 0;
  var lastActive = Date.now();
  var ended = false;
  var pending = false;

  function sharedActive() {
    var stored = store ? parseInt(store.getItem(ACTIVE) || "0", 10) : 0;
    return Math.max(lastActive, stored || 0);
  }
  function markActive(when) {
    lastActive = when;
    if (store) {
      try {
        store.setItem(ACTIVE, String(when));
      } catch (e) {
        /* ignore */
      }
    }
  }
  function show(state) {
    banner.hidden = state === "none";
    banner.querySelector("[data-idle-state='warn']").hidden = state !== "warn";
    banner.querySelector("[data-idle-state='ended']").hidden = state !== "ended";
    banner.querySelector("[data-idle-action='stay']").hidden = state !== "warn";
    banner.querySelector("[data-idle-action='login']").hidden = state !== "ended";
  }
  function csrfToken() {
    var input = page.querySelector("form.signout input[name='csrf_token']");
    return input ? input.value : "";
  }
  function stay() {
    if (pending) return;
    pending = true;
    var sent = Date.now();
    fetch(banner.getAttribute("data-keepalive"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
      redirect: "manual",
    })
      .then(function (response) {
        var json = (response.headers.get("content-type") || "").indexOf("application/json") === 0;
        if (response.ok && json) {
          markActive(sent);
          show("none");
        } else {
          ended = true;
          show("ended");
        }
      })
      .catch(function () {
        /* offline for a moment: the next tick tries again or shows the end */
      })
      .then(function () {
        pending = false;
      });
  }
  function tick() {
    if (ended) return;
    var quiet = Date.now() - sharedActive();
    if (quiet >= idle) {
      ended = true;
      show("ended");
    } else if (quiet >= idle - warn) {
      if (typedAt > sharedActive()) stay(); // typing a note is not being idle
      else if (banner.hidden) show("warn");
    } else if (!banner.hidden) {
      show("none"); // another tab kept the session alive
    }
  }

  if (store) keepDrafts();
  if (banner && idle > 0 && window.fetch) {
    markActive(Date.now());
    banner.querySelector("[data-idle-action='stay']").addEventListener("click", stay);
    window.setInterval(tick, 1000);
  }
})();
