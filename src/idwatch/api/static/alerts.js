// Live alerts: the newest alerts from /api/v1/alerts, refreshed every 15 s; analysts mark them here.
"use strict";
(function () {
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var table = document.getElementById("alerts");
  var body = table.querySelector("tbody");
  var canMark = table.dataset.canMark === "yes";
  var form = document.getElementById("filters");
  var status = document.getElementById("status");
  var more = document.getElementById("more");
  var PAGE = 50, REFRESH_MS = 15000;
  var shown = PAGE;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (cls) { e.className = cls; }
    return e;
  }
  function badge(mark) {
    if (!mark) { return el("span", "", "mark-none"); }
    var b = el("span", mark.verdict.replace(/_/g, " "), "mark mark-" + mark.verdict);
    b.title = (mark.comment || "") + " (" + mark.author + ", " + mark.created_at + ")";
    return b;
  }
  function query(limit) {
    var p = new URLSearchParams();
    new FormData(form).forEach(function (v, k) { if (v) { p.set(k, v); } });
    p.set("limit", String(limit));
    return "/api/v1/alerts?" + p.toString();
  }
  function evidenceCell(a) {
    var td = el("td");
    var d = el("details");
    d.appendChild(el("summary", a.evidence_total + " events"));
    var ul = el("ul", null, "evidence");
    a.evidence.forEach(function (e) {
      var li = el("li");
      var link = el("a", e.time + " " + e.activity + " " + e.outcome + " " + (e.src_ip || "") + " " + (e.country || ""));
      link.href = "/api/v1/events/" + encodeURIComponent(e.event_id);
      li.appendChild(link);
      ul.appendChild(li);
    });
    d.appendChild(ul);
    td.appendChild(d);
    return td;
  }
  function markCell(a) {
    var td = el("td");
    td.className = "markcell";
    var current = badge(a.mark);
    current.dataset.role = "current";
    td.appendChild(current);
    if (canMark) {
      var tpl = document.getElementById("mark-template").content.cloneNode(true);
      td.appendChild(tpl);
      td.querySelector(".do-mark").addEventListener("click", function () {
        var verdict = td.querySelector(".verdict").value;
        var comment = td.querySelector(".comment").value;
        fetch("/api/v1/alerts/" + encodeURIComponent(a.alert_id) + "/mark", {
          method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
          body: JSON.stringify({verdict: verdict, comment: comment || null})
        }).then(function (r) {
          return r.json().then(function (j) { if (!r.ok) { throw new Error(j.error || r.status); } return j; });
        }).then(function (m) {
          var fresh = badge(m);
          fresh.dataset.role = "current";
          td.replaceChild(fresh, td.querySelector('[data-role="current"]'));
          status.textContent = "marked " + a.alert_id + " " + m.verdict.replace(/_/g, " ");
        }).catch(function (err) { status.textContent = "could not mark: " + err.message; });
      });
    }
    return td;
  }
  function row(a) {
    var tr = el("tr");
    tr.dataset.alertId = a.alert_id;
    tr.appendChild(el("td", a.last_seen));
    tr.appendChild(el("td", a.stage));
    var det = el("td");
    det.appendChild(el("span", a.detection_id));
    det.title = a.title || "";
    tr.appendChild(det);
    tr.appendChild(el("td", a.score, "num"));
    var accounts = (a.accounts || []);
    tr.appendChild(el("td", accounts.slice(0, 3).join(", ") + (accounts.length > 3 ? " +" + (accounts.length - 3) : "")));
    tr.appendChild(evidenceCell(a));
    tr.appendChild(markCell(a));
    return tr;
  }
  function busy() {  // never redraw under an analyst who is typing a comment
    var f = document.activeElement;
    return f && body.contains(f);
  }
  function load(force) {
    if (!force && busy()) { return; }
    fetch(query(shown), {credentials: "same-origin"}).then(function (r) {
      if (r.status === 401) { window.location = "/login"; return null; }
      return r.json();
    }).then(function (page) {
      if (!page) { return; }
      var rows = document.createDocumentFragment();
      page.items.forEach(function (a) { rows.appendChild(row(a)); });
      body.replaceChildren(rows);
      more.hidden = page.next_offset === null;
      status.textContent = page.total + " alerts, " + page.items.length + " shown; updated " + new Date().toISOString().slice(11, 19) + " UTC";
    }).catch(function (err) { status.textContent = "could not load alerts: " + err.message; });
  }
  form.addEventListener("submit", function (ev) { ev.preventDefault(); shown = PAGE; load(true); });
  more.addEventListener("click", function () { shown += PAGE; load(true); });
  load(true);
  window.setInterval(function () { load(false); }, REFRESH_MS);
})();
