/* mldebt report: sorting and filtering of the pre-rendered findings tables.
   Reads data from data-* attributes and textContent only; never writes HTML. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var STATUS_ORDER = { "new": 0, "fixme": 1, "known": 2 };
  var blocks = [];

  function readHash() {
    var out = {};
    var h = window.location.hash.replace(/^#/, "");
    if (h.indexOf("=") < 0) { return out; }
    h.split("&").forEach(function (part) {
      var i = part.indexOf("=");
      if (i > 0) {
        try { out[decodeURIComponent(part.slice(0, i))] = decodeURIComponent(part.slice(i + 1)); } catch (e) { /* ignore */ }
      }
    });
    return out;
  }

  function writeHash() {
    var parts = [];
    blocks.forEach(function (b) { b.state(parts); });
    var text = parts.join("&");
    var current = window.location.hash.replace(/^#/, "");
    if (!text && current.indexOf("=") < 0) { return; }  // keep a plain #anchor
    if (text === current) { return; }
    var url = window.location.pathname + window.location.search + (text ? "#" + text : "");
    try { window.history.replaceState(null, "", url); } catch (e) { /* file:// in some browsers */ }
  }

  function Block(root) {
    var key = root.getAttribute("data-key") || "";
    var pfx = key ? key + "." : "";
    var table = root.querySelector("table.findings");
    if (!table) { this.state = function () {}; return; }
    var tbody = table.tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows).filter(function (r) { return r.classList.contains("finding"); });
    var details = rows.map(function (r) {
      var d = r.nextElementSibling;
      return d && d.classList.contains("finding-detail") ? d : null;
    });
    var q = root.querySelector(".f-q");
    var onlyNew = root.querySelector(".f-new");
    var shown = root.querySelector(".f-shown");
    var empty = root.querySelector(".empty-note");
    var groups = Array.prototype.slice.call(root.querySelectorAll(".chipgroup"));
    var sortKey = "", sortDir = 1;
    // only what the row shows: file, rule, smell, message (not the closed source or docs)
    var texts = rows.map(function (r) { return (r.getAttribute("data-search") || "").toLowerCase(); });

    function selected(g) {
      return Array.prototype.slice.call(g.querySelectorAll(".chip[aria-pressed='true']"))
        .map(function (c) { return c.getAttribute("data-value"); });
    }

    function apply() {
      var needle = q.value.trim().toLowerCase();
      var filters = groups.map(function (g) { return [g.getAttribute("data-filter"), selected(g)]; });
      var n = 0;
      rows.forEach(function (r, i) {
        var ok = (!needle || texts[i].indexOf(needle) >= 0) &&
          (!onlyNew.checked || r.getAttribute("data-status") === "new");
        filters.forEach(function (f) {
          if (ok && f[1].length && f[1].indexOf(r.getAttribute("data-" + f[0])) < 0) { ok = false; }
        });
        r.hidden = !ok;
        if (details[i]) { details[i].hidden = !ok; }
        if (ok) { n += 1; }
      });
      shown.textContent = String(n);
      if (empty) { empty.hidden = n > 0; }
      writeHash();
    }

    function compare(a, b) {
      var x, y;
      if (sortKey === "sev") { x = -Number(a.getAttribute("data-sev")); y = -Number(b.getAttribute("data-sev")); }
      else if (sortKey === "status") { x = STATUS_ORDER[a.getAttribute("data-status")]; y = STATUS_ORDER[b.getAttribute("data-status")]; }
      else if (sortKey === "file") {
        x = a.getAttribute("data-file"); y = b.getAttribute("data-file");
        if (x === y) { x = Number(a.getAttribute("data-line")); y = Number(b.getAttribute("data-line")); }
      } else { x = a.getAttribute("data-" + sortKey); y = b.getAttribute("data-" + sortKey); }
      if (x < y) { return -sortDir; }
      if (x > y) { return sortDir; }
      return Number(a.getAttribute("data-index")) - Number(b.getAttribute("data-index"));
    }

    function sort(keyName, dir) {
      sortKey = keyName; sortDir = dir;
      Array.prototype.forEach.call(table.querySelectorAll("th[data-sort]"), function (th) {
        var k = th.getAttribute("data-sort");
        th.setAttribute("aria-sort", k === sortKey ? (sortDir > 0 ? "ascending" : "descending") : "none");
      });
      var ordered = rows.slice();
      if (sortKey) { ordered.sort(compare); }
      else { ordered.sort(function (a, b) { return Number(a.getAttribute("data-index")) - Number(b.getAttribute("data-index")); }); }
      var frag = document.createDocumentFragment();
      ordered.forEach(function (r) {
        var d = r.nextElementSibling && r.nextElementSibling.classList.contains("finding-detail") ? r.nextElementSibling : null;
        frag.appendChild(r);
        if (d) { frag.appendChild(d); }
      });
      tbody.appendChild(frag);
    }

    Array.prototype.forEach.call(table.querySelectorAll("th[data-sort] button"), function (btn) {
      btn.addEventListener("click", function () {
        var k = btn.parentNode.getAttribute("data-sort");
        sort(k, k === sortKey ? -sortDir : 1);
        writeHash();
      });
    });
    groups.forEach(function (g) {
      g.addEventListener("click", function (ev) {
        var chip = ev.target.closest ? ev.target.closest(".chip") : null;
        if (!chip) { return; }
        chip.setAttribute("aria-pressed", chip.getAttribute("aria-pressed") === "true" ? "false" : "true");
        apply();
      });
    });
    // a click on a finding's message opens its detail row
    rows.forEach(function (r, i) {
      var msg = r.querySelector("td.msg");
      var d = details[i] ? details[i].querySelector("details") : null;
      if (!msg || !d) { return; }
      msg.classList.add("opens");
      msg.addEventListener("click", function (ev) {
        if (ev.target.closest && ev.target.closest("a")) { return; }
        if (window.getSelection && String(window.getSelection())) { return; }
        d.open = !d.open;
      });
    });
    q.addEventListener("input", apply);
    onlyNew.addEventListener("change", apply);

    // the rule's documentation, copied (as nodes) into a finding's detail when it is opened
    tbody.addEventListener("toggle", function (ev) {
      var d = ev.target;
      if (!d.open || !d.getAttribute || !d.hasAttribute("data-rule")) { return; }
      var slot = d.querySelector(".doc-slot");
      if (!slot || slot.firstChild) { return; }
      var rule = d.getAttribute("data-rule");
      var docs = root.querySelectorAll(".rule-doc");
      for (var i = 0; i < docs.length; i++) {
        if (docs[i].getAttribute("data-rule") === rule) {
          var copy = docs[i].cloneNode(true);
          copy.removeAttribute("id");
          slot.appendChild(copy);
          break;
        }
      }
    }, true);

    this.restore = function (h) {
      if (h[pfx + "q"]) { q.value = h[pfx + "q"]; }
      onlyNew.checked = h[pfx + "new"] === "1";
      groups.forEach(function (g) {
        var want = (h[pfx + g.getAttribute("data-filter")] || "").split(",");
        Array.prototype.forEach.call(g.querySelectorAll(".chip"), function (c) {
          c.setAttribute("aria-pressed", want.indexOf(c.getAttribute("data-value")) >= 0 ? "true" : "false");
        });
      });
      var s = h[pfx + "sort"] || "";
      if (s) { sort(s.replace(/^-/, ""), s.charAt(0) === "-" ? -1 : 1); }
      apply();
    };
    this.state = function (parts) {
      if (q.value) { parts.push(pfx + "q=" + encodeURIComponent(q.value)); }
      if (onlyNew.checked) { parts.push(pfx + "new=1"); }
      groups.forEach(function (g) {
        var v = selected(g);
        if (v.length) { parts.push(pfx + g.getAttribute("data-filter") + "=" + encodeURIComponent(v.join(","))); }
      });
      if (sortKey) { parts.push(pfx + "sort=" + (sortDir < 0 ? "-" : "") + sortKey); }
    };
  }

  function openTarget() {
    var id = window.location.hash.replace(/^#/, "");
    if (!id || id.indexOf("=") >= 0) { return; }
    var el = document.getElementById(id);
    if (el && el.tagName === "SECTION") {
      var d = el.querySelector("details.repo-details");
      if (d) { d.open = true; }
      if (el.scrollIntoView) { el.scrollIntoView({ block: "start" }); }
    }
  }

  var h = readHash();
  Array.prototype.forEach.call(document.querySelectorAll(".findings-block"), function (root) {
    blocks.push(new Block(root));
  });
  blocks.forEach(function (b) { if (b.restore) { b.restore(h); } });
  // a merged page opens the repositories whose filters are in the fragment
  Object.keys(h).forEach(function (k) {
    var i = k.indexOf(".");
    if (i > 0) {
      var sec = document.getElementById("repo-" + k.slice(0, i));
      var d = sec ? sec.querySelector("details.repo-details") : null;
      if (d) { d.open = true; }
    }
  });
  openTarget();
  window.addEventListener("hashchange", openTarget);
  // a second click on the same repository link does not change the hash: open it anyway
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest ? ev.target.closest("a[href^='#repo-']") : null;
    if (a && a.getAttribute("href") === window.location.hash) { openTarget(); }
  });
})();
