// The workflow canvas: the built-in flow's locked steps, its insertion points and the workflow's own
// steps as boxes and arrows (Drawflow, laid out top to bottom by dagre). A step type dragged from the
// palette onto an insertion point (or onto a branch output's slot) opens a form made for its type;
// "Add to the draft" saves the whole draft through the JSON route with the revision this page last
// saw, so an edit made meanwhile by someone else is refused, never overwritten. A condition's live
// preview runs JSONata in the browser (the npm package, the same language as the server) on what the
// step would be given for a recent real order (GET …/sample).
(function () {
  "use strict";

  var root = document.getElementById("wf-builder");
  if (!root || !window.Drawflow || !window.dagre) { return; }
  var data = JSON.parse(document.getElementById("wf-data").textContent);

  var S = {
    base: root.getAttribute("data-base"),
    csrf: root.getAttribute("data-csrf"),
    canEdit: root.getAttribute("data-can-edit") === "true",
    rows: [], document: null, revision: null, selected: null, pending: null, sampleItem: null,
    samples: {}, editor: null, ids: {}
  };
  var TYPES = {};
  data.palette.forEach(function (t) { TYPES[t.type] = t; });
  var FIELDS = ["order.grand_total", "order.subtotal", "order.email", "order.number", "order.currency",
    "order.is_guest", "order.shipping_method", "order.status", "order.store_code", "order.extra.tags",
    "order.billing.country", "order.shipping.country", "vars.prior.count", "raw.customer_group_id"];

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; }
      else if (key === "className") { node.className = attrs[key]; }
      else if (key.slice(0, 2) === "on") { node.addEventListener(key.slice(2), attrs[key]); }
      else if (attrs[key] !== null && attrs[key] !== undefined && attrs[key] !== false) { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) { return; }
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function api(method, path, body) {
    var options = {method: method, credentials: "same-origin",
                   headers: {"Accept": "application/json", "X-CSRF-Token": S.csrf}};
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(S.base + path, options).then(function (response) {
      return response.json().catch(function () { return {message: response.status + " " + response.statusText}; })
        .then(function (answer) { return {ok: response.ok, status: response.status, data: answer}; });
    });
  }

  function note(message, kind, problems) {
    var box = $("wf-notes");
    box.textContent = "";
    if (!message) { return; }
    var list = (problems && problems.length) ? el("ul", {}, problems.map(function (p) { return el("li", {text: p}); })) : null;
    box.appendChild(el("div", {className: "flash flash-" + (kind || "info"), role: "status", "data-test": "canvas-note"},
                       [message, list]));
  }

  function copy(value) { return JSON.parse(JSON.stringify(value)); }

  // -- the rule builder, as the server writes it (service/workflows/conditions.py) ---------------------
  function literal(value) { return JSON.stringify(value); }

  function toJsonata(rule) {
    var joins = [["all", " and "], ["any", " or "]];
    for (var j = 0; j < joins.length; j++) {
      if (rule[joins[j][0]]) {
        return rule[joins[j][0]].map(function (part) { return "(" + toJsonata(part) + ")"; }).join(joins[j][1]);
      }
    }
    var field = rule.field, op = rule.op;
    if (op === "is_empty" || op === "not_empty") {
      var test = "($exists(" + field + ") and " + field + " != '' and " + field + " != null)";
      return op === "is_empty" ? "$not" + test : test;
    }
    if (op === "in") { return field + " in " + literal(rule.value); }
    if (op === "contains") { return "$contains($string(" + field + "), " + literal(rule.value) + ")"; }
    if (op === "starts_with") {
      return "$substring($string(" + field + "), 0, $length(" + literal(rule.value) + ")) = " + literal(rule.value);
    }
    return field + " " + op + " " + literal(rule.value);
  }

  function conditionOf(config) {
    if (config.when) { return String(config.when); }
    if (config.rule) { return toJsonata(config.rule); }
    return "";
  }

  function ruleWords(config) {
    function words(rule) {
      if (rule.all || rule.any) {
        var parts = (rule.all || rule.any).map(words);
        return parts.join(rule.all ? " and " : " or ");
      }
      var said = data.operators[rule.op] || rule.op;
      return rule.field + " " + said + (data.no_value.indexOf(rule.op) >= 0 ? "" : " " + JSON.stringify(rule.value));
    }
    if (config.rule) { return words(config.rule); }
    return config.when || "?";
  }

  function summary(step) {
    var c = step.config || {};
    switch (step.type) {
      case "filter": return "skip when " + ruleWords(c) + ": " + (c.reason || "");
      case "branch": return (c.outputs || []).map(function (o) { return o.name + " when " + ruleWords(o); }).join("; ");
      case "set": return "set " + c.target + " to " + c.value;
      case "lookup": return c.source + " of " + c.input + " → vars." + c.as;
      case "hold": return "hold for review: " + (c.reason || "");
      case "notify": return "by " + c.channel + ": " + (c.message || "");
      case "wait": return "wait " + c.seconds + " s";
      case "http": return String(c.method || "POST").toUpperCase() + " " + (c.url || "");
    }
    return "";
  }

  // -- the document: where steps are, with the pending (dropped, not yet saved) step in it ----------
  function withPending() {
    var doc = copy(S.document);
    doc.steps = doc.steps || [];
    var p = S.pending;
    if (!p) { return doc; }
    if (p.branch) {
      var branch = findStep(doc, p.branch);
      var output = (branch.config.outputs || []).filter(function (o) { return o.name === p.output; })[0];
      output.steps = output.steps || [];
      output.steps.push(p.step);
    } else {
      doc.steps.push(p.step);
    }
    return doc;
  }

  function eachStep(steps, visit, parent) {
    (steps || []).forEach(function (step) {
      visit(step, parent);
      if (step.type === "branch") {
        (step.config.outputs || []).forEach(function (o) { eachStep(o.steps, visit, {branch: step, output: o.name}); });
        eachStep(step.config.otherwise, visit, {branch: step, output: "otherwise"});
      }
    });
  }

  function findStep(doc, id) {
    var found = null;
    eachStep(doc.steps, function (step) { if (step.id === id) { found = step; } });
    return found;
  }

  function parentOf(doc, id) {
    var found = null;
    eachStep(doc.steps, function (step, parent) { if (step.id === id) { found = parent || null; } });
    return found;
  }

  function freeId(type) {
    var doc = withPending(), taken = {};
    eachStep(doc.steps, function (step) { taken[step.id] = true; });
    S.rows.forEach(function (row) { if (row.step) { taken[row.step.name] = true; } else { taken[row.point] = true; } });
    for (var n = 1; ; n++) { if (!taken[type + "-" + n]) { return type + "-" + n; } }
  }

  // -- the canvas --------------------------------------------------------------------------------------
  function nodeHtml(parts) {
    return el("div", {}, parts).innerHTML;
  }

  function buildGraph() {
    var doc = withPending();
    var nodes = [], edges = [];
    var prev = null;
    function add(node) { nodes.push(node); return node; }
    function link(from, out, to, cls) { if (from) { edges.push({from: from, out: out, to: to, cls: cls || ""}); } }
    function stepNode(step, parent) {
      var pending = S.pending && S.pending.step.id === step.id;
      var kind = TYPES[step.type] ? TYPES[step.type].title : step.type;
      var outs = step.type === "branch" ? (step.config.outputs || []).map(function (o) { return o.name; }).concat(["otherwise"]) : null;
      return add({key: "step:" + step.id, cls: "wf-step wf-step-" + step.type + (pending ? " wf-pending" : ""),
        data: {kind: "step", id: step.id}, outputs: step.type === "branch" ? outs.length : 1,
        html: nodeHtml([
          el("div", {className: "wf-node-kind", text: kind + (pending ? " · new, not saved" : "")}),
          el("div", {className: "wf-node-head"}, [el("span", {text: step.title || step.id})]),
          el("div", {className: "wf-node-sub", text: summary(step)}),
          outs ? el("div", {className: "wf-outs"}, outs.map(function (o) { return el("span", {text: o}); })) : null
        ]), parent: parent});
    }
    function chain(steps, from, out, parent) {
      // The steps one after another; a branch fans out into its named outputs, each ending in a slot
      // where a step type can be dropped, and carries on by its "otherwise" output.
      var at = {key: from, out: out};
      (steps || []).forEach(function (step) {
        var node = stepNode(step, parent);
        link(at.key, at.out, node.key, at.cls);
        at = {key: node.key, out: 1};
        if (step.type === "branch") {
          var outputs = step.config.outputs || [];
          outputs.forEach(function (o, n) {
            var end = chain(o.steps, node.key, n + 1, {branch: step.id, output: o.name});
            var slot = add({key: "slot:" + step.id + ":" + o.name, cls: "wf-slot wf-drop", outputs: 0,
              data: {kind: "slot", branch: step.id, output: o.name},
              html: nodeHtml([el("div", {text: "+ add to " + o.name}),
                              el("div", {className: "wf-node-sub", text: S.canEdit ? "drop a step here" : ""})])});
            link(end.key, end.out, slot.key);
          });
          var other = chain(step.config.otherwise, node.key, outputs.length + 1, {branch: step.id, output: "otherwise"});
          at = {key: other.key, out: other.out, cls: other.key === node.key ? "wf-edge-otherwise" : ""};
        }
      });
      return at;
    }
    S.rows.forEach(function (row, n) {
      if (row.step) {
        var s = row.step;
        var node = add({key: "locked:" + s.name, cls: "wf-locked", inputs: n ? 1 : 0, data: {kind: "locked", name: s.name},
          html: nodeHtml([el("div", {className: "wf-node-kind", text: "built-in · locked"}),
                          el("div", {className: "wf-node-head"}, [el("span", {text: s.name})]),
                          el("div", {className: "wf-node-sub", text: s.title})])});
        if (prev) { link(prev.key, prev.out, node.key, prev.cls); }
        prev = {key: node.key, out: 1};
      } else {
        var point = add({key: "point:" + row.point, cls: "wf-point wf-drop", data: {kind: "point", point: row.point},
          html: nodeHtml([el("div", {className: "wf-node-head"}, [el("span", {text: "▸ " + row.point})]),
                          el("div", {className: "wf-node-sub", text: S.canEdit ? "drop a step here" : "insertion point"})])});
        if (prev) { link(prev.key, prev.out, point.key, prev.cls); }
        var atPoint = doc.steps.filter(function (step) { return step.at === row.point; });
        prev = chain(atPoint, point.key, 1, null);
      }
    });
    var used = {};
    edges.forEach(function (e) { used[e.from] = Math.max(used[e.from] || 0, e.out); });
    nodes.forEach(function (node) {
      if (node.outputs === undefined || (node.outputs === 1 && !used[node.key])) { node.outputs = used[node.key] || 0; }
      if (node.inputs === undefined) { node.inputs = 1; }
    });
    return {nodes: nodes, edges: edges};
  }

  function verticalCurve(sx, sy, ex, ey) {
    var dy = Math.max(Math.abs(ey - sy) * 0.5, 24);
    return " M " + sx + " " + sy + " C " + sx + " " + (sy + dy) + " " + ex + " " + (ey - dy) + " " + ex + " " + ey;
  }

  function draw() {
    var box = $("wf-canvas");
    box.textContent = "";
    var editor = new window.Drawflow(box);
    editor.reroute = false;
    editor.curvature = 0.5;
    editor.createCurvature = verticalCurve;
    editor.start();
    editor.editor_mode = "fixed";
    S.editor = editor;
    S.ids = {};
    var graph = buildGraph();
    graph.nodes.forEach(function (node) {
      var id = editor.addNode(node.key, node.inputs, node.outputs, 0, 0, node.cls, {}, node.html);
      S.ids[node.key] = id;
      var element = $("node-" + id);
      element.setAttribute("data-key", node.key);
      Object.keys(node.data).forEach(function (k) { element.setAttribute("data-" + k, node.data[k]); });
      element.setAttribute("data-test", "node-" + node.key);
      if (S.selected && node.data.id === S.selected) { element.classList.add("selected"); }
    });
    // dagre: the measured boxes, ranked from top to bottom.
    var g = new window.dagre.graphlib.Graph();
    g.setGraph({rankdir: "TB", nodesep: 28, ranksep: 28, marginx: 16, marginy: 16});
    g.setDefaultEdgeLabel(function () { return {}; });
    graph.nodes.forEach(function (node) {
      var element = $("node-" + S.ids[node.key]);
      g.setNode(node.key, {width: element.offsetWidth, height: element.offsetHeight});
    });
    graph.edges.forEach(function (e) { g.setEdge(e.from, e.to); });
    window.dagre.layout(g);
    var width = g.graph().width, height = g.graph().height;
    graph.nodes.forEach(function (node) {
      var at = g.node(node.key), id = S.ids[node.key];
      var x = Math.round(at.x - at.width / 2), y = Math.round(at.y - at.height / 2);
      var element = $("node-" + id);
      element.style.left = x + "px";
      element.style.top = y + "px";
      editor.drawflow.drawflow.Home.data[id].pos_x = x;
      editor.drawflow.drawflow.Home.data[id].pos_y = y;
    });
    // Fit the width of the canvas; taller graphs scroll the page, not the canvas.
    var zoom = Math.max(0.5, Math.min(1, (box.clientWidth - 8) / width));
    box.style.height = Math.max(320, Math.ceil(height * zoom) + 16) + "px";
    editor.zoom = zoom;
    editor.zoom_last_value = zoom;
    editor.canvas_x = Math.max(0, Math.round((box.clientWidth - width * zoom) / 2));
    editor.canvas_y = 0;
    editor.precanvas.style.transform = "translate(" + editor.canvas_x + "px, 0px) scale(" + zoom + ")";
    mirrorBranches(graph, g);
    graph.edges.forEach(function (e) {
      editor.addConnection(S.ids[e.from], S.ids[e.to], "output_" + e.out, "input_1");
      if (e.cls) {
        var path = box.querySelector(".connection.node_in_node-" + S.ids[e.to] + ".node_out_node-" + S.ids[e.from]);
        if (path) { path.classList.add(e.cls); }
      }
    });
    box.setAttribute("data-drawn", String(Date.now()));
  }

  function mirrorBranches(graph, g) {
    // dagre orders a branch's paths by itself; its ports follow, so the arrows do not cross.
    graph.nodes.forEach(function (node) {
      if (node.data.kind !== "step" || node.outputs < 2) { return; }
      var xs = {};
      graph.edges.forEach(function (e) { if (e.from === node.key) { xs[e.out] = g.node(e.to).x; } });
      if (xs[1] !== undefined && xs[node.outputs] !== undefined && xs[node.outputs] < xs[1]) {
        $("node-" + S.ids[node.key]).classList.add("wf-mirrored");
      }
    });
  }

  // -- dragging a step type onto a drop target ------------------------------------------------------
  function dropTarget(event) {
    var node = event.target && event.target.closest ? event.target.closest(".drawflow-node.wf-drop") : null;
    return node && $("wf-canvas").contains(node) ? node : null;
  }

  function wireDrops() {
    var box = $("wf-canvas");
    var over = null;
    function clear() { if (over) { over.classList.remove("wf-drop-over"); over = null; } }
    box.addEventListener("dragover", function (event) {
      var target = dropTarget(event);
      clear();
      if (!target || !S.canEdit) { return; }
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      over = target;
      target.classList.add("wf-drop-over");
    });
    box.addEventListener("dragleave", function (event) { if (!box.contains(event.relatedTarget)) { clear(); } });
    box.addEventListener("drop", function (event) {
      var target = dropTarget(event);
      clear();
      document.body.classList.remove("wf-dragging");
      if (!target || !S.canEdit) { return; }
      event.preventDefault();
      var type = event.dataTransfer.getData("text/x-step-type") || event.dataTransfer.getData("text/plain");
      if (!TYPES[type]) { return; }
      dropped(type, target.getAttribute("data-kind") === "slot"
        ? {branch: target.getAttribute("data-branch"), output: target.getAttribute("data-output")}
        : {point: target.getAttribute("data-point")});
    });
    document.querySelectorAll(".wf-type[draggable]").forEach(function (chip) {
      chip.addEventListener("dragstart", function (event) {
        event.dataTransfer.setData("text/x-step-type", chip.getAttribute("data-type"));
        event.dataTransfer.setData("text/plain", chip.getAttribute("data-type"));
        event.dataTransfer.effectAllowed = "copy";
        document.body.classList.add("wf-dragging");
      });
      chip.addEventListener("dragend", function () { document.body.classList.remove("wf-dragging"); });
    });
  }

  function defaults(type, id) {
    switch (type) {
      case "filter": return {rule: {all: [{field: "order.extra.tags", op: "contains", value: "pos-only"}]},
                             reason: "order {{order.number}} is not synced: "};
      case "branch": return {outputs: [{name: "matched", rule: {all: [{field: "order.grand_total", op: ">", value: 1000}]}, steps: []}]};
      case "set": return {target: "vars.note", value: "'…'"};
      case "lookup": return {source: data.lookups[0], input: "order.email", as: "prior"};
      case "hold": return {reason: "Order {{order.number}} needs a look: "};
      case "notify": return {channel: "webhook", url: "", message: "Order {{order.number}} ({{order.grand_total}}) ",
                             binding: "notice", idempotency_key: id + ":{{order.number}}"};
      case "wait": return {seconds: 60};
      case "http": return {method: "POST", url: "", body: "order", binding: "http", idempotency_key: id + ":{{order.number}}"};
    }
    return {};
  }

  function dropped(type, where) {
    var id = freeId(type);
    var step = {id: id, type: type, config: defaults(type, id)};
    if (where.point) { step.at = where.point; }
    S.pending = {step: step, branch: where.branch || null, output: where.output || null};
    S.selected = id;
    draw();
    configure();
    note("Fill in the new step's form, then add it to the draft.", "info");
  }

  // -- the step's form -----------------------------------------------------------------------------
  function field(label, input, hint) {
    return el("label", {}, [label, input, hint ? el("span", {className: "hint", text: hint}) : null]);
  }

  function textInput(name, value, placeholder) {
    return el("input", {name: name, value: value === undefined || value === null ? "" : String(value),
                        placeholder: placeholder || null, "data-field": name});
  }

  function select(name, options, value) {
    var s = el("select", {name: name, "data-field": name}, options.map(function (o) {
      var pair = Array.isArray(o) ? o : [o, o];
      return el("option", {value: pair[0], text: pair[1]});
    }));
    s.value = value === undefined ? (Array.isArray(options[0]) ? options[0][0] : options[0]) : value;
    return s;
  }

  function ruleRows(rule, onChange) {
    // field / operator / value rows joined by AND or OR, as the rule builder on the server reads them.
    rule = rule || {all: [{field: "", op: "=", value: ""}]};
    var join = rule.any ? "any" : "all";
    var parts = (rule.all || rule.any || []).filter(function (p) { return p.field !== undefined; });
    if (!parts.length) { parts = [{field: "", op: "=", value: ""}]; }
    var list = el("div", {className: "wf-rules"});
    var joinSelect = select("join", [["all", "all of these (AND)"], ["any", "any of these (OR)"]], join);
    joinSelect.setAttribute("data-test", "rule-join");
    joinSelect.addEventListener("change", onChange);
    function row(part) {
      var f = textInput("rule_field", part.field, "order.grand_total");
      f.setAttribute("list", "wf-fields");
      var op = select("rule_op", Object.keys(data.operators).map(function (k) { return [k, data.operators[k]]; }), part.op || "=");
      var value = textInput("rule_value", part.value === undefined ? "" : (typeof part.value === "string" ? part.value : JSON.stringify(part.value)), "1000");
      var remove = el("button", {type: "button", className: "link", text: "✕", "aria-label": "remove this condition",
        onclick: function () { line.remove(); onChange(); }});
      var now = el("div", {className: "hint wf-value-now"});
      var line = el("div", {className: "wf-rule-row", "data-test": "rule-row"}, [f, op, value, remove, now]);
      [f, op, value].forEach(function (input) { input.addEventListener("input", onChange); input.addEventListener("change", onChange); });
      return line;
    }
    parts.forEach(function (p) { list.appendChild(row(p)); });
    var more = el("button", {type: "button", text: "+ condition", "data-test": "add-condition",
      onclick: function () { list.appendChild(row({field: "", op: "=", value: ""})); }});
    var wrap = el("div", {className: "wf-rule"}, [joinSelect, list, more]);
    wrap.readRule = function () {
      var out = [];
      list.querySelectorAll(".wf-rule-row").forEach(function (line) {
        var f = line.querySelector("[name=rule_field]").value.trim();
        if (!f) { return; }
        var part = {field: f, op: line.querySelector("[name=rule_op]").value};
        if (data.no_value.indexOf(part.op) < 0) {
          var raw = line.querySelector("[name=rule_value]").value;
          try { part.value = JSON.parse(raw); } catch (e) { part.value = raw; }
        }
        out.push(part);
      });
      if (!out.length) { return null; }
      var rule = {};
      rule[joinSelect.value] = out;
      return rule;
    };
    wrap.rows = function () { return list.querySelectorAll(".wf-rule-row"); };
    return wrap;
  }

  function configure() {
    var panel = $("wf-config");
    panel.textContent = "";
    var doc = withPending();
    var step = S.selected ? findStep(doc, S.selected) : null;
    markList();
    document.body.classList.toggle("wf-configuring", !!step);
    if (!step) { panel.hidden = true; return; }
    panel.hidden = false;
    var pending = S.pending && S.pending.step.id === step.id;
    var c = copy(step.config || {});
    var where = step.at ? "at " + step.at : (function () { var p = parentOf(doc, step.id); return p ? "in " + p.branch.id + " → " + p.output : ""; })();
    var form = el("form", {className: "wf-form", "data-test": "step-form", novalidate: "novalidate"});
    panel.appendChild(el("div", {className: "wf-config-head"}, [
      el("h3", {}, [(pending ? "New step: " : "Step ") + (TYPES[step.type] ? TYPES[step.type].title : step.type),
                    el("span", {className: "hint", text: where})]),
      el("button", {type: "button", className: "wf-close", "aria-label": "close the step's form", text: "✕",
                    onclick: function () { if (pending) { cancel(); } else { S.selected = null; draw(); configure(); } }})]));
    var idInput = textInput("id", step.id);
    if (!pending) { idInput.setAttribute("readonly", "readonly"); }
    form.appendChild(el("div", {className: "wf-two"}, [
      field("Id", idInput, pending ? "lowercase letters, digits, - and _; stays the same once added" : "ids never change"),
      field("Title (optional)", textInput("title", step.title, "shown on the canvas"))]));
    var preview = el("div", {className: "wf-preview", "data-test": "preview"});
    var rules = [];
    var refresh = function () { livePreview(step, form, rules, preview); };
    var body = el("div", {className: "wf-form"});
    form.appendChild(body);
    switch (step.type) {
      case "filter":
        var r = ruleRows(c.rule, refresh);
        rules.push({name: null, builder: r});
        body.appendChild(el("fieldset", {}, [el("legend", {text: "Skip the order when"}), r]));
        body.appendChild(field("Reason (shown on the item)", textInput("reason", c.reason), "text; {{order.number}} puts in a value"));
        break;
      case "branch":
        var outs = el("div", {className: "wf-form"});
        (c.outputs || []).forEach(function (o) { outs.appendChild(outputBox(o, rules, refresh)); });
        body.appendChild(outs);
        body.appendChild(el("div", {className: "wf-buttons"}, [el("button", {type: "button", text: "+ output", onclick: function () {
          outs.appendChild(outputBox({name: "output_" + (outs.children.length + 1), rule: null}, rules, refresh));
        }}), el("span", {className: "hint", text: "The first output whose condition holds is taken; otherwise the flow goes on."})]));
        break;
      case "set":
        body.appendChild(el("div", {className: "wf-two"}, [
          field("Field", textInput("target", c.target, "vars.note or order.shipping_method"), "vars.NAME, order.FIELD or order.extra.NAME"),
          field("Value (JSONata)", textInput("value", c.value, "'express'"), "text in quotes: 'express'")]));
        break;
      case "lookup":
        body.appendChild(el("div", {className: "wf-two"}, [
          field("Look up", select("source", data.lookups, c.source)),
          field("Of (JSONata)", textInput("input", c.input, "order.email")),
          field("As", textInput("as", c.as, "prior"), "the answer is vars.<as>")]));
        break;
      case "hold":
        body.appendChild(field("Reason (shown to whoever reviews it)", textInput("reason", c.reason), "{{order.number}} puts in a value"));
        break;
      case "notify":
        var channel = select("channel", data.channels, c.channel || "webhook");
        body.appendChild(el("div", {className: "wf-two"}, [field("Channel", channel),
          field("URL", textInput("url", c.url, "https://…"), "a webhook (signed); for Slack name the setting below"),
          field("or the setting that holds the URL", textInput("url_setting", c.url_setting, "ALERT_SLACK_WEBHOOK_URL")),
          field("To (email)", textInput("to", c.to, "risk@example.com"))]));
        body.appendChild(field("Text", textInput("message", c.message), "{{order.number}} puts in a value"));
        body.appendChild(el("div", {className: "wf-two"}, [
          field("Recorded as (binding)", textInput("binding", c.binding || "notice")),
          field("Sent once per (idempotency key)", textInput("idempotency_key", c.idempotency_key), "a retry with the same key is not sent again")]));
        break;
      case "wait":
        body.appendChild(field("Seconds", textInput("seconds", c.seconds)));
        break;
      case "http":
        body.appendChild(el("div", {className: "wf-two"}, [field("Method", select("method", ["POST", "PUT", "PATCH", "GET"], String(c.method || "POST").toUpperCase())),
          field("URL", textInput("url", c.url, "https://…")), field("Body (JSONata)", textInput("body", c.body, "order")),
          field("Answer as (optional)", textInput("as", c.as)), field("Binding", textInput("binding", c.binding || "http")),
          field("Idempotency key", textInput("idempotency_key", c.idempotency_key))]));
        break;
    }
    form.appendChild(field("When the step fails", select("on_failure", [["dead_letter", "dead letter (retried by the engine)"],
      ["review", "hold the order for review"]].concat(step.on_failure === "notify" ? [["notify", "notify"]] : []), step.on_failure || "dead_letter")));
    if (rules.length || /reason|message/.test(Object.keys(c).join(" "))) { form.appendChild(previewBox(preview, refresh)); }
    var buttons = el("div", {className: "wf-buttons"});
    if (S.canEdit) {
      buttons.appendChild(el("button", {type: "submit", className: "primary", "data-test": "save-step",
                                        text: pending ? "Add to the draft" : "Save the step"}));
      buttons.appendChild(el("button", {type: "button", "data-test": pending ? "cancel-step" : "remove-step",
        text: pending ? "Cancel" : "Remove the step", onclick: function () { pending ? cancel() : remove(step.id); }}));
    }
    form.appendChild(buttons);
    form.addEventListener("submit", function (event) { event.preventDefault(); submit(step, form, rules, pending); });
    form.addEventListener("input", function (event) { if (event.target.name !== "rule_field") { refresh(); } });
    panel.appendChild(form);
    panel.scrollTop = 0;
    if (!S.canEdit) { form.querySelectorAll("input, select, button").forEach(function (i) { i.disabled = true; }); }
    refresh();
  }

  function outputBox(output, rules, refresh) {
    var name = textInput("output_name", output.name);
    var builder = ruleRows(output.rule, refresh);
    var entry = {name: name, builder: builder, output: output};
    rules.push(entry);
    var box = el("fieldset", {"data-test": "output"}, [el("legend", {text: "Output"}), field("Name", name), builder]);
    name.addEventListener("input", refresh);
    return box;
  }

  function configFrom(step, form, rules) {
    var c = copy(step.config || {});
    form.querySelectorAll("[data-field]").forEach(function (input) {
      var key = input.getAttribute("data-field");
      if (["id", "title", "on_failure", "join", "rule_field", "rule_op", "rule_value", "output_name"].indexOf(key) >= 0) { return; }
      var value = input.value.trim();
      if (key === "seconds" && value !== "") { value = Number(value); }
      if (value === "") { delete c[key]; } else { c[key] = value; }
    });
    if (step.type === "filter") {
      var rule = rules[0].builder.readRule();
      if (rule) { c.rule = rule; delete c.when; } else { delete c.rule; }
    }
    if (step.type === "branch") {
      var old = {};
      (c.outputs || []).forEach(function (o) { old[o.name] = o; });
      c.outputs = rules.map(function (entry) {
        var previous = entry.output || {};
        var out = copy(previous);
        out.name = entry.name.value.trim();
        out.steps = previous.steps || [];
        var r = entry.builder.readRule();
        if (r) { out.rule = r; delete out.when; } else { delete out.rule; }
        return out;
      });
    }
    return c;
  }

  // -- saving -------------------------------------------------------------------------------------------
  function save(doc, done) {
    return api("POST", "/draft", {document: doc, base_revision: S.revision}).then(function (answer) {
      if (!answer.ok) {
        var stale = answer.status === 409;
        note((stale ? "Not saved: " : "Not saved: ") + (answer.data.message || answer.status) +
             (stale ? " Reload the page to see their changes." : ""), "error", answer.data.problems);
        return false;
      }
      S.revision = answer.data.revision;
      note(done + " Draft version " + answer.data.number + ", revision " + answer.data.revision + ".", "ok");
      return load().then(refreshList).then(function () { return true; });
    });
  }

  function submit(step, form, rules, pending) {
    var doc = withPending();
    var target = findStep(doc, step.id);
    var id = form.querySelector("[name=id]").value.trim();
    target.config = configFrom(step, form, rules);
    var title = form.querySelector("[name=title]").value.trim();
    if (title) { target.title = title; } else { delete target.title; }
    var failure = form.querySelector("[name=on_failure]").value;
    if (failure === "dead_letter") { delete target.on_failure; } else { target.on_failure = failure; }
    if (pending) { target.id = id; }
    save(doc, (pending ? "Added step " : "Saved step ") + JSON.stringify(id) + " to the draft.").then(function (ok) {
      if (ok) { if (pending) { S.pending = null; } S.selected = id; draw(); configure(); }
    });
  }

  function cancel() { S.pending = null; S.selected = null; draw(); configure(); note(""); }

  function remove(id) {
    var doc = copy(S.document);
    var parent = parentOf(doc, id);
    var list = parent ? (parent.output === "otherwise" ? parent.branch.config.otherwise
      : parent.branch.config.outputs.filter(function (o) { return o.name === parent.output; })[0].steps) : doc.steps;
    for (var n = 0; n < list.length; n++) { if (list[n].id === id) { list.splice(n, 1); break; } }
    save(doc, "Removed step " + JSON.stringify(id) + " from the draft.").then(function (ok) {
      if (ok) { S.selected = null; draw(); configure(); }
    });
  }

  function load() {
    return api("GET", "/state").then(function (answer) {
      if (!answer.ok) { note("Could not read the workflow: " + (answer.data.message || answer.status), "error"); return; }
      S.rows = answer.data.rows;
      S.document = answer.data.document;
      S.document.steps = S.document.steps || [];
      S.revision = answer.data.draft ? answer.data.draft.revision : null;
    });
  }

  function refreshList() {
    // The stacked list and the status line are the server's: fetch the page again and swap them in,
    // so what the forms post (the draft revision) matches what the canvas saved.
    return fetch(S.base, {credentials: "same-origin"}).then(function (r) { return r.text(); }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html");
      ["wf-list"].forEach(function (id) {
        var now = fresh.getElementById(id);
        if (now && $(id)) { $(id).innerHTML = now.innerHTML; }
      });
      var status = fresh.querySelector("[data-test=status]");
      if (status) { document.querySelector("[data-test=status]").innerHTML = status.innerHTML; }
      document.querySelectorAll("input[name=base_revision]").forEach(function (input) { input.value = S.revision || ""; });
      var publish = document.querySelector("form[action$='/publish'] button");
      if (publish) { publish.disabled = false; }
      var discard = document.querySelector("form[action$='/discard'] button");
      if (discard) { discard.disabled = false; }
      markList();
    });
  }

  function markList() {
    document.querySelectorAll(".wf-added > li").forEach(function (li) {
      li.classList.toggle("wf-selected", li.getAttribute("data-step") === S.selected);
    });
  }

  // -- the live preview: the condition on a real order, in the browser ------------------------------
  function previewBox(preview, refresh) {
    var pick = el("select", {"data-test": "sample"}, [el("option", {value: "", text: data.recent.length ? "pick an order" : "no orders yet"})]
      .concat(data.recent.map(function (r) { return el("option", {value: String(r.id), text: "item " + r.id + " · " + r.label + " · " + r.state}); })));
    if (S.sampleItem) { pick.value = String(S.sampleItem); } else if (data.recent.length) { pick.value = String(data.recent[0].id); S.sampleItem = data.recent[0].id; }
    pick.addEventListener("change", function () { S.sampleItem = pick.value ? Number(pick.value) : null; refresh(); });
    return el("div", {className: "wf-form"}, [field("Preview on a recent order", pick), preview]);
  }

  function anchorFor(step) {
    // The saved step the preview stops before: the step itself once saved; for a new step at a point,
    // the flow's next step after that point; inside a branch, the branch.
    var pending = S.pending && S.pending.step.id === step.id;
    if (!pending) { return step.id; }
    if (S.pending.branch) { return S.pending.branch; }
    var seen = false;
    for (var n = 0; n < S.rows.length; n++) {
      if (S.rows[n].point === step.at) { seen = true; continue; }
      if (seen && S.rows[n].step) { return S.rows[n].step.name; }
      if (seen && S.rows[n].point) { continue; }
    }
    return "";
  }

  function sampleDoc(step) {
    var key = S.sampleItem + "|" + anchorFor(step) + "|" + S.revision;
    if (!S.samples[key]) {
      S.samples[key] = api("GET", "/sample?item=" + S.sampleItem + "&step=" + encodeURIComponent(anchorFor(step)))
        .then(function (answer) {
          if (!answer.ok) { delete S.samples[key]; throw new Error(answer.data.message || String(answer.status)); }
          return answer.data;
        });
    }
    return S.samples[key];
  }

  function truthy(value) {
    if (Array.isArray(value)) { return value.some(function (v) { return !!v; }); }
    return !!value && !(typeof value === "object" && Object.keys(value).length === 0);
  }

  function evaluate(expression, doc) {
    try { return Promise.resolve(window.jsonata(expression).evaluate(doc)); } catch (e) { return Promise.reject(e); }
  }

  function render(template, doc) {
    var parts = String(template || "").split(/\{\{([\s\S]+?)\}\}/);
    return Promise.all(parts.map(function (part, n) {
      if (n % 2 === 0) { return part; }
      return evaluate(part, doc).then(function (v) { return v === undefined || v === null ? "" : String(v); });
    })).then(function (out) { return out.join(""); });
  }

  var previewSeq = 0;
  function livePreview(step, form, rules, preview) {
    if (!window.jsonata || !preview.isConnected && !form.isConnected) { return; }
    var seq = ++previewSeq;
    if (!S.sampleItem) { preview.textContent = "Pick an order to see what this step does with it."; return; }
    var conditions = rules.map(function (entry) {
      var rule = entry.builder.readRule();
      return {name: entry.name ? entry.name.value.trim() : null, rule: rule, builder: entry.builder,
              expression: rule ? toJsonata(rule) : ""};
    });
    var texts = ["reason", "message"].map(function (k) {
      var input = form.querySelector("[data-field=" + k + "]");
      return input ? {key: k, text: input.value} : null;
    }).filter(Boolean);
    preview.textContent = "Reading the order…";
    sampleDoc(step).then(function (sample) {
      var doc = sample.document;
      var jobs = conditions.map(function (cond) {
        var fields = [];
        cond.builder.rows().forEach(function (line) {
          var f = line.querySelector("[name=rule_field]").value.trim();
          fields.push(f ? evaluate(f, doc).then(function (v) { return {line: line, text: f + " is " + (v === undefined ? "missing" : JSON.stringify(v))}; },
                                                function (e) { return {line: line, text: f + ": " + (e.message || e)}; })
                        : Promise.resolve({line: line, text: ""}));
        });
        var verdict = cond.expression ? evaluate(cond.expression, doc).then(function (v) { return {value: truthy(v)}; },
                                                                           function (e) { return {error: e.message || String(e)}; })
          : Promise.resolve({error: "no condition yet"});
        return Promise.all([verdict, Promise.all(fields)]).then(function (r) { return {cond: cond, verdict: r[0], fields: r[1]}; });
      });
      var filled = texts.map(function (t) {
        return render(t.text, doc).then(function (v) { return {key: t.key, value: v}; },
                                        function (e) { return {key: t.key, error: e.message || String(e)}; });
      });
      return Promise.all([Promise.all(jobs), Promise.all(filled)]).then(function (r) {
        if (seq !== previewSeq) { return; }
        preview.textContent = "";
        preview.appendChild(el("div", {className: "hint", text: "Item " + sample.item + " (" + sample.label + "), " + sample.at + "."}));
        var chosen = null;
        r[0].forEach(function (job) {
          job.fields.forEach(function (f) { var now = f.line.querySelector(".wf-value-now"); if (now) { now.textContent = f.text; } });
          var said = job.verdict.error ? el("span", {className: "wf-false", text: "cannot be evaluated: " + job.verdict.error})
            : el("span", {className: job.verdict.value ? "wf-true" : "wf-false", text: job.verdict.value ? "true" : "false"});
          if (!job.verdict.error && job.verdict.value && chosen === null) { chosen = job.cond.name; }
          preview.appendChild(el("div", {"data-test": "verdict"}, [el("span", {className: "wf-verdict"}, [
            (job.cond.name ? "Output " + job.cond.name + ": " : "The condition is "), said]),
            job.cond.expression ? el("div", {className: "hint"}, ["JSONata: ", el("code", {text: job.cond.expression})]) : null]));
        });
        if (step.type === "filter" && r[0].length && !r[0][0].verdict.error) {
          preview.appendChild(el("div", {text: r[0][0].verdict.value ? "This order would be skipped." : "This order would go on."}));
        }
        if (step.type === "branch" && r[0].length) {
          preview.appendChild(el("div", {"data-test": "branch-choice", text: chosen !== null ? "This order would take " + chosen + "."
            : "No output matches: this order would go on (otherwise)."}));
        }
        r[1].forEach(function (t) {
          preview.appendChild(el("div", {}, [t.key === "reason" ? "Reason: " : "Text: ",
            t.error ? el("span", {className: "wf-false", text: t.error}) : el("q", {"data-test": "rendered-" + t.key, text: t.value})]));
        });
      });
    }).catch(function (e) { if (seq === previewSeq) { preview.textContent = "No preview: " + (e.message || e); } });
  }

  // -- clicks on the canvas ------------------------------------------------------------------------------
  function wireClicks() {
    $("wf-canvas").addEventListener("click", function (event) {
      var node = event.target.closest ? event.target.closest(".drawflow-node") : null;
      if (!node) { return; }
      var kind = node.getAttribute("data-kind");
      if (kind === "step") {
        if (S.pending && node.getAttribute("data-id") !== S.pending.step.id) { S.pending = null; }
        S.selected = node.getAttribute("data-id");
        draw();
        configure();
      } else if (kind === "locked") {
        var row = S.rows.filter(function (r) { return r.step && r.step.name === node.getAttribute("data-name"); })[0];
        S.selected = null;
        configure();
        note("🔒 " + row.step.name + ": " + row.step.title + (row.step.effect ? " (changes " + row.step.effect + "; once: " +
             row.step.idempotency + ")" : "") + ". The flow's own steps cannot be changed.", "info");
      } else if (S.canEdit) {
        note("Drag a step type from the palette onto this box to add a step here.", "info");
      }
    });
  }

  document.body.appendChild(el("datalist", {id: "wf-fields"}, FIELDS.map(function (f) { return el("option", {value: f}); })));
  wireDrops();
  wireClicks();
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { if (S.document) { draw(); } }, 150);
  });
  load().then(function () { draw(); });
}());
