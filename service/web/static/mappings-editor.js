// The mapping editor: source fields on the left, target fields with suggestions in the middle, a live
// preview on the right. Every edit is sent to the server, which builds the template from the rows,
// applies it to the selected sample record and answers with the payload and the errors per field.
(function () {
  "use strict";

  var root = document.getElementById("map-editor");
  if (!root) { return; }

  // Long field names wrap after a dot or an underscore, never in the middle of a word.
  function breakable(name) { return String(name).replace(/([._])/g, "$1\u200b"); }

  var S = {
    base: root.getAttribute("data-base"),
    csrf: root.getAttribute("data-csrf"),
    rows: [], sources: [], suggestions: {}, samples: {records: [], contexts: [], labels: []},
    sampleIndex: 0, transforms: [], versions: [], extraTargets: [], rejected: {}, errors: {},
    payload: null, active: null
  };
  var previewTimer = null;
  var previewSeq = 0;

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; }
      else if (key === "className") { node.className = attrs[key]; }
      else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function api(method, path, body) {
    var options = {method: method, credentials: "same-origin",
                   headers: {"Accept": "application/json", "X-CSRF-Token": S.csrf}};
    if (body instanceof FormData) { options.body = body; }
    else if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(S.base + path, options).then(function (response) {
      return response.json().catch(function () { return {message: response.statusText}; })
        .then(function (data) { return {ok: response.ok, status: response.status, data: data}; });
    });
  }

  function note(message, kind) {
    var box = $("map-notes");
    box.textContent = "";
    if (message) {
      box.appendChild(el("div", {className: "flash flash-" + (kind || "info"), text: message}));
    }
  }

  function rowFor(target) {
    for (var i = 0; i < S.rows.length; i++) { if (S.rows[i].target === target) { return S.rows[i]; } }
    return null;
  }

  function sourceField(name) {
    for (var i = 0; i < S.sources.length; i++) { if (S.sources[i].name === name) { return S.sources[i]; } }
    return {name: name};
  }

  // --- source fields ------------------------------------------------------------------------------

  function renderSources() {
    var list = $("map-source-list");
    var filter = ($("map-source-filter").value || "").toLowerCase();
    list.textContent = "";
    S.sources.forEach(function (field) {
      if (filter && field.name.toLowerCase().indexOf(filter) < 0) { return; }
      var sample = (field.samples || []).length ? String(field.samples[0]) : "";
      var item = el("li", {className: "map-source", draggable: "true", "data-source": field.name,
                           title: (field.type || "") + (field.description ? " · " + field.description : "")}, [
        el("code", {text: breakable(field.name)}),
        sample ? el("span", {className: "map-sample", text: sample.length > 40 ? sample.slice(0, 40) + "…" : sample}) : null
      ]);
      item.addEventListener("dragstart", function (event) {
        event.dataTransfer.setData("text/plain", field.name);
        event.dataTransfer.effectAllowed = "copy";
      });
      list.appendChild(item);
    });
  }

  // --- target rows ---------------------------------------------------------------------------------

  function suggestionFor(row) {
    var options = S.suggestions[row.target] || [];
    for (var i = 0; i < options.length; i++) {
      if (!S.rejected[row.target + "|" + options[i].source]) { return options[i]; }
    }
    return null;
  }

  function sourceCell(row) {
    var cell = el("td", {className: "map-source-cell"});
    if (row.kind === "each") {
      cell.appendChild(el("span", {className: "hint", text: "repeated for each " + row.each + "[]"}));
    } else if (row.kind === "path") {
      if (row.source) {
        var clear = el("button", {type: "button", className: "link map-clear", title: "unmap", text: "×"});
        clear.addEventListener("click", function () { row.source = ""; changed(true); });
        cell.appendChild(el("span", {className: "map-chip map-current", "data-source": row.source},
                            [el("code", {text: breakable(row.source)}), clear]));
      } else {
        cell.appendChild(el("span", {className: "map-drop-hint", text: "drop a source field here"}));
      }
    } else if (row.kind === "first_of" || row.kind === "concat") {
      cell.appendChild(el("span", {className: "hint", text: row.kind === "concat" ? "joined: " : "first of: "}));
      (row.sources || []).forEach(function (name, index) {
        var remove = el("button", {type: "button", className: "link map-clear", title: "remove", text: "×"});
        remove.addEventListener("click", function () { row.sources.splice(index, 1); changed(true); });
        cell.appendChild(el("span", {className: "map-chip", "data-source": name}, [el("code", {text: breakable(name)}), remove]));
      });
      cell.appendChild(el("span", {className: "hint", text: " (drop to add)"}));
    } else if (row.kind === "value") {
      var input = el("input", {type: "text", className: "map-value", value: JSON.stringify(row.value),
                               title: "a constant (JSON: \"text\", 12, true)"});
      input.addEventListener("input", function () {
        try { row.value = JSON.parse(input.value); } catch (err) { row.value = input.value; }
        changed(false);
      });
      cell.appendChild(input);
    } else {
      cell.appendChild(el("code", {className: "hint", text: JSON.stringify(row.raw)}));
    }
    return cell;
  }

  function suggestionCell(row) {
    var cell = el("td", {className: "map-suggestion"});
    if (row.kind === "each" || row.kind === "value" || row.kind === "raw") { return cell; }
    var best = suggestionFor(row);
    if (!best) { return cell; }
    var pct = Math.round(best.score * 100) + "%";
    var level = best.score >= 0.8 ? "high" : best.score >= 0.5 ? "mid" : "low";
    var current = row.kind === "path" ? row.source : null;
    if (current === best.source) {
      cell.appendChild(el("span", {className: "map-confidence map-" + level, title: "the engine agrees",
                                   text: "✓ " + pct}));
      return cell;
    }
    var accept = el("button", {type: "button", className: "map-accept", text: "Accept"});
    var reject = el("button", {type: "button", className: "map-reject", text: "Reject"});
    accept.addEventListener("click", function () { acceptSuggestion(row, best); });
    reject.addEventListener("click", function () { rejectSuggestion(row, best); });
    cell.appendChild(el("div", {className: "map-suggested", "data-source": best.source}, [
      el("code", {text: breakable(best.source)}),
      el("span", {className: "map-confidence map-" + level, text: pct})
    ]));
    cell.appendChild(el("div", {className: "map-suggestion-actions"}, [accept, reject]));
    return cell;
  }

  function transformCell(row) {
    var cell = el("td", {className: "map-transforms"});
    if (row.kind === "each" || row.kind === "raw") { return cell; }
    var list = row.transform || [];
    list.forEach(function (name, index) {
      var remove = el("button", {type: "button", className: "link map-clear", title: "remove", text: "×"});
      remove.addEventListener("click", function () { list.splice(index, 1); row.transform = list; changed(true); });
      cell.appendChild(el("span", {className: "map-chip map-transform", "data-transform": name},
                          [el("span", {text: name}), remove]));
    });
    var picker = el("select", {className: "map-transform-picker", "aria-label": "add a transform to " + row.target});
    picker.appendChild(el("option", {value: "", text: "+ transform"}));
    S.transforms.forEach(function (name) { picker.appendChild(el("option", {value: name, text: name})); });
    picker.addEventListener("change", function () {
      if (!picker.value) { return; }
      row.transform = list.concat([picker.value]);
      changed(true);
    });
    cell.appendChild(picker);
    return cell;
  }

  function optionsCell(row) {
    var cell = el("td", {className: "map-options"});
    if (row.kind === "each" || row.kind === "raw") { return cell; }
    var kind = el("select", {className: "map-kind", "aria-label": "how " + row.target + " is made"});
    [["path", "one field"], ["first_of", "first present of"], ["concat", "concatenate"], ["value", "constant"]]
      .forEach(function (pair) {
        var option = el("option", {value: pair[0], text: pair[1]});
        if (row.kind === pair[0]) { option.selected = true; }
        kind.appendChild(option);
      });
    kind.addEventListener("change", function () { setKind(row, kind.value); changed(true); });

    var fallback = el("input", {type: "text", className: "map-default", placeholder: "default",
                                value: row.hasOwnProperty("default") ? JSON.stringify(row["default"]) : ""});
    fallback.addEventListener("input", function () {
      if (fallback.value === "") { delete row["default"]; }
      else { try { row["default"] = JSON.parse(fallback.value); } catch (err) { row["default"] = fallback.value; } }
      changed(false);
    });
    var required = el("input", {type: "checkbox", className: "map-required"});
    required.checked = !!row.required;
    required.addEventListener("change", function () { row.required = required.checked; changed(false); });

    var map = el("textarea", {className: "map-valuemap", rows: "2", placeholder: "value map: from = to, one a line"});
    map.value = Object.keys(row.map || {}).map(function (k) { return k + " = " + row.map[k]; }).join("\n");
    map.addEventListener("input", function () {
      var pairs = {};
      map.value.split("\n").forEach(function (line) {
        var at = line.indexOf("=");
        if (at > 0) { pairs[line.slice(0, at).trim()] = line.slice(at + 1).trim(); }
      });
      if (Object.keys(pairs).length) { row.map = pairs; } else { delete row.map; }
      changed(false);
    });
    var lookup = el("input", {type: "text", className: "map-lookup", placeholder: "lookup: file.yaml#key",
                              value: row.lookup || ""});
    lookup.addEventListener("input", function () {
      if (lookup.value) { row.lookup = lookup.value; } else { delete row.lookup; }
      changed(false);
    });
    var sep = null;
    if (row.kind === "concat") {
      sep = el("input", {type: "text", className: "map-sep", placeholder: "separator", value: row.sep || ""});
      sep.addEventListener("input", function () { row.sep = sep.value; changed(false); });
    }
    cell.appendChild(el("details", {}, [
      el("summary", {text: "options"}),
      el("label", {}, [el("span", {text: "made from "}), kind]),
      el("label", {}, [el("span", {text: "default "}), fallback]),
      el("label", {}, [required, el("span", {text: " required"})]),
      sep ? el("label", {}, [el("span", {text: "separator "}), sep]) : null,
      map, lookup
    ]));
    return cell;
  }

  function setKind(row, kind) {
    var sources = row.kind === "path" ? (row.source ? [row.source] : []) : (row.sources || []);
    delete row.source; delete row.sources; delete row.value;
    row.kind = kind;
    if (kind === "path") { row.source = sources[0] || ""; }
    else if (kind === "value") { row.value = ""; }
    else { row.sources = sources; }
  }

  function renderRows() {
    var body = $("map-rows");
    body.textContent = "";
    S.rows.forEach(function (row) {
      var errors = el("div", {className: "map-error", "data-error-for": row.target});
      var tr = el("tr", {className: "map-row" + (row.kind === "each" ? " map-group" : ""),
                         "data-target": row.target}, [
        el("td", {className: "map-target"}, [el("code", {text: breakable(row.target)}),
                                             row.required ? el("span", {className: "map-req", text: " *"}) : null,
                                             errors]),
        sourceCell(row), suggestionCell(row), transformCell(row), optionsCell(row)
      ]);
      if (row.kind !== "each" && row.kind !== "raw") {
        tr.addEventListener("dragover", function (event) {
          event.preventDefault();
          event.dataTransfer.dropEffect = "copy";
          tr.classList.add("map-over");
        });
        tr.addEventListener("dragleave", function () { tr.classList.remove("map-over"); });
        tr.addEventListener("drop", function (event) {
          event.preventDefault();
          tr.classList.remove("map-over");
          var name = event.dataTransfer.getData("text/plain");
          if (name) { dropOnto(row, name); }
        });
      }
      body.appendChild(tr);
    });
    renderErrors();
  }

  function renderErrors() {
    document.querySelectorAll("#map-rows .map-error").forEach(function (box) {
      var messages = S.errors[box.getAttribute("data-error-for")] || [];
      box.textContent = messages.join("; ");
      box.hidden = messages.length === 0;
      box.parentNode.parentNode.classList.toggle("map-invalid", messages.length > 0);
    });
    var general = [];
    Object.keys(S.errors).forEach(function (key) {
      if (!rowFor(key)) { general.push((key === "_template" || key === "_rows" ? "" : key + ": ") + S.errors[key].join("; ")); }
    });
    var box = $("map-preview-errors");
    box.textContent = general.join("\n");
    box.hidden = general.length === 0;
  }

  // --- decisions ----------------------------------------------------------------------------------------

  function decide(sourceName, target, accepted) {
    var targetField = {name: target};
    api("POST", "/decisions", {source: sourceField(sourceName), target: targetField, accepted: accepted});
  }

  function acceptSuggestion(row, best) {
    if (row.kind === "first_of" || row.kind === "concat") {
      // A fallback chain (or a join) keeps its other paths: the suggestion joins it, first in line
      // for a chain, instead of replacing the whole chain with one path.
      var rest = (row.sources || []).filter(function (name) { return name !== best.source; });
      row.sources = row.kind === "first_of" ? [best.source].concat(rest) : rest.concat([best.source]);
    } else {
      if (row.kind !== "path") { setKind(row, "path"); }
      row.source = best.source;
    }
    decide(best.source, row.target, true);
    changed(true);
  }

  function rejectSuggestion(row, best) {
    S.rejected[row.target + "|" + best.source] = true;
    decide(best.source, row.target, false);
    renderRows();
  }

  function dropOnto(row, name) {
    var best = suggestionFor(row);
    if (row.kind === "first_of" || row.kind === "concat") {
      row.sources = (row.sources || []).concat([name]);
    } else {
      if (row.kind !== "path") { setKind(row, "path"); }
      row.source = name;
    }
    // A correction says both things: this pair is right, and the engine's proposal was not.
    decide(name, row.target, true);
    if (best && best.source !== name) {
      S.rejected[row.target + "|" + best.source] = true;
      decide(best.source, row.target, false);
    }
    changed(true);
  }

  // --- preview ---------------------------------------------------------------------------------------------

  function changed(rerender) {
    if (rerender) { renderRows(); }
    clearTimeout(previewTimer);
    previewTimer = setTimeout(runPreview, 200);
  }

  function runPreview() {
    var seq = ++previewSeq;
    var i = S.sampleIndex;
    root.setAttribute("data-preview", "pending");
    api("POST", "/preview", {rows: S.rows, record: S.samples.records[i] || null,
                             context: S.samples.contexts[i] || {}}).then(function (answer) {
      if (seq !== previewSeq) { return; }
      if (!answer.ok) { note(answer.data.message || "The preview failed.", "error"); return; }
      S.payload = answer.data.payload;
      S.errors = answer.data.errors || {};
      renderPreview(answer.data.yaml);
      renderErrors();
      root.setAttribute("data-preview", "ready");
    });
  }

  function renderPreview(yaml) {
    var code = $("map-preview").querySelector("code");
    code.textContent = S.payload === null ? (S.samples.records.length ? "(no payload: see the errors)"
                                                                         : "(no sample record: upload one)")
                                          : JSON.stringify(S.payload, null, 2);
    if (yaml !== undefined) { $("map-yaml").querySelector("code").textContent = yaml; }
  }

  function renderSamples() {
    var select = $("map-sample");
    select.textContent = "";
    (S.samples.labels || []).forEach(function (label, index) {
      var option = el("option", {value: String(index), text: label});
      if (index === S.sampleIndex) { option.selected = true; }
      select.appendChild(option);
    });
    $("map-sample-origin").textContent = S.samples.records.length ? "from " + S.samples.origin : "";
  }

  // --- versions ---------------------------------------------------------------------------------------------

  function renderVersions() {
    var body = $("map-version-rows");
    body.textContent = "";
    if (!S.versions.length) {
      body.appendChild(el("tr", {}, [el("td", {colspan: "5", className: "empty",
                                               text: "No saved versions yet: the file in rules/mappings/ is in force."})]));
    }
    S.versions.forEach(function (v) {
      var actions = el("td", {className: "actions"});
      if (!v.active) {
        var activate = el("button", {type: "button", className: "map-activate", text: "Activate"});
        activate.addEventListener("click", function () { activateVersion(v.version); });
        actions.appendChild(activate);
      }
      var diff = el("button", {type: "button", className: "map-show-diff", text: "Diff"});
      diff.addEventListener("click", function () { showDiff(v.version); });
      var open = el("button", {type: "button", className: "map-open", text: "Edit from here"});
      open.addEventListener("click", function () { load(v.version); });
      actions.appendChild(diff);
      actions.appendChild(open);
      body.appendChild(el("tr", {"data-version": String(v.version), className: v.active ? "map-active-version" : ""}, [
        el("td", {className: "num", text: String(v.version)}),
        el("td", {text: v.note || ""}),
        el("td", {text: v.created_by + " · " + v.created_at.replace("T", " ")}),
        el("td", {}, [v.active ? el("span", {className: "badge status-active", text: "active"})
                               : el("span", {className: "muted", text: v.activated_at ? "was active" : "saved"})]),
        actions
      ]));
    });
  }

  function afterVersionChange(answer, message) {
    if (!answer.ok) { note(answer.data.message, "error"); return; }
    S.versions = answer.data.versions;
    renderVersions();
    var active = S.versions.filter(function (v) { return v.active; })[0];
    $("map-origin").textContent = active ? "version " + active.version + " active" : "file in force";
    note(message.replace("{n}", answer.data.version.version), "ok");
  }

  // Putting a version in force changes what is sent to Heartland and Magento: ask first, then show
  // the rows of what is now in force (not the rows edited before).
  function confirmLive(question) {
    return window.confirm(question + " Records synced from now on use it.");
  }

  function reloadAfter(answer, message) {
    afterVersionChange(answer, message);
    if (answer.ok) { load(null); }
  }

  function activateVersion(number) {
    if (!confirmLive("Activate version " + number + " of this mapping?")) { return; }
    api("POST", "/versions/" + number + "/activate").then(function (answer) {
      reloadAfter(answer, "Version {n} is active: the flow uses it from its next record on.");
    });
  }

  function showDiff(number) {
    api("GET", "/diff?to=" + number).then(function (answer) {
      var box = $("map-diff");
      box.hidden = false;
      box.textContent = answer.ok ? (answer.data.diff || "(no differences)") : answer.data.message;
    });
  }

  // --- loading and wiring ------------------------------------------------------------------------------------

  function load(version) {
    api("GET", "/state" + (version ? "?version=" + version : "")).then(function (answer) {
      if (!answer.ok) { note(answer.data.message || "The mapping could not be loaded.", "error"); return; }
      var d = answer.data;
      S.rows = d.rows; S.sources = d.source_fields; S.suggestions = d.suggestions || {};
      S.samples = d.samples; S.sampleIndex = 0; S.transforms = d.transforms; S.versions = d.versions;
      S.payload = d.preview.payload; S.errors = d.preview.errors || {};
      $("map-origin").textContent = d.origin;
      var notes = (d.notes || []).slice();
      if (S.suggestions._error) { notes.push("No suggestions: " + S.suggestions._error); }
      note(notes.join(" "), "info");
      renderSamples(); renderSources(); renderRows(); renderPreview(d.yaml); renderVersions();
      S.savedRows = JSON.stringify(S.rows);
      root.setAttribute("data-ready", "true");
    });
  }

  function refreshSuggestions() {
    return api("POST", "/suggest", {source_fields: S.sources, rows: S.rows, extra_targets: S.extraTargets,
                                    payload: S.payload}).then(function (answer) {
      if (answer.ok) { S.suggestions = answer.data.suggestions || {}; renderRows(); }
    });
  }

  $("map-sample").addEventListener("change", function () {
    S.sampleIndex = parseInt($("map-sample").value, 10) || 0;
    runPreview();
  });
  $("map-source-filter").addEventListener("input", renderSources);

  $("map-add-target").addEventListener("submit", function (event) {
    event.preventDefault();
    var name = $("map-new-target").value.trim();
    if (!name) { return; }
    if (rowFor(name)) { note(name + " is already a target field.", "error"); return; }
    S.rows.push({target: name, kind: "path", source: ""});
    S.extraTargets.push(name);
    $("map-new-target").value = "";
    renderRows();
    refreshSuggestions().then(runPreview);
  });

  $("map-upload").addEventListener("change", function () {
    var file = $("map-upload").files[0];
    if (!file) { return; }
    var form = new FormData();
    form.append("file", file);
    form.append("rows", JSON.stringify(S.rows));
    api("POST", "/samples", form).then(function (answer) {
      if (!answer.ok) { note(answer.data.message, "error"); return; }
      S.samples = answer.data.samples; S.sampleIndex = 0; S.sources = answer.data.source_fields;
      renderSamples(); renderSources();
      note("Using " + S.samples.records.length + " uploaded sample record(s).", "ok");
      refreshSuggestions().then(runPreview);
    });
  });

  $("map-save").addEventListener("submit", function (event) {
    event.preventDefault();
    api("POST", "/versions", {rows: S.rows, note: $("map-note").value}).then(function (answer) {
      if (!answer.ok && answer.data.fields) { S.errors = answer.data.fields; renderErrors(); }
      if (answer.ok) { $("map-note").value = ""; S.savedRows = JSON.stringify(S.rows); }
      afterVersionChange(answer, "Saved version {n}. Activate it to put it in force.");
    });
  });

  $("map-rollback").addEventListener("click", function () {
    if (!confirmLive("Roll back to the version active before this one?")) { return; }
    api("POST", "/rollback").then(function (answer) {
      reloadAfter(answer, "Rolled back: version {n} is active again.");
    });
  });

  $("map-deactivate").addEventListener("click", function () {
    if (!confirmLive("Stop every version and use the file in rules/mappings/?")) { return; }
    api("POST", "/deactivate").then(function (answer) {
      if (!answer.ok) { note(answer.data.message, "error"); return; }
      load(null);
      S.versions = answer.data.versions;
      renderVersions();
      $("map-origin").textContent = "file in force";
      note("No version is active: the flow uses the file in rules/mappings/ from its next record on.", "ok");
    });
  });

  window.addEventListener("beforeunload", function (event) {
    if (S.savedRows !== undefined && JSON.stringify(S.rows) !== S.savedRows) {
      event.preventDefault();
      event.returnValue = "";  // the browser asks whether to leave with unsaved changes
    }
  });

  load(null);
})();
